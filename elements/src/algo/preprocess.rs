//! Builds a model's input tensor (planar CHW f32) straight from a frame in its own format:
//! bilinear resize, placement (letterbox centred, pad bottom/right, or stretch), channel
//! order and scaling in one pass, with no intermediate RGB image.

use super::frame::{Frame, RowConverter};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChannelOrder {
    Rgb,
    Bgr,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// Keep aspect ratio, image at the top-left, pad right and bottom.
    TopLeft,
    /// Keep aspect ratio, image centred (YOLO letterbox).
    Centered,
    /// Fill the whole input, each axis scaled on its own.
    Stretch,
}

/// What a model wants as input.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct InputSpec {
    pub width: usize,
    pub height: usize,
    pub order: ChannelOrder,
    /// Multiplier applied to 0..255 pixel values (1.0 or 1/255).
    pub scale: f32,
    pub placement: Placement,
    /// Value (after scaling) of the padded area.
    pub pad: f32,
    /// For TopLeft/Centered: the size the image is resized to inside the input; computed by
    /// `with_content_scale` or left 0 to fit the whole input.
    pub content_width: usize,
    pub content_height: usize,
}

/// Maps model-input coordinates back to frame coordinates: frame = (model - offset) / scale.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Mapping {
    pub scale_x: f32,
    pub scale_y: f32,
    pub offset_x: f32,
    pub offset_y: f32,
}

impl Mapping {
    pub fn to_frame(&self, x: f32, y: f32) -> [f32; 2] {
        [
            (x - self.offset_x) / self.scale_x,
            (y - self.offset_y) / self.scale_y,
        ]
    }
}

impl InputSpec {
    /// Where the frame lands in the input and how to map back.
    pub fn layout(&self, frame_w: usize, frame_h: usize) -> (usize, usize, usize, usize, Mapping) {
        let (fw, fh) = (frame_w as f32, frame_h as f32);
        let (cw, ch) = match self.placement {
            Placement::Stretch => (self.width, self.height),
            _ if self.content_width > 0 && self.content_height > 0 => (
                self.content_width.min(self.width),
                self.content_height.min(self.height),
            ),
            _ => {
                let r = (self.width as f32 / fw).min(self.height as f32 / fh);
                (
                    ((fw * r) as usize).clamp(1, self.width),
                    ((fh * r) as usize).clamp(1, self.height),
                )
            }
        };
        let (left, top) = match self.placement {
            Placement::Centered => ((self.width - cw) / 2, (self.height - ch) / 2),
            _ => (0, 0),
        };
        let mapping = Mapping {
            scale_x: cw as f32 / fw,
            scale_y: ch as f32 / fh,
            offset_x: left as f32,
            offset_y: top as f32,
        };
        (left, top, cw, ch, mapping)
    }
}

/// Reusable buffers for `fill_tensor` (one per detector, so no per-frame allocation).
#[derive(Debug, Default)]
pub struct Preprocessor {
    /// One source row as R, G, B planes (full frame width).
    source: [Vec<f32>; 3],
    /// Two source rows resampled to the content width, as R, G, B planes each.
    rows: [[Vec<f32>; 3]; 2],
    row_index: [Option<usize>; 2],
    columns: Vec<(usize, usize, f32)>,
}

/// Source sample positions for output pixel `i` with pixel centres aligned (as OpenCV's
/// INTER_LINEAR): the two neighbours and the weight of the second.
fn source_position(i: usize, scale: f32, len: usize) -> (usize, usize, f32) {
    let s = ((i as f32 + 0.5) / scale - 0.5).clamp(0.0, (len - 1) as f32);
    let i0 = s.floor() as usize;
    (i0, (i0 + 1).min(len - 1), s - i0 as f32)
}

impl Preprocessor {
    pub fn new() -> Preprocessor {
        Preprocessor::default()
    }

