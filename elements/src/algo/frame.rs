//! A borrowed view of one raw video frame in any of the formats the elements accept,
//! and the conversion of one of its rows to RGB (the only colour path preprocessing needs).

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PixelFormat {
    I420,
    Nv12,
    Rgb,
    Bgr,
    Rgba,
    Bgra,
    Rgbx,
    Bgrx,
    Gray8,
}

impl PixelFormat {
    pub const ALL: [PixelFormat; 9] = [
        PixelFormat::I420,
        PixelFormat::Nv12,
        PixelFormat::Rgb,
        PixelFormat::Bgr,
        PixelFormat::Rgba,
        PixelFormat::Bgra,
        PixelFormat::Rgbx,
        PixelFormat::Bgrx,
        PixelFormat::Gray8,
    ];

    pub fn n_planes(self) -> usize {
        match self {
            PixelFormat::I420 => 3,
            PixelFormat::Nv12 => 2,
            _ => 1,
        }
    }

    /// For packed RGB formats: bytes per pixel and the byte offsets of R, G and B.
    pub fn packed_layout(self) -> Option<(usize, [usize; 3])> {
        match self {
            PixelFormat::Rgb => Some((3, [0, 1, 2])),
            PixelFormat::Bgr => Some((3, [2, 1, 0])),
            PixelFormat::Rgba | PixelFormat::Rgbx => Some((4, [0, 1, 2])),
            PixelFormat::Bgra | PixelFormat::Bgrx => Some((4, [2, 1, 0])),
            _ => None,
        }
    }

    /// Bytes of plane `plane` needed for one row of `width` pixels, and the number of rows.
    pub fn plane_extent(self, plane: usize, width: usize, height: usize) -> (usize, usize) {
        let (cw, ch) = (width.div_ceil(2), height.div_ceil(2));
        match (self, plane) {
            (PixelFormat::I420 | PixelFormat::Nv12, 0) | (PixelFormat::Gray8, 0) => (width, height),
            (PixelFormat::I420, _) => (cw, ch),
            (PixelFormat::Nv12, _) => (2 * cw, ch),
            (f, _) => (f.packed_layout().map_or(1, |l| l.0) * width, height),
        }
    }
}

/// How YUV maps to RGB: luma coefficients of R and B, and whether Y spans 0..255
/// (JPEG) or 16..235 (video).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct YuvMatrix {
    pub kr: f32,
    pub kb: f32,
    pub full_range: bool,
}

impl YuvMatrix {
    pub const BT601: YuvMatrix = YuvMatrix {
        kr: 0.299,
        kb: 0.114,
        full_range: false,
    };
    pub const BT709: YuvMatrix = YuvMatrix {
        kr: 0.2126,
        kb: 0.0722,
        full_range: false,
    };
    pub const BT2020: YuvMatrix = YuvMatrix {
        kr: 0.2627,
        kb: 0.0593,
        full_range: false,
    };
    pub const JPEG: YuvMatrix = YuvMatrix {
        kr: 0.299,
        kb: 0.114,
        full_range: true,
    };

    #[inline]
    pub fn to_rgb(&self, y: u8, u: u8, v: u8) -> [f32; 3] {
        let (y, cb, cr) = if self.full_range {
            (y as f32, u as f32 - 128.0, v as f32 - 128.0)
        } else {
            (
                (y as f32 - 16.0) * (255.0 / 219.0),
                (u as f32 - 128.0) * (255.0 / 224.0),
                (v as f32 - 128.0) * (255.0 / 224.0),
            )
        };
        let r = y + 2.0 * (1.0 - self.kr) * cr;
        let b = y + 2.0 * (1.0 - self.kb) * cb;
        let g = (y - self.kr * r - self.kb * b) / (1.0 - self.kr - self.kb);
        [
            r.clamp(0.0, 255.0),
            g.clamp(0.0, 255.0),
            b.clamp(0.0, 255.0),
        ]
    }

