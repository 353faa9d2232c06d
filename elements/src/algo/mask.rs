//! Masking regions of a frame in place: blur, pixelate, fill or outline, as a rectangle or an
//! ellipse, with an optional soft edge. Works plane by plane at each plane's own subsampling,
//! so YUV frames are never converted to RGB and back.
//!
//! The cost of every method grows with the masked area only: blur is three passes of a
//! running-sum box filter, whose cost does not depend on its radius.

use super::frame::{PixelFormat, YuvMatrix};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    Rectangle,
    Ellipse,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strength {
    Low,
    Medium,
    High,
}

impl Strength {
    /// Box radius as a fraction of the region's shorter side. Three passes of a box of
    /// radius r blur about as much as a Gaussian of sigma r: at `Low` the features of a
    /// face (eyes ~1/4 of its width apart) already merge.
    pub fn radius_fraction(self) -> f32 {
        match self {
            Strength::Low => 0.12,
            Strength::Medium => 0.2,
            Strength::High => 0.3,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Method {
    Blur(Strength),
    /// Block size in frame pixels; 0 = automatic (a sixth of the region's shorter side).
    Pixelate(u32),
    Fill,
    /// Line width in frame pixels. Draws the shape's border only: not a redaction.
    Outline(u32),
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MaskStyle {
    pub method: Method,
    pub shape: Shape,
    /// Width of the soft edge outside the shape, as a fraction of the region's shorter
    /// side (0 = hard edge). The shape itself is always fully masked.
    pub soft_edge: f32,
    /// Colour for fill and outline, RGB.
    pub color: [u8; 3],
}

/// A region in frame pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Region {
    pub x: f32,
    pub y: f32,
    pub w: f32,
    pub h: f32,
}

impl Region {
    /// Grows the region by `padding` times its size (0.2: 20 % wider and higher), centred.
    pub fn padded(&self, padding: f32) -> Region {
        let (dx, dy) = (self.w * padding / 2.0, self.h * padding / 2.0);
        Region {
            x: self.x - dx,
            y: self.y - dy,
            w: self.w + 2.0 * dx,
            h: self.h + 2.0 * dy,
        }
    }
}

/// How one plane of a frame is laid out, and what `fill` writes into it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PlaneLayout {
    pub width: usize,
    pub height: usize,
    /// Interleaved channels (bytes per pixel).
    pub channels: usize,
    /// Horizontal and vertical subsampling relative to the frame.
    pub sub_x: usize,
    pub sub_y: usize,
    /// Value each channel takes under `fill` (None: left as it is, e.g. alpha).
    pub fill: [Option<u8>; 4],
}

/// One plane of a frame, mutable, with what it holds (its layout's fields read through it:
/// `plane.width`, `plane.channels`, ...).
#[derive(Debug)]
pub struct PlaneMut<'a> {
    pub data: &'a mut [u8],
    pub stride: usize,
    pub layout: PlaneLayout,
}

impl std::ops::Deref for PlaneMut<'_> {
    type Target = PlaneLayout;

    fn deref(&self) -> &PlaneLayout {
        &self.layout
    }
}

/// The planes of a frame in this format, with the fill colour in each plane's terms.
pub fn plane_layouts(
    format: PixelFormat,
    width: usize,
    height: usize,
    color: [u8; 3],
    yuv: YuvMatrix,
) -> Vec<PlaneLayout> {
    let [r, g, b] = color;
    let [y, u, v] = yuv.from_rgb(color);
    let grey = (0.299 * r as f32 + 0.587 * g as f32 + 0.114 * b as f32).round() as u8;
    let (cw, ch) = (width.div_ceil(2), height.div_ceil(2));
    let plane = |channels, sub, width, height, fill| PlaneLayout {
        width,
        height,
        channels,
        sub_x: sub,
        sub_y: sub,
        fill,
    };
    match format {
        PixelFormat::I420 => vec![
            plane(1, 1, width, height, [Some(y), None, None, None]),
            plane(1, 2, cw, ch, [Some(u), None, None, None]),
            plane(1, 2, cw, ch, [Some(v), None, None, None]),
        ],
        PixelFormat::Nv12 => vec![
            plane(1, 1, width, height, [Some(y), None, None, None]),
            plane(2, 2, cw, ch, [Some(u), Some(v), None, None]),
        ],
        PixelFormat::Gray8 => vec![plane(1, 1, width, height, [Some(grey), None, None, None])],
        PixelFormat::Rgb => vec![plane(
            3,
            1,
            width,
            height,
            [Some(r), Some(g), Some(b), None],
        )],
        PixelFormat::Bgr => vec![plane(
            3,
            1,
            width,
            height,
            [Some(b), Some(g), Some(r), None],
        )],
        PixelFormat::Rgba | PixelFormat::Rgbx => {
            vec![plane(
                4,
                1,
                width,
                height,
                [Some(r), Some(g), Some(b), None],
            )]
        }
        PixelFormat::Bgra | PixelFormat::Bgrx => {
            vec![plane(
                4,
                1,
                width,
                height,
                [Some(b), Some(g), Some(r), None],
            )]
        }
    }
}