    /// Converts source row `y` and resamples it to the content width into slot `slot`.
    fn load_row(&mut self, rows: &RowConverter, y: usize, slot: usize) {
        let [dr, dg, db] = &mut self.rows[slot];
        if self.columns.is_empty() {
            // Same width as the frame: no horizontal resampling.
            rows.row_planar(y, [dr, dg, db]);
        } else {
            let [sr, sg, sb] = &mut self.source;
            rows.row_planar(y, [sr, sg, sb]);
            for (src, dst) in [(&*sr, dr), (&*sg, dg), (&*sb, db)] {
                for (d, &(x0, x1, wx)) in dst.iter_mut().zip(&self.columns) {
                    *d = src[x0] + (src[x1] - src[x0]) * wx;
                }
            }
        }
        self.row_index[slot] = Some(y);
    }

    /// Makes slot 0 hold source row `y0` and slot 1 row `y1` (`None`: not needed),
    /// converting only what changed.
    fn load_rows(&mut self, rows: &RowConverter, y0: usize, y1: Option<usize>) {
        if self.row_index[0] != Some(y0) {
            if self.row_index[1] == Some(y0) {
                self.rows.swap(0, 1);
                self.row_index.swap(0, 1);
            } else {
                self.load_row(rows, y0, 0);
            }
        }
        if let Some(y1) = y1
            && self.row_index[1] != Some(y1)
        {
            self.load_row(rows, y1, 1);
        }
    }