    #[inline]
    pub fn from_rgb(&self, rgb: [u8; 3]) -> [u8; 3] {
        let [r, g, b] = rgb.map(f32::from);
        let y = self.kr * r + (1.0 - self.kr - self.kb) * g + self.kb * b;
        let cb = (b - y) / (2.0 * (1.0 - self.kb));
        let cr = (r - y) / (2.0 * (1.0 - self.kr));
        let (y, cb, cr) = if self.full_range {
            (y, cb + 128.0, cr + 128.0)
        } else {
            (
                16.0 + y * 219.0 / 255.0,
                128.0 + cb * 224.0 / 255.0,
                128.0 + cr * 224.0 / 255.0,
            )
        };
        [y, cb, cr].map(|c| c.round().clamp(0.0, 255.0) as u8)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct FrameError(pub String);

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for FrameError {}

/// One frame's planes, borrowed from a mapped buffer (or an owned test image).
#[derive(Debug, Clone)]
pub struct Frame<'a> {
    pub format: PixelFormat,
    pub width: usize,
    pub height: usize,
    pub planes: [&'a [u8]; 3],
    pub strides: [usize; 3],
    pub yuv: YuvMatrix,
}

impl<'a> Frame<'a> {
    /// Checks that every plane holds `height` rows of `stride` bytes (the last row may be
    /// just wide enough), so that reading rows can never go out of bounds.
    pub fn new(
        format: PixelFormat,
        width: usize,
        height: usize,
        planes: &[&'a [u8]],
        strides: &[usize],
        yuv: YuvMatrix,
    ) -> Result<Frame<'a>, FrameError> {
        if width == 0 || height == 0 {
            return Err(FrameError(format!("empty frame {width}x{height}")));
        }
        let n = format.n_planes();
        if planes.len() < n || strides.len() < n {
            return Err(FrameError(format!(
                "{format:?} needs {n} planes, got {}",
                planes.len()
            )));
        }
        let mut p: [&[u8]; 3] = [&[]; 3];
        let mut s = [0usize; 3];
        for i in 0..n {
            let (row_bytes, rows) = format.plane_extent(i, width, height);
            let needed = strides[i] * (rows - 1) + row_bytes;
            if strides[i] < row_bytes || planes[i].len() < needed {
                return Err(FrameError(format!(
                    "plane {i} of a {width}x{height} {format:?} frame is too small ({} bytes, stride {}; need {needed})",
                    planes[i].len(),
                    strides[i]
                )));
            }
            p[i] = planes[i];
            s[i] = strides[i];
        }
        Ok(Frame {
            format,
            width,
            height,
            planes: p,
            strides: s,
            yuv,
        })
    }

    fn plane_row(&self, plane: usize, row: usize) -> &'a [u8] {
        let (bytes, _) = self.format.plane_extent(plane, self.width, self.height);
        let start = row * self.strides[plane];
        &self.planes[plane][start..start + bytes]
    }

    /// Writes row `y` as interleaved RGB floats in 0..255 (`out.len() >= 3 * width`).
    /// For many rows, `RowConverter` avoids rebuilding the colour tables per row.
    pub fn row_rgb(&self, y: usize, out: &mut [f32]) {
        RowConverter::new(self).row_rgb(y, out);
    }
}

/// YUV → RGB as table lookups: R = Y' + Rv, G = Y' + Gu + Gv, B = Y' + Bu, each entry
/// precomputed for all 256 code values (the same arithmetic as `YuvMatrix::to_rgb`).
#[derive(Clone)]
struct YuvTables {
    y: [f32; 256],
    rv: [f32; 256],
    gu: [f32; 256],
    gv: [f32; 256],
    bu: [f32; 256],
}

impl YuvTables {
    fn new(m: &YuvMatrix) -> YuvTables {
        let g_scale = 1.0 / (1.0 - m.kr - m.kb);
        let mut t = YuvTables {
            y: [0.0; 256],
            rv: [0.0; 256],
            gu: [0.0; 256],
            gv: [0.0; 256],
            bu: [0.0; 256],
        };
        for i in 0..256 {
            let v = i as f32;
            let (y, c) = if m.full_range {
                (v, v - 128.0)
            } else {
                ((v - 16.0) * (255.0 / 219.0), (v - 128.0) * (255.0 / 224.0))
            };
            t.y[i] = y;
            t.rv[i] = 2.0 * (1.0 - m.kr) * c;
            t.bu[i] = 2.0 * (1.0 - m.kb) * c;
            t.gv[i] = -m.kr * t.rv[i] * g_scale;
            t.gu[i] = -m.kb * t.bu[i] * g_scale;
        }
        t
    }