/// Splits a frame's planes into `PlaneMut`s with the fill colour in each plane's terms.
pub fn planes_for<'a>(
    format: PixelFormat,
    width: usize,
    height: usize,
    planes: Vec<&'a mut [u8]>,
    strides: &[usize],
    color: [u8; 3],
    yuv: YuvMatrix,
) -> Vec<PlaneMut<'a>> {
    planes
        .into_iter()
        .zip(plane_layouts(format, width, height, color, yuv))
        .zip(strides)
        .map(|((data, layout), &stride)| PlaneMut {
            data,
            stride,
            layout,
        })
        .collect()
}

/// Reusable buffers (one per element), so masking allocates only when regions grow.
#[derive(Debug, Default)]
pub struct Scratch {
    work: Vec<u32>,
    line: Vec<u32>,
    sums: Vec<u32>,
    out: Vec<u8>,
}

/// The shape in one plane's pixel coordinates.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PlaneShape {
    pub x0: f32,
    pub y0: f32,
    pub x1: f32,
    pub y1: f32,
    pub ellipse: bool,
}

impl PlaneShape {
    /// Distance from the centre of pixel (px, py) to the shape; 0 inside.
    fn distance_outside(&self, px: usize, py: usize) -> f32 {
        let (cx, cy) = (px as f32 + 0.5, py as f32 + 0.5);
        if self.ellipse {
            let (ex, ey) = ((self.x0 + self.x1) / 2.0, (self.y0 + self.y1) / 2.0);
            let (a, b) = (
                ((self.x1 - self.x0) / 2.0).max(0.5),
                ((self.y1 - self.y0) / 2.0).max(0.5),
            );
            let (dx, dy) = (cx - ex, cy - ey);
            let t = ((dx / a).powi(2) + (dy / b).powi(2)).sqrt();
            if t <= 1.0 {
                0.0
            } else {
                (dx * dx + dy * dy).sqrt() * (1.0 - 1.0 / t)
            }
        } else {
            let dx = (self.x0 - cx).max(cx - self.x1).max(0.0);
            let dy = (self.y0 - cy).max(cy - self.y1).max(0.0);
            dx.max(dy)
        }
    }

    /// Distance from the centre of an inside pixel to the shape's border.
    fn depth_inside(&self, px: usize, py: usize) -> f32 {
        let (cx, cy) = (px as f32 + 0.5, py as f32 + 0.5);
        if self.ellipse {
            let (ex, ey) = ((self.x0 + self.x1) / 2.0, (self.y0 + self.y1) / 2.0);
            let (a, b) = (
                ((self.x1 - self.x0) / 2.0).max(0.5),
                ((self.y1 - self.y0) / 2.0).max(0.5),
            );
            let t = (((cx - ex) / a).powi(2) + ((cy - ey) / b).powi(2)).sqrt();
            (1.0 - t) * a.min(b)
        } else {
            (cx - self.x0)
                .min(self.x1 - cx)
                .min(cy - self.y0)
                .min(self.y1 - cy)
        }
    }
}

/// What masking one region means in one plane: the shape in the plane's pixels, the soft
/// edge around it, and the extent (shape plus edge, clipped) that is processed. The CPU
/// and the CUDA kernels both work from this.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PlaneWork {
    pub shape: PlaneShape,
    /// Width of the soft edge in plane pixels.
    pub feather: f32,
    pub extent: Extent,
    /// The region's shorter side in frame pixels (blur and pixelate scale with it).
    pub short: f32,
}