    /// Fills `out` (resized to 3*H*W) with the frame laid out as `spec` asks and returns
    /// how to map the model's coordinates back to the frame.
    ///
    /// Separable bilinear: each source row is converted to RGB and resampled horizontally
    /// once (cached for the next output row), then output rows are blended vertically,
    /// plane by plane.
    pub fn fill_tensor(&mut self, frame: &Frame, spec: &InputSpec, out: &mut Vec<f32>) -> Mapping {
        let (w, h) = (spec.width, spec.height);
        let plane = w * h;
        let (left, top, cw, ch, mapping) = spec.layout(frame.width, frame.height);
        // Only the padding is written here: the image area is overwritten below, and at
        // 1080p a full clear is a 25 MB write per frame.
        out.resize(3 * plane, spec.pad);
        for p in out.chunks_exact_mut(plane) {
            p[..top * w].fill(spec.pad);
            p[(top + ch) * w..].fill(spec.pad);
            for row in p[top * w..(top + ch) * w].chunks_exact_mut(w) {
                row[..left].fill(spec.pad);
                row[left + cw..].fill(spec.pad);
            }
        }
        let rows = RowConverter::new(frame);
        let scale = spec.scale;

        if cw == frame.width && ch == frame.height {
            // Same size (the face model at 1x): convert straight into the tensor.
            let (p0, rest) = out.split_at_mut(plane);
            let (p1, p2) = rest.split_at_mut(plane);
            let (r, g, b) = match spec.order {
                ChannelOrder::Rgb => (p0, p1, p2),
                ChannelOrder::Bgr => (p2, p1, p0),
            };
            for y in 0..ch {
                let span = (top + y) * w + left..(top + y) * w + left + cw;
                let dst = [&mut r[span.clone()], &mut g[span.clone()], &mut b[span]];
                rows.row_planar(y, dst);
            }
            if scale != 1.0 {
                for p in out.chunks_exact_mut(plane) {
                    for row in p[top * w..(top + ch) * w].chunks_exact_mut(w) {
                        for d in &mut row[left..left + cw] {
                            *d *= scale;
                        }
                    }
                }
            }
            return mapping;
        }

        self.columns.clear();
        if cw != frame.width {
            self.columns
                .extend((0..cw).map(|x| source_position(x, mapping.scale_x, frame.width)));
        }
        for c in &mut self.source {
            c.resize(frame.width, 0.0);
        }
        for c in self.rows.iter_mut().flatten() {
            c.resize(cw, 0.0);
        }
        self.row_index = [None, None];
        // Output plane of R, G and B.
        let planes: [usize; 3] = match spec.order {
            ChannelOrder::Rgb => [0, 1, 2],
            ChannelOrder::Bgr => [2, 1, 0],
        };
        for oy in 0..ch {
            let (y0, y1, wy) = if ch == frame.height {
                (oy, oy, 0.0)
            } else {
                source_position(oy, mapping.scale_y, frame.height)
            };
            self.load_rows(&rows, y0, (wy != 0.0).then_some(y1));
            let base = (top + oy) * w + left;
            for (c, &dst_plane) in planes.iter().enumerate() {
                let dst = &mut out[dst_plane * plane + base..dst_plane * plane + base + cw];
                let (a, b) = (&self.rows[0][c], &self.rows[1][c]);
                if wy == 0.0 {
                    for (d, &a) in dst.iter_mut().zip(a) {
                        *d = a * scale;
                    }
                } else {
                    for ((d, &a), &b) in dst.iter_mut().zip(a).zip(b) {
                        *d = (a + (b - a) * wy) * scale;
                    }
                }
            }
        }
        mapping
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::algo::frame::{OwnedFrame, PixelFormat, YuvMatrix};

    fn spec(w: usize, h: usize, placement: Placement) -> InputSpec {
        InputSpec {
            width: w,
            height: h,
            order: ChannelOrder::Rgb,
            scale: 1.0,
            placement,
            pad: -1.0,
            content_width: 0,
            content_height: 0,
        }
    }

    fn flat(w: usize, h: usize, rgb: [u8; 3]) -> OwnedFrame {
        let data: Vec<u8> = (0..w * h).flat_map(|_| rgb).collect();
        OwnedFrame::from_rgb(PixelFormat::Rgb, w, h, &data, YuvMatrix::BT601)
    }

    #[test]
    fn centered_letterbox_pads_both_sides() {
        let frame = flat(8, 4, [10, 20, 30]);
        let mut out = Vec::new();
        let m = Preprocessor::new().fill_tensor(
            &frame.view(),
            &spec(8, 8, Placement::Centered),
            &mut out,
        );
        assert_eq!(
            m,
            Mapping {
                scale_x: 1.0,
                scale_y: 1.0,
                offset_x: 0.0,
                offset_y: 2.0
            }
        );
        // Rows 0-1 and 6-7 are padding, rows 2-5 the image; channel planes in RGB order.
        assert_eq!(out[0], -1.0);
        assert_eq!(out[2 * 8], 10.0);
        assert_eq!(out[64 + 5 * 8 + 7], 20.0);
        assert_eq!(out[128 + 6 * 8], -1.0);
    }

    #[test]
    fn top_left_bgr_scaled() {
        let frame = flat(4, 4, [10, 20, 30]);
        let mut s = spec(8, 8, Placement::TopLeft);
        s.order = ChannelOrder::Bgr;
        s.scale = 0.5;
        s.content_width = 6;
        s.content_height = 6;
        let mut out = Vec::new();
        let m = Preprocessor::new().fill_tensor(&frame.view(), &s, &mut out);
        assert_eq!(m.scale_x, 1.5);
        assert_eq!(m.to_frame(3.0, 3.0), [2.0, 2.0]);
        assert_eq!(out[0], 15.0); // B first
        assert_eq!(out[128], 5.0); // R last
        assert_eq!(out[5 * 8 + 5], 15.0);
        assert_eq!(out[6 * 8 + 6], -1.0);
    }

    #[test]
    fn bilinear_upscale_interpolates() {
        // Two columns 0 and 200: a 2x upscale gives 0, 50, 150, 200 across.
        let frame = OwnedFrame::from_rgb(
            PixelFormat::Rgb,
            2,
            1,
            &[0, 0, 0, 200, 200, 200],
            YuvMatrix::BT601,
        );
        let mut out = Vec::new();
        Preprocessor::new().fill_tensor(&frame.view(), &spec(4, 2, Placement::Stretch), &mut out);
        assert_eq!(&out[..4], &[0.0, 50.0, 150.0, 200.0]);
        assert_eq!(&out[4..8], &[0.0, 50.0, 150.0, 200.0]);
    }

    /// Textbook bilinear, pixel by pixel, from `row_rgb`: what the separable, cached
    /// implementation must reproduce.
    fn reference(frame: &Frame, spec: &InputSpec) -> Vec<f32> {
        let (w, h) = (spec.width, spec.height);
        let (left, top, cw, ch, m) = spec.layout(frame.width, frame.height);
        let mut rows = vec![vec![0.0; 3 * frame.width]; frame.height];
        for (y, row) in rows.iter_mut().enumerate() {
            frame.row_rgb(y, row);
        }
        let planes = match spec.order {
            ChannelOrder::Rgb => [0, 1, 2],
            ChannelOrder::Bgr => [2, 1, 0],
        };
        let mut out = vec![spec.pad; 3 * w * h];
        for oy in 0..ch {
            let (y0, y1, wy) = source_position(oy, m.scale_y, frame.height);
            for ox in 0..cw {
                let (x0, x1, wx) = source_position(ox, m.scale_x, frame.width);
                for c in 0..3 {
                    let p = |x: usize, y: usize| rows[y][3 * x + c];
                    let a = p(x0, y0) + (p(x1, y0) - p(x0, y0)) * wx;
                    let b = p(x0, y1) + (p(x1, y1) - p(x0, y1)) * wx;
                    out[planes[c] * w * h + (top + oy) * w + left + ox] =
                        (a + (b - a) * wy) * spec.scale;
                }
            }
        }
        out
    }

    #[test]
    fn matches_textbook_bilinear_at_every_scale() {
        let (w, h) = (53, 31);
        // Busy content (not smooth), so any misplaced tap shows.
        let rgb: Vec<u8> = (0..w * h * 3).map(|i| ((i * 7919) % 251) as u8).collect();
        let mut pre = Preprocessor::new();
        for format in [
            PixelFormat::Rgb,
            PixelFormat::I420,
            PixelFormat::Nv12,
            PixelFormat::Bgrx,
        ] {
            let frame = OwnedFrame::from_rgb(format, w, h, &rgb, YuvMatrix::BT709);
            let view = frame.view();
            // Identity, 2x up, ~3x down, odd non-integer scales, stretch; both orders.
            for (sw, sh, placement, cw, ch) in [
                (64, 32, Placement::TopLeft, 53, 31),
                (128, 64, Placement::TopLeft, 106, 62),
                (32, 32, Placement::Centered, 0, 0),
                (96, 96, Placement::Centered, 0, 0),
                (40, 50, Placement::Stretch, 0, 0),
                (64, 64, Placement::TopLeft, 53, 40),
            ] {
                for order in [ChannelOrder::Rgb, ChannelOrder::Bgr] {
                    let s = InputSpec {
                        order,
                        scale: 1.0 / 255.0,
                        content_width: cw,
                        content_height: ch,
                        ..spec(sw, sh, placement)
                    };
                    let mut out = Vec::new();
                    pre.fill_tensor(&view, &s, &mut out);
                    let want = reference(&view, &s);
                    let worst = out
                        .iter()
                        .zip(&want)
                        .map(|(a, b)| (a - b).abs())
                        .fold(0.0, f32::max);
                    assert!(
                        worst < 1e-5,
                        "{format:?} {sw}x{sh} {placement:?} {order:?}: off by {worst}"
                    );
                }
            }
        }
    }

    #[test]
    fn every_format_matches_the_rgb_path() {
        // A smooth gradient: subsampled chroma then differs little from the RGB reference.
        let (w, h) = (37, 23);
        let rgb: Vec<u8> = (0..h)
            .flat_map(|y| (0..w).map(move |x| (x, y)))
            .flat_map(|(x, y)| [(x * 6) as u8, (y * 10) as u8, ((x + y) * 4) as u8])
            .collect();
        let s = spec(64, 64, Placement::Centered);
        let mut reference = Vec::new();
        let mut pre = Preprocessor::new();
        pre.fill_tensor(
            &OwnedFrame::from_rgb(PixelFormat::Rgb, w, h, &rgb, YuvMatrix::BT601).view(),
            &s,
            &mut reference,
        );
        for format in PixelFormat::ALL {
            if format == PixelFormat::Gray8 {
                continue;
            }
            let frame = OwnedFrame::from_rgb(format, w, h, &rgb, YuvMatrix::BT709);
            let mut out = Vec::new();
            pre.fill_tensor(&frame.view(), &s, &mut out);
            let worst = out
                .iter()
                .zip(&reference)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f32::max);
            assert!(worst <= 12.0, "{format:?}: worst difference {worst}");
        }
    }
}