    #[inline(always)]
    fn rgb(&self, y: u8, u: u8, v: u8) -> [f32; 3] {
        let y = self.y[y as usize];
        [
            (y + self.rv[v as usize]).clamp(0.0, 255.0),
            (y + self.gu[u as usize] + self.gv[v as usize]).clamp(0.0, 255.0),
            (y + self.bu[u as usize]).clamp(0.0, 255.0),
        ]
    }
}

/// The YUV → RGB lookup tables of `m` as one array: Y', Rv, Gu, Gv, Bu, 256 entries each
/// (what the CUDA kernels read, so both paths convert with the same numbers).
pub fn yuv_tables(m: &YuvMatrix) -> Vec<f32> {
    let t = YuvTables::new(m);
    [t.y, t.rv, t.gu, t.gv, t.bu].concat()
}

/// Converts rows of one frame to RGB floats in 0..255, interleaved or as three planes.
/// Build one per frame: it holds the frame's colour tables.
pub struct RowConverter<'f, 'a> {
    frame: &'f Frame<'a>,
    tables: Option<Box<YuvTables>>,
}

impl<'f, 'a> RowConverter<'f, 'a> {
    pub fn new(frame: &'f Frame<'a>) -> RowConverter<'f, 'a> {
        let tables = matches!(frame.format, PixelFormat::I420 | PixelFormat::Nv12)
            .then(|| Box::new(YuvTables::new(&frame.yuv)));
        RowConverter { frame, tables }
    }

    /// Calls `put(x, rgb)` for every pixel of row `y`, left to right.
    #[inline(always)]
    fn for_each_pixel(&self, y: usize, mut put: impl FnMut(usize, [f32; 3])) {
        let f = self.frame;
        match f.format {
            PixelFormat::Gray8 => {
                for (x, &g) in f.plane_row(0, y).iter().enumerate() {
                    put(x, [g as f32; 3]);
                }
            }
            PixelFormat::I420 => {
                let t = self.tables.as_deref().expect("tables for YUV");
                let (ys, us, vs) = (
                    f.plane_row(0, y),
                    f.plane_row(1, y / 2),
                    f.plane_row(2, y / 2),
                );
                for (i, (pair, (&u, &v))) in ys.chunks(2).zip(us.iter().zip(vs)).enumerate() {
                    for (j, &luma) in pair.iter().enumerate() {
                        put(2 * i + j, t.rgb(luma, u, v));
                    }
                }
            }
            PixelFormat::Nv12 => {
                let t = self.tables.as_deref().expect("tables for YUV");
                let (ys, uv) = (f.plane_row(0, y), f.plane_row(1, y / 2));
                for (i, (pair, c)) in ys.chunks(2).zip(uv.chunks_exact(2)).enumerate() {
                    for (j, &luma) in pair.iter().enumerate() {
                        put(2 * i + j, t.rgb(luma, c[0], c[1]));
                    }
                }
            }
            packed => {
                let (bpp, [r, g, b]) = packed.packed_layout().expect("packed format");
                for (x, src) in f.plane_row(0, y).chunks_exact(bpp).enumerate() {
                    put(x, [src[r] as f32, src[g] as f32, src[b] as f32]);
                }
            }
        }
    }

    /// Writes row `y` as interleaved RGB (`out.len() >= 3 * width`).
    pub fn row_rgb(&self, y: usize, out: &mut [f32]) {
        let out = &mut out[..3 * self.frame.width];
        self.for_each_pixel(y, |x, p| out[3 * x..3 * x + 3].copy_from_slice(&p));
    }