impl PlaneWork {
    /// `None` when the region does not touch the plane.
    pub fn new(plane: &PlaneLayout, region: Region, style: &MaskStyle) -> Option<PlaneWork> {
        let short = region.w.min(region.h).max(1.0);
        let (sx, sy) = (plane.sub_x as f32, plane.sub_y as f32);
        // Round outwards so every frame pixel the region touches is covered in every plane.
        let shape = PlaneShape {
            x0: (region.x / sx).floor().max(0.0),
            y0: (region.y / sy).floor().max(0.0),
            x1: ((region.x + region.w) / sx).ceil().min(plane.width as f32),
            y1: ((region.y + region.h) / sy).ceil().min(plane.height as f32),
            ellipse: style.shape == Shape::Ellipse,
        };
        if shape.x1 <= shape.x0 || shape.y1 <= shape.y0 {
            return None;
        }
        let feather = style.soft_edge.max(0.0) * short / sx.max(sy);
        let ex0 = (shape.x0 - feather).floor().max(0.0) as usize;
        let ey0 = (shape.y0 - feather).floor().max(0.0) as usize;
        let ex1 = ((shape.x1 + feather).ceil() as usize).min(plane.width);
        let ey1 = ((shape.y1 + feather).ceil() as usize).min(plane.height);
        Some(PlaneWork {
            shape,
            feather,
            extent: Extent {
                x0: ex0,
                y0: ey0,
                w: ex1 - ex0,
                h: ey1 - ey0,
            },
            short,
        })
    }

    /// `Method::Outline`: the line's depth inside the shape, in plane pixels.
    pub fn outline_depth(&self, plane: &PlaneLayout, width: u32) -> f32 {
        (width.max(1) as f32 / plane.sub_x.max(plane.sub_y) as f32).max(1.0)
    }

    /// `Method::Blur`: the box radii along x and y in plane pixels.
    pub fn blur_radii(&self, plane: &PlaneLayout, strength: Strength) -> (usize, usize) {
        let r = strength.radius_fraction() * self.short;
        (
            ((r / plane.sub_x as f32).round() as usize).max(1),
            ((r / plane.sub_y as f32).round() as usize).max(1),
        )
    }

    /// `Method::Pixelate`: block width and height in plane pixels, and where the first
    /// block starts relative to the extent (0 or negative: blocks start at the shape's
    /// corner, so they line up across planes).
    pub fn pixel_blocks(&self, plane: &PlaneLayout, block: u32) -> PixelBlocks {
        let block = if block == 0 {
            (self.short / 6.0).max(4.0)
        } else {
            block as f32
        };
        let bx = ((block / plane.sub_x as f32).round() as usize).max(1);
        let by = ((block / plane.sub_y as f32).round() as usize).max(1);
        let e = &self.extent;
        let (ox, oy) = (self.shape.x0 as usize - e.x0, self.shape.y0 as usize - e.y0);
        let first = |o: usize, b: usize| {
            if o == 0 {
                0
            } else {
                o as isize - (o.div_ceil(b) * b) as isize
            }
        };
        PixelBlocks {
            width: bx,
            height: by,
            first_x: first(ox, bx),
            first_y: first(oy, by),
        }
    }
}

/// Pixelation blocks of one plane (see `PlaneWork::pixel_blocks`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PixelBlocks {
    pub width: usize,
    pub height: usize,
    pub first_x: isize,
    pub first_y: isize,
}

/// Masks one region (frame pixels, already padded) in every plane.
pub fn mask_region(
    planes: &mut [PlaneMut],
    region: Region,
    style: &MaskStyle,
    scratch: &mut Scratch,
) {
    for plane in planes.iter_mut() {
        let layout = plane.layout;
        let Some(work) = PlaneWork::new(&layout, region, style) else {
            continue;
        };
        match style.method {
            Method::Outline(width) => {
                let line = work.outline_depth(&layout, width);
                outline(plane, &work.extent, &work.shape, line);
            }
            method => {
                process(plane, &work, method, scratch);
                blend(plane, &work.extent, &work.shape, work.feather, &scratch.out);
            }
        }
    }
}

/// The part of a plane one region's masking reads and writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Extent {
    pub x0: usize,
    pub y0: usize,
    pub w: usize,
    pub h: usize,
}