    /// Writes row `y` as three planes R, G, B (each `len() >= width`).
    pub fn row_planar(&self, y: usize, [r, g, b]: [&mut [f32]; 3]) {
        let w = self.frame.width;
        let (r, g, b) = (&mut r[..w], &mut g[..w], &mut b[..w]);
        self.for_each_pixel(y, |x, p| {
            r[x] = p[0];
            g[x] = p[1];
            b[x] = p[2];
        });
    }
}

/// An owned frame in any format, made from interleaved RGB: test images for every format,
/// and frames for elements' unit tests.
#[derive(Debug, Clone)]
pub struct OwnedFrame {
    pub format: PixelFormat,
    pub width: usize,
    pub height: usize,
    pub planes: Vec<Vec<u8>>,
    pub strides: Vec<usize>,
    pub yuv: YuvMatrix,
}

impl OwnedFrame {
    pub fn from_rgb(
        format: PixelFormat,
        width: usize,
        height: usize,
        rgb: &[u8],
        yuv: YuvMatrix,
    ) -> OwnedFrame {
        assert_eq!(rgb.len(), width * height * 3, "rgb buffer size");
        let px = |x: usize, y: usize| -> [u8; 3] {
            let i = 3 * (y * width + x);
            [rgb[i], rgb[i + 1], rgb[i + 2]]
        };
        // Chroma of a 2x2 block: the YUV of the block's mean colour.
        let block_yuv = |cx: usize, cy: usize| -> [u8; 3] {
            let mut sum = [0u32; 3];
            let mut n = 0;
            for y in 2 * cy..(2 * cy + 2).min(height) {
                for x in 2 * cx..(2 * cx + 2).min(width) {
                    for (s, v) in sum.iter_mut().zip(px(x, y)) {
                        *s += v as u32;
                    }
                    n += 1;
                }
            }
            yuv.from_rgb(sum.map(|s| ((s + n / 2) / n) as u8))
        };
        let (cw, ch) = (width.div_ceil(2), height.div_ceil(2));
        let luma = || -> Vec<u8> {
            (0..height)
                .flat_map(|y| (0..width).map(move |x| (y, x)))
                .map(|(y, x)| yuv.from_rgb(px(x, y))[0])
                .collect()
        };
        let (planes, strides) = match format {
            PixelFormat::Gray8 => {
                let g = (0..width * height)
                    .map(|i| {
                        let [r, g, b] = [rgb[3 * i], rgb[3 * i + 1], rgb[3 * i + 2]].map(f32::from);
                        (0.299 * r + 0.587 * g + 0.114 * b).round() as u8
                    })
                    .collect();
                (vec![g], vec![width])
            }
            PixelFormat::I420 => {
                let mut u = Vec::with_capacity(cw * ch);
                let mut v = Vec::with_capacity(cw * ch);
                for cy in 0..ch {
                    for cx in 0..cw {
                        let [_, cb, cr] = block_yuv(cx, cy);
                        u.push(cb);
                        v.push(cr);
                    }
                }
                (vec![luma(), u, v], vec![width, cw, cw])
            }
            PixelFormat::Nv12 => {
                let mut uv = Vec::with_capacity(2 * cw * ch);
                for cy in 0..ch {
                    for cx in 0..cw {
                        let [_, cb, cr] = block_yuv(cx, cy);
                        uv.extend([cb, cr]);
                    }
                }
                (vec![luma(), uv], vec![width, 2 * cw])
            }
            packed => {
                let (bpp, [r, g, b]) = packed.packed_layout().expect("packed format");
                let mut data = vec![255u8; width * height * bpp];
                for (dst, src) in data.chunks_exact_mut(bpp).zip(rgb.chunks_exact(3)) {
                    dst[r] = src[0];
                    dst[g] = src[1];
                    dst[b] = src[2];
                }
                (vec![data], vec![width * bpp])
            }
        };
        OwnedFrame {
            format,
            width,
            height,
            planes,
            strides,
            yuv,
        }
    }