/// Writes the masked version of the extent into `scratch.out` (row-major, interleaved).
fn process(plane: &PlaneMut, work: &PlaneWork, method: Method, scratch: &mut Scratch) {
    let c = plane.channels;
    let e = &work.extent;
    let row_bytes = e.w * c;
    scratch.out.clear();
    for y in e.y0..e.y0 + e.h {
        let start = y * plane.stride + e.x0 * c;
        scratch
            .out
            .extend_from_slice(&plane.data[start..start + row_bytes]);
    }
    match method {
        Method::Fill => {
            for px in scratch.out.chunks_exact_mut(c) {
                for (v, f) in px.iter_mut().zip(plane.fill) {
                    if let Some(f) = f {
                        *v = f;
                    }
                }
            }
        }
        Method::Pixelate(block) => {
            let b = work.pixel_blocks(&plane.layout, block);
            let (bx, by) = (b.width, b.height);
            let mut by0 = b.first_y;
            while by0 < e.h as isize {
                let (y0, y1) = (by0.max(0) as usize, ((by0 + by as isize) as usize).min(e.h));
                let mut bx0 = b.first_x;
                while bx0 < e.w as isize {
                    let (x0, x1) = (bx0.max(0) as usize, ((bx0 + bx as isize) as usize).min(e.w));
                    let n = ((y1 - y0) * (x1 - x0)) as u32;
                    for ch in 0..c {
                        let mut sum = 0u32;
                        for y in y0..y1 {
                            for x in x0..x1 {
                                sum += scratch.out[(y * e.w + x) * c + ch] as u32;
                            }
                        }
                        let mean = ((sum + n / 2) / n) as u8;
                        for y in y0..y1 {
                            for x in x0..x1 {
                                scratch.out[(y * e.w + x) * c + ch] = mean;
                            }
                        }
                    }
                    bx0 += bx as isize;
                }
                by0 += by as isize;
            }
        }
        Method::Blur(strength) => {
            let (rx, ry) = work.blur_radii(&plane.layout, strength);
            scratch.work.clear();
            scratch.work.extend(scratch.out.iter().map(|&v| v as u32));
            for _ in 0..3 {
                for (radius, horizontal) in [(rx, true), (ry, false)] {
                    box_pass(
                        &mut scratch.work,
                        &mut scratch.line,
                        &mut scratch.sums,
                        (e.w, e.h, c),
                        radius,
                        horizontal,
                    );
                }
            }
            for (o, &v) in scratch.out.iter_mut().zip(&scratch.work) {
                *o = v.min(255) as u8;
            }
        }
        Method::Outline(_) => unreachable!("outline draws in place"),
    }
}

/// Divides by `win` with rounding, as a multiply and shift: a division per pixel was the
/// larger part of the blur's cost. Exact while `sum * win < 2^32`, far above the 255 * win
/// a box of bytes reaches (the truncation error stays below 1/win).
#[derive(Clone, Copy)]
pub struct RoundedDiv {
    half: u32,
    m: u64,
}

impl RoundedDiv {
    pub fn new(win: u32) -> RoundedDiv {
        RoundedDiv {
            half: win / 2,
            m: (1u64 << 32).div_ceil(win as u64),
        }
    }

    #[inline(always)]
    fn apply(self, sum: u32) -> u32 {
        (((sum + self.half) as u64 * self.m) >> 32) as u32
    }

    /// The multiplier (the CUDA box pass uses the same arithmetic).
    pub fn multiplier(self) -> u64 {
        self.m
    }
}

/// One running-sum box filter pass along rows (`horizontal`) or columns, edges clamped.
/// Columns are done a row at a time (a running sum per column), so both directions read
/// memory in order.
fn box_pass(
    data: &mut [u32],
    tmp: &mut Vec<u32>,
    sums: &mut Vec<u32>,
    (w, h, c): (usize, usize, usize),
    r: usize,
    horizontal: bool,
) {
    let win = 2 * r + 1;
    let div = RoundedDiv::new(win as u32);
    if horizontal {
        for row in data.chunks_exact_mut(w * c) {
            for ch in 0..c {
                // The line padded with its edge values: no clamping in the loop.
                tmp.clear();
                tmp.extend(std::iter::repeat_n(row[ch], r));
                if c == 1 {
                    tmp.extend_from_slice(row);
                } else {
                    tmp.extend(row[ch..].iter().step_by(c));
                }
                tmp.extend(std::iter::repeat_n(row[(w - 1) * c + ch], r + 1));
                let mut sum: u32 = tmp[..win].iter().sum();
                for i in 0..w {
                    row[i * c + ch] = div.apply(sum);
                    sum = sum + tmp[i + win] - tmp[i];
                }
            }
        }
    } else {
        let n = w * c;
        tmp.clear();
        tmp.extend_from_slice(data);
        let row = |y: isize| {
            let y = y.clamp(0, h as isize - 1) as usize;
            &tmp[y * n..y * n + n]
        };
        sums.clear();
        sums.resize(n, 0);
        for k in -(r as isize)..=r as isize {
            for (s, &v) in sums.iter_mut().zip(row(k)) {
                *s += v;
            }
        }
        for (y, out) in data.chunks_exact_mut(n).enumerate() {
            let (add, sub) = (
                row(y as isize + r as isize + 1),
                row(y as isize - r as isize),
            );
            for (((o, s), &a), &b) in out.iter_mut().zip(sums.iter_mut()).zip(add).zip(sub) {
                *o = div.apply(*s);
                *s = *s + a - b;
            }
        }
    }
}

/// Copies `out` into the plane where the shape (plus soft edge) covers each pixel.
fn blend(plane: &mut PlaneMut, e: &Extent, shape: &PlaneShape, feather: f32, out: &[u8]) {
    let c = plane.channels;
    if !shape.ellipse && feather <= 0.0 {
        // A hard-edged rectangle covers its whole extent: copy rows.
        for (y, src) in out.chunks_exact(e.w * c).enumerate() {
            let row = (e.y0 + y) * plane.stride + e.x0 * c;
            plane.data[row..row + e.w * c].copy_from_slice(src);
        }
        return;
    }
    blend_shaped(plane, e, shape, feather, out);
}

/// `blend` pixel by pixel: each pixel's distance to the shape decides its weight.
fn blend_shaped(plane: &mut PlaneMut, e: &Extent, shape: &PlaneShape, feather: f32, out: &[u8]) {
    let c = plane.channels;
    for y in 0..e.h {
        let row = (e.y0 + y) * plane.stride + e.x0 * c;
        for x in 0..e.w {
            let d = shape.distance_outside(e.x0 + x, e.y0 + y);
            let alpha = if d <= 0.0 {
                1.0
            } else if feather > 0.0 {
                (1.0 - d / feather).max(0.0)
            } else {
                0.0
            };
            if alpha <= 0.0 {
                continue;
            }
            let dst = &mut plane.data[row + x * c..row + x * c + c];
            let src = &out[(y * e.w + x) * c..(y * e.w + x) * c + c];
            if alpha >= 1.0 {
                dst.copy_from_slice(src);
            } else {
                for (d, &s) in dst.iter_mut().zip(src) {
                    *d = (*d as f32 + (s as f32 - *d as f32) * alpha).round() as u8;
                }
            }
        }
    }
}