    pub fn view(&self) -> Frame<'_> {
        let planes: Vec<&[u8]> = self.planes.iter().map(Vec::as_slice).collect();
        Frame::new(
            self.format,
            self.width,
            self.height,
            &planes,
            &self.strides,
            self.yuv,
        )
        .expect("an owned frame is laid out correctly")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yuv_round_trip_is_close() {
        for m in [YuvMatrix::BT601, YuvMatrix::BT709, YuvMatrix::JPEG] {
            for rgb in [[0u8, 0, 0], [255, 255, 255], [200, 30, 90], [10, 240, 120]] {
                let [y, u, v] = m.from_rgb(rgb);
                let back = m.to_rgb(y, u, v);
                for c in 0..3 {
                    assert!(
                        (back[c] - rgb[c] as f32).abs() <= 2.5,
                        "{m:?} {rgb:?} -> {back:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn every_format_gives_the_same_rgb_row() {
        let (w, h) = (6, 4);
        // Flat 2x2 blocks, so subsampled chroma loses nothing.
        let rgb: Vec<u8> = (0..h)
            .flat_map(|y| (0..w).map(move |x| (x / 2, y / 2)))
            .flat_map(|(bx, by)| [(40 * bx + 20) as u8, (60 * by + 50) as u8, 200])
            .collect();
        let mut row = vec![0.0; 3 * w];
        for format in PixelFormat::ALL {
            let frame = OwnedFrame::from_rgb(format, w, h, &rgb, YuvMatrix::BT709);
            for y in 0..h {
                frame.view().row_rgb(y, &mut row);
                for x in 0..w {
                    let want = &rgb[3 * (y * w + x)..3 * (y * w + x) + 3];
                    if format == PixelFormat::Gray8 {
                        let g = 0.299 * want[0] as f32
                            + 0.587 * want[1] as f32
                            + 0.114 * want[2] as f32;
                        assert!((row[3 * x] - g).abs() <= 1.0);
                        continue;
                    }
                    for c in 0..3 {
                        let got = row[3 * x + c];
                        assert!(
                            (got - want[c] as f32).abs() <= 3.0,
                            "{format:?} ({x},{y}) c{c}: {got} vs {}",
                            want[c]
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn table_conversion_matches_the_matrix() {
        // Every code value of every channel, for each matrix and range.
        for m in [
            YuvMatrix::BT601,
            YuvMatrix::BT709,
            YuvMatrix::BT2020,
            YuvMatrix::JPEG,
        ] {
            let t = YuvTables::new(&m);
            for y in (0..=255u8).step_by(3) {
                for u in (0..=255u8).step_by(5) {
                    for v in (0..=255u8).step_by(7) {
                        let (a, b) = (t.rgb(y, u, v), m.to_rgb(y, u, v));
                        for c in 0..3 {
                            assert!(
                                (a[c] - b[c]).abs() < 1e-3,
                                "{m:?} {y} {u} {v}: {a:?} vs {b:?}"
                            );
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn planar_rows_match_interleaved_rows() {
        let (w, h) = (7, 3); // odd width: the last chroma sample covers one pixel
        let rgb: Vec<u8> = (0..w * h * 3).map(|i| (i * 37 % 256) as u8).collect();
        for format in PixelFormat::ALL {
            let frame = OwnedFrame::from_rgb(format, w, h, &rgb, YuvMatrix::BT601);
            let view = frame.view();
            let rows = RowConverter::new(&view);
            let (mut r, mut g, mut b) = (vec![0.0; w], vec![0.0; w], vec![0.0; w]);
            let mut inter = vec![0.0; 3 * w];
            for y in 0..h {
                rows.row_planar(y, [&mut r, &mut g, &mut b]);
                rows.row_rgb(y, &mut inter);
                for x in 0..w {
                    assert_eq!([r[x], g[x], b[x]], inter[3 * x..3 * x + 3], "{format:?}");
                }
            }
        }
    }

    #[test]
    fn short_planes_are_rejected() {
        let data = vec![0u8; 10];
        let err =
            Frame::new(PixelFormat::Rgb, 4, 4, &[&data], &[12], YuvMatrix::BT601).unwrap_err();
        assert!(err.0.contains("too small"), "{err}");
        let err =
            Frame::new(PixelFormat::I420, 4, 4, &[&data], &[4], YuvMatrix::BT601).unwrap_err();
        assert!(err.0.contains("needs 3 planes"), "{err}");
    }
}