fn outline(plane: &mut PlaneMut, e: &Extent, shape: &PlaneShape, line: f32) {
    let c = plane.channels;
    for y in e.y0..e.y0 + e.h {
        for x in e.x0..e.x0 + e.w {
            if shape.distance_outside(x, y) > 0.0 || shape.depth_inside(x, y) >= line {
                continue;
            }
            let px = &mut plane.data[y * plane.stride + x * c..y * plane.stride + x * c + c];
            for (v, f) in px.iter_mut().zip(plane.layout.fill) {
                if let Some(f) = f {
                    *v = f;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::algo::frame::OwnedFrame;

    /// The first implementation (a division per pixel, columns gathered one by one): the
    /// optimised pass must give exactly the same values.
    fn box_pass_reference(
        data: &mut [u32],
        line: &mut Vec<u32>,
        w: usize,
        h: usize,
        c: usize,
        r: usize,
        horizontal: bool,
    ) {
        let (len, lines, step, next) = if horizontal {
            (w, h, c, w * c)
        } else {
            (h, w, w * c, c)
        };
        let win = (2 * r + 1) as u32;
        for l in 0..lines {
            for ch in 0..c {
                let base = l * next + ch;
                line.clear();
                line.extend((0..len).map(|i| data[base + i * step]));
                let at = |i: isize| line[i.clamp(0, len as isize - 1) as usize];
                let mut sum: u32 = (-(r as isize)..=r as isize).map(at).sum();
                for i in 0..len {
                    data[base + i * step] = (sum + win / 2) / win;
                    sum += at(i as isize + r as isize + 1);
                    sum -= at(i as isize - r as isize);
                }
            }
        }
    }

    #[test]
    fn rectangle_blend_copies_what_the_shaped_blend_would() {
        // A rectangle from fractional region edges, as mask_region builds it, on a plane
        // with a stride wider than its width.
        let (w, h, c, stride) = (20, 12, 2, 44);
        let region = Region {
            x: 3.4,
            y: 2.6,
            w: 9.3,
            h: 6.1,
        };
        let shape = PlaneShape {
            x0: region.x.floor(),
            y0: region.y.floor(),
            x1: (region.x + region.w).ceil(),
            y1: (region.y + region.h).ceil(),
            ellipse: false,
        };
        let e = Extent {
            x0: shape.x0 as usize,
            y0: shape.y0 as usize,
            w: (shape.x1 - shape.x0) as usize,
            h: (shape.y1 - shape.y0) as usize,
        };
        let out: Vec<u8> = (0..e.w * e.h * c).map(|i| (i * 7 % 256) as u8).collect();
        let original: Vec<u8> = (0..stride * h).map(|i| (i * 13 % 256) as u8).collect();
        let (mut fast, mut shaped) = (original.clone(), original);
        for (data, shaped_path) in [(&mut fast, false), (&mut shaped, true)] {
            let mut plane = PlaneMut {
                data,
                stride,
                layout: PlaneLayout {
                    width: w,
                    height: h,
                    channels: c,
                    sub_x: 1,
                    sub_y: 1,
                    fill: [None; 4],
                },
            };
            if shaped_path {
                blend_shaped(&mut plane, &e, &shape, 0.0, &out);
            } else {
                blend(&mut plane, &e, &shape, 0.0, &out);
            }
        }
        assert_eq!(fast, shaped);
    }

    #[test]
    fn box_pass_matches_the_reference_exactly() {
        let mut seed = 12345u32;
        let mut next = || {
            seed = seed.wrapping_mul(1664525).wrapping_add(1013904223);
            seed >> 24
        };
        let (mut tmp, mut sums, mut line) = (Vec::new(), Vec::new(), Vec::new());
        for (w, h, c) in [(1, 1, 1), (17, 9, 1), (9, 23, 2), (31, 12, 3), (8, 8, 4)] {
            for r in [1, 2, 5, 40] {
                for horizontal in [true, false] {
                    let data: Vec<u32> = (0..w * h * c).map(|_| next()).collect();
                    let (mut a, mut b) = (data.clone(), data);
                    box_pass(&mut a, &mut tmp, &mut sums, (w, h, c), r, horizontal);
                    box_pass_reference(&mut b, &mut line, w, h, c, r, horizontal);
                    assert_eq!(a, b, "{w}x{h}x{c} r{r} horizontal {horizontal}");
                }
            }
        }
        // The rounded division by multiplication over the whole range a box can reach.
        for win in [3u32, 7, 25, 301, 2001] {
            let div = RoundedDiv::new(win);
            for sum in (0..=255 * win).step_by(1 + win as usize / 7) {
                assert_eq!(div.apply(sum), (sum + win / 2) / win, "win {win} sum {sum}");
            }
        }
    }

    const W: usize = 64;
    const H: usize = 48;

    /// A busy pattern: every pixel differs from its neighbours.
    fn pattern() -> Vec<u8> {
        (0..H)
            .flat_map(|y| (0..W).map(move |x| (x, y)))
            .flat_map(|(x, y)| {
                let v = ((x * 37 + y * 91 + (x * y) % 13 * 17) % 256) as u8;
                [v, 255 - v, ((x * 8) % 256) as u8]
            })
            .collect()
    }

    fn masked(format: PixelFormat, style: &MaskStyle, region: Region) -> (OwnedFrame, OwnedFrame) {
        let original = OwnedFrame::from_rgb(format, W, H, &pattern(), YuvMatrix::BT601);
        let mut frame = original.clone();
        let planes: Vec<&mut [u8]> = frame.planes.iter_mut().map(|p| p.as_mut_slice()).collect();
        let mut planes = planes_for(
            format,
            W,
            H,
            planes,
            &original.strides,
            style.color,
            YuvMatrix::BT601,
        );
        mask_region(&mut planes, region, style, &mut Scratch::default());
        (original, frame)
    }

    fn rgb_at(frame: &OwnedFrame, x: usize, y: usize) -> [f32; 3] {
        let mut row = vec![0.0; 3 * W];
        frame.view().row_rgb(y, &mut row);
        [row[3 * x], row[3 * x + 1], row[3 * x + 2]]
    }

    fn luma(p: [f32; 3]) -> f32 {
        0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2]
    }

    fn std_dev(values: &[f32]) -> f32 {
        let mean = values.iter().sum::<f32>() / values.len() as f32;
        (values.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / values.len() as f32).sqrt()
    }

    const REGION: Region = Region {
        x: 16.0,
        y: 12.0,
        w: 32.0,
        h: 24.0,
    };

    fn style(method: Method, shape: Shape) -> MaskStyle {
        MaskStyle {
            method,
            shape,
            soft_edge: 0.0,
            color: [200, 30, 60],
        }
    }

    /// Pixels well inside the region (and inside the ellipse).
    fn core() -> impl Iterator<Item = (usize, usize)> {
        (20..28).flat_map(|y| (26..38).map(move |x| (x, y)))
    }

    #[test]
    fn outside_the_region_nothing_changes() {
        for format in PixelFormat::ALL {
            for method in [
                Method::Blur(Strength::High),
                Method::Pixelate(0),
                Method::Fill,
                Method::Outline(2),
            ] {
                for shape in [Shape::Rectangle, Shape::Ellipse] {
                    let (a, b) = masked(format, &style(method, shape), REGION);
                    for y in 0..H {
                        for x in 0..W {
                            // Chroma of 2x2 blocks touching the region may change.
                            let near = x + 2 >= 16 && x < 48 + 2 && y + 2 >= 12 && y < 36 + 2;
                            if !near {
                                assert_eq!(
                                    rgb_at(&a, x, y),
                                    rgb_at(&b, x, y),
                                    "{format:?} {method:?} {shape:?} ({x},{y})"
                                );
                            }
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn fill_paints_the_colour() {
        for format in PixelFormat::ALL {
            for shape in [Shape::Rectangle, Shape::Ellipse] {
                let (_, b) = masked(format, &style(Method::Fill, shape), REGION);
                let want = if format == PixelFormat::Gray8 {
                    let g = (0.299f32 * 200.0 + 0.587 * 30.0 + 0.114 * 60.0).round();
                    [g, g, g]
                } else {
                    [200.0, 30.0, 60.0]
                };
                for (x, y) in core() {
                    let got = rgb_at(&b, x, y);
                    for c in 0..3 {
                        assert!(
                            (got[c] - want[c]).abs() <= 3.0,
                            "{format:?} {shape:?} ({x},{y}): {got:?}"
                        );
                    }
                }
                // Every pixel of the rectangle, up to its border, is filled.
                if shape == Shape::Rectangle {
                    for (x, y) in [(16, 12), (47, 12), (16, 35), (47, 35)] {
                        assert!(
                            (luma(rgb_at(&b, x, y)) - luma(want)).abs() <= 3.0,
                            "{format:?} corner ({x},{y})"
                        );
                    }
                } else {
                    // The ellipse leaves the rectangle's corners alone.
                    let (a, _) = masked(format, &style(Method::Fill, shape), REGION);
                    assert_eq!(
                        rgb_at(&a, 17, 13),
                        rgb_at(&b, 17, 13),
                        "{format:?} ellipse corner"
                    );
                }
            }
        }
    }

    /// Mean absolute difference between horizontal neighbours in the core: fine detail.
    fn detail(f: &OwnedFrame) -> f32 {
        let d: Vec<f32> = core()
            .map(|(x, y)| (luma(rgb_at(f, x + 1, y)) - luma(rgb_at(f, x, y))).abs())
            .collect();
        d.iter().sum::<f32>() / d.len() as f32
    }

    #[test]
    fn blur_removes_detail() {
        for format in PixelFormat::ALL {
            for shape in [Shape::Rectangle, Shape::Ellipse] {
                for strength in [Strength::Low, Strength::Medium, Strength::High] {
                    let (a, b) = masked(format, &style(Method::Blur(strength), shape), REGION);
                    let (db, da) = (detail(&a), detail(&b));
                    assert!(
                        da < db * 0.1,
                        "{format:?} {shape:?} {strength:?}: detail {db} -> {da}"
                    );
                    // Blurring keeps the average brightness.
                    let mean = |f: &OwnedFrame| {
                        core().map(|(x, y)| luma(rgb_at(f, x, y))).sum::<f32>() / 96.0
                    };
                    assert!(
                        (mean(&a) - mean(&b)).abs() < 25.0,
                        "{format:?} {shape:?} {strength:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn stronger_blur_is_smoother() {
        let spread = |strength| {
            let (_, b) = masked(
                PixelFormat::Rgb,
                &style(Method::Blur(strength), Shape::Rectangle),
                REGION,
            );
            std_dev(
                &core()
                    .map(|(x, y)| luma(rgb_at(&b, x, y)))
                    .collect::<Vec<_>>(),
            )
        };
        let (low, high) = (spread(Strength::Low), spread(Strength::High));
        assert!(high < low, "high {high} vs low {low}");
    }

    #[test]
    fn pixelate_makes_flat_blocks() {
        for format in PixelFormat::ALL {
            for shape in [Shape::Rectangle, Shape::Ellipse] {
                let (_, b) = masked(format, &style(Method::Pixelate(8), shape), REGION);
                // Blocks start at the region's corner (16, 12): block (24..32, 20..28) is whole.
                let first = rgb_at(&b, 24, 20);
                for y in 20..28 {
                    for x in 24..32 {
                        let p = rgb_at(&b, x, y);
                        for c in 0..3 {
                            assert!(
                                (p[c] - first[c]).abs() <= 3.0,
                                "{format:?} {shape:?} ({x},{y}) {p:?} vs {first:?}"
                            );
                        }
                    }
                }
                // Neighbouring blocks differ (the pattern is busy).
                assert_ne!(rgb_at(&b, 24, 20), rgb_at(&b, 32, 20), "{format:?}");
            }
        }
    }

    #[test]
    fn outline_draws_the_border_only() {
        for format in PixelFormat::ALL {
            let (a, b) = masked(format, &style(Method::Outline(2), Shape::Rectangle), REGION);
            let want = luma(rgb_at(
                &masked(format, &style(Method::Fill, Shape::Rectangle), REGION).1,
                30,
                24,
            ));
            for (x, y) in [(16, 20), (47, 20), (30, 12), (30, 35)] {
                assert!(
                    (luma(rgb_at(&b, x, y)) - want).abs() <= 3.0,
                    "{format:?} border ({x},{y})"
                );
            }
            for (x, y) in core() {
                assert_eq!(
                    rgb_at(&a, x, y),
                    rgb_at(&b, x, y),
                    "{format:?} interior untouched"
                );
            }
        }
    }

    #[test]
    fn soft_edge_fades_outside_the_shape() {
        let mut s = style(Method::Fill, Shape::Rectangle);
        s.soft_edge = 0.25; // 6 px for a 24 px high region
        let (a, b) = masked(PixelFormat::Rgb, &s, REGION);
        let red = |f: &OwnedFrame, x| rgb_at(f, x, 24)[0];
        // Inside: fully filled. Just outside: part way. Beyond the edge: untouched.
        assert_eq!(red(&b, 47), 200.0);
        let mid = red(&b, 50);
        let orig = red(&a, 50);
        assert!(
            (mid - 200.0).abs() > 1.0 && (mid - orig).abs() > 1.0,
            "partial blend at x=50: {mid} (orig {orig})"
        );
        assert_eq!(red(&a, 56), red(&b, 56));
    }

    #[test]
    fn regions_at_the_frame_edge_are_clipped() {
        for format in PixelFormat::ALL {
            let region = Region {
                x: -10.0,
                y: 40.0,
                w: 30.0,
                h: 30.0,
            };
            let (_, b) = masked(format, &style(Method::Fill, Shape::Rectangle), region);
            assert!(
                (rgb_at(&b, 0, H - 1)[1]
                    - if format == PixelFormat::Gray8 {
                        84.0
                    } else {
                        30.0
                    })
                .abs()
                    <= 4.0,
                "{format:?}"
            );
        }
    }

    #[test]
    fn padding_grows_around_the_centre() {
        let r = Region {
            x: 10.0,
            y: 10.0,
            w: 20.0,
            h: 10.0,
        }
        .padded(0.5);
        assert_eq!(
            r,
            Region {
                x: 5.0,
                y: 7.5,
                w: 30.0,
                h: 15.0
            }
        );
    }
}
