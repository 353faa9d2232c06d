//! The picture's own motion from one frame to the next: a shift and a zoom for the whole frame,
//! found by matching the coarse luma samples the cut detector takes (`scene::luma_sample`:
//! every 4th pixel of every 8th row). The tracker moves the boxes of faces it cannot see
//! with it, as BoT-SORT's camera-motion compensation does: in a whip-pan the faces are
//! smeared past any detector, but the picture's shift is still there to be measured.
//!
//! The sample is averaged into cells of 8 × 8 pixels, and those halved until the grid is
//! at most 40 cells wide; the shift with the best zero-mean normalised correlation is
//! searched on the coarsest grid (up to a quarter of the frame each way, at least half the
//! frame overlapping) and refined on each finer one (multiples of 8 pixels), then between
//! the cells (the peak of a parabola through the best and its neighbours: a slow pan's
//! 2 px a frame is not read as standing still). Then zooms of up to 12 % a frame about the
//! frame's centre are tried with shifts within half a cell of it, climbing on the coarsest
//! grid (bilinear samples of the previous frame), then climbed again and decided on a
//! finer one (8 px cells at 720p), each scale with its own shift, and refined between the
//! steps the same way: in a zoom the faces the detector loses move away from the centre or
//! towards it and change size, which no shift follows. None when the frames are too flat
//! to tell or nothing matches well.

use super::detection::BBox;

/// Correlation the best shift must reach to be believed (measured 0.80–0.99 on the leak
/// benchmark's whip-pans; flat or unrelated pictures stay far below).
pub const SHIFT_MIN_CORRELATION: f32 = 0.7;

/// A shift no better than standing still by this much is standing still.
const STILL_MARGIN: f32 = 0.01;

/// Widest grid the search starts on (cells): 40 at 640×360 (16 px cells), 30 at 1080p
/// (64 px cells).
const COARSEST: usize = 40;

/// Widest grid a zoom is decided on (cells): the finest at 720p (8 px cells), 120 cells
/// of 16 px at 1080p.
const ZOOM_FINE: usize = 160;

/// Side of a fine cell, in pixels.
pub const CELL: f32 = 8.0;

/// A grid of cell means, row by row.
#[derive(Debug, Clone, PartialEq)]
struct Grid {
    w: usize,
    h: usize,
    v: Vec<f32>,
}

impl Grid {
    /// The luma sample (`width` values a row, 4 px by 8 px each) averaged in pairs along
    /// the rows: cells of 8 × 8 px.
    fn of_sample(sample: &[u8], width: usize) -> Option<Grid> {
        if width < 2 || sample.len() < width * 2 {
            return None;
        }
        let (w, h) = (width / 2, sample.len() / width);
        let mut v = Vec::with_capacity(w * h);
        for row in sample.chunks_exact(width).take(h) {
            v.extend(
                row.chunks_exact(2)
                    .map(|p| (p[0] as f32 + p[1] as f32) / 2.0),
            );
        }
        Some(Grid { w, h, v })
    }

    /// Cells twice as large.
    fn halved(&self) -> Grid {
        let (w, h) = (self.w / 2, self.h / 2);
        let mut v = Vec::with_capacity(w * h);
        for y in 0..h {
            for x in 0..w {
                let at = |dx: usize, dy: usize| self.v[(2 * y + dy) * self.w + 2 * x + dx];
                v.push((at(0, 0) + at(1, 0) + at(0, 1) + at(1, 1)) / 4.0);
            }
        }
        Grid { w, h, v }
    }

    /// Correlation of `self` moved by (dx, dy) cells with `next`, over the part they
    /// share; None when less than half overlaps or either part is flat.
    fn correlation(&self, next: &Grid, dx: i64, dy: i64) -> Option<f32> {
        let (w, h) = (self.w as i64 - dx.abs(), self.h as i64 - dy.abs());
        if w <= 0 || h <= 0 || 2 * w * h < (self.w * self.h) as i64 {
            return None;
        }
        let (ax, ay) = ((-dx).max(0) as usize, (-dy).max(0) as usize);
        let (bx, by) = (dx.max(0) as usize, dy.max(0) as usize);
        let (w, h) = (w as usize, h as usize);
        let mut sums = Sums::default();
        for y in 0..h {
            let ra = &self.v[(ay + y) * self.w + ax..][..w];
            let rb = &next.v[(by + y) * next.w + bx..][..w];
            for (a, b) in ra.iter().zip(rb) {
                sums.add(*a, *b);
            }
        }
        sums.correlation()
    }

    /// Correlation of `self` zoomed by `scale` about the grid's centre and moved by
    /// (dx, dy) cells with `next` (each cell of `next` against the bilinear sample of
    /// `self` where it came from), over the part they share; None as for
    /// [`Self::correlation`].
    fn zoomed_correlation(&self, next: &Grid, scale: f32, dx: f32, dy: f32) -> Option<f32> {
        let (cx, cy) = (self.w as f32 / 2.0, self.h as f32 / 2.0);
        // Where each column of `next` samples `self` (the same on every row): cell (x, y)
        // is at (x + 0.5, y + 0.5).
        let columns: Vec<(usize, usize, usize, f32)> = (0..next.w)
            .filter_map(|x| {
                let qx = (x as f32 + 0.5 - cx - dx) / scale + cx - 0.5;
                (qx >= 0.0 && qx <= (self.w - 1) as f32).then(|| {
                    let x0 = qx.floor() as usize;
                    (x, x0, (x0 + 1).min(self.w - 1), qx.fract())
                })
            })
            .collect();
        let mut sums = Sums::default();
        for y in 0..next.h {
            let qy = (y as f32 + 0.5 - cy - dy) / scale + cy - 0.5;
            if qy < 0.0 || qy > (self.h - 1) as f32 {
                continue;
            }
            let (y0, fy) = (qy.floor() as usize, qy.fract());
            let y1 = (y0 + 1).min(self.h - 1);
            let (r0, r1) = (
                &self.v[y0 * self.w..][..self.w],
                &self.v[y1 * self.w..][..self.w],
            );
            let rb = &next.v[y * next.w..][..next.w];
            for &(x, x0, x1, fx) in &columns {
                let top = r0[x0] + (r0[x1] - r0[x0]) * fx;
                let bottom = r1[x0] + (r1[x1] - r1[x0]) * fx;
                sums.add(top + (bottom - top) * fy, rb[x]);
            }
        }
        if 2 * sums.n < self.w * self.h {
            return None;
        }
        sums.correlation()
    }

    /// The best shift within (±rx, ±ry) of (cx, cy), and its correlation.
    fn best(&self, next: &Grid, (cx, cy): (i64, i64), rx: i64, ry: i64) -> Option<(i64, i64, f32)> {
        let mut best: Option<(i64, i64, f32)> = None;
        for dy in cy - ry..=cy + ry {
            for dx in cx - rx..=cx + rx {
                if let Some(c) = self.correlation(next, dx, dy)
                    && best.is_none_or(|(_, _, b)| c > b)
                {
                    best = Some((dx, dy, c));
                }
            }
        }
        best
    }
}

/// Sums over pairs of cell values, for their zero-mean normalised correlation.
#[derive(Default)]
struct Sums {
    n: usize,
    a: f32,
    b: f32,
    aa: f32,
    bb: f32,
    ab: f32,
}

impl Sums {
    fn add(&mut self, a: f32, b: f32) {
        self.n += 1;
        self.a += a;
        self.b += b;
        self.aa += a * a;
        self.bb += b * b;
        self.ab += a * b;
    }

    /// None when either side is flat: less than about one grey level of spread per cell.
    fn correlation(&self) -> Option<f32> {
        let n = self.n as f32;
        let va = self.aa - self.a * self.a / n;
        let vb = self.bb - self.b * self.b / n;
        if va < n || vb < n {
            return None;
        }
        Some((self.ab - self.a * self.b / n) / (va * vb).sqrt())
    }
}

/// The picture's motion from one frame to the next: a point at `p` (pixels, from the
/// frame's top left corner) moves to `scale · p + shift` (a zoom and a pan).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PictureMotion {
    pub scale: f32,
    pub shift: (f32, f32),
}

impl PictureMotion {
    /// A pan by (dx, dy) pixels.
    pub fn shift(dx: f32, dy: f32) -> PictureMotion {
        PictureMotion {
            scale: 1.0,
            shift: (dx, dy),
        }
    }

    pub fn apply(&self, (x, y): (f32, f32)) -> (f32, f32) {
        (self.scale * x + self.shift.0, self.scale * y + self.shift.1)
    }

    /// This motion, then `next`.
    pub fn then(&self, next: &PictureMotion) -> PictureMotion {
        PictureMotion {
            scale: next.scale * self.scale,
            shift: next.apply(self.shift),
        }
    }

    /// The motion back.
    pub fn inverse(&self) -> PictureMotion {
        PictureMotion {
            scale: 1.0 / self.scale,
            shift: (-self.shift.0 / self.scale, -self.shift.1 / self.scale),
        }
    }

    /// Where a box on the picture goes: its centre moves, its size scales.
    pub fn apply_box(&self, b: &BBox) -> BBox {
        let (cx, cy) = self.apply(b.centre());
        let (w, h) = (b.w * self.scale, b.h * self.scale);
        BBox::new(cx - w / 2.0, cy - h / 2.0, w, h)
    }
}

/// Zooms searched, a frame: up to 12 % either way, in steps of 2 %, then refined to 1 %.
const ZOOM_MAX: f32 = 0.12;
const ZOOM_STEP: f32 = 0.02;

/// A zoom must match better than the best pan by this much to be believed.
const ZOOM_MARGIN: f32 = 0.005;

/// Where between its neighbours a best match really lies, in steps of the search (within
/// ±½): the peak of the parabola through the correlations one step before, at and one
/// step after it; 0 where a neighbour is not measured or the three are no peak.
fn peak(before: Option<f32>, at: f32, after: Option<f32>) -> f32 {
    let (Some(before), Some(after)) = (before, after) else {
        return 0.0;
    };
    let curvature = before - 2.0 * at + after;
    if curvature >= 0.0 {
        return 0.0;
    }
    (0.5 * (before - after) / curvature).clamp(-0.5, 0.5)
}

/// The best shift (cells) within half a cell of `base` for `a` zoomed by `scale` against
/// `b`, and its correlation.
fn best_near(a: &Grid, b: &Grid, scale: f32, base: (f32, f32)) -> Option<((f32, f32), f32)> {
    let mut best: Option<((f32, f32), f32)> = None;
    for oy in [-0.5f32, 0.0, 0.5] {
        for ox in [-0.5f32, 0.0, 0.5] {
            let d = (base.0 + ox, base.1 + oy);
            if let Some(c) = a.zoomed_correlation(b, scale, d.0, d.1)
                && best.is_none_or(|(_, top)| c > top)
            {
                best = Some((d, c));
            }
        }
    }
    best
}

/// The zoom on one grid, climbed in 1 % steps from `scale` (each with its best shift near
/// `d`, in `a`'s cells about its centre, between the half cells too) and refined between
/// the steps ([`peak`]); None unless it matches better than `still` (the pan's match on
/// that grid) by `ZOOM_MARGIN` and well enough to be believed.
fn zoom_on(a: &Grid, b: &Grid, scale: f32, d: (f32, f32), still: f32) -> Option<(f32, (f32, f32))> {
    let at = |s: f32, x: f32, y: f32| a.zoomed_correlation(b, s, x, y);
    // The best shift at a scale, between the half cells too: the shift that goes with a
    // zoom about the frame's centre changes with the scale, and a picture off the centre
    // matches only where both are right.
    let fitted = |s: f32| -> Option<(f32, (f32, f32), f32)> {
        let (d, c) = best_near(a, b, s, d)?;
        let between = (
            d.0 + 0.5 * peak(at(s, d.0 - 0.5, d.1), c, at(s, d.0 + 0.5, d.1)),
            d.1 + 0.5 * peak(at(s, d.0, d.1 - 0.5), c, at(s, d.0, d.1 + 0.5)),
        );
        Some(match at(s, between.0, between.1) {
            Some(cb) if cb >= c => (s, between, cb),
            _ => (s, d, c),
        })
    };
    // Climbed in 1 % steps from `scale` while the match improves (the coarser grid may
    // have stopped a step short, or gone the wrong way for a small picture).
    let half = ZOOM_STEP / 2.0;
    let mut tried = vec![fitted(scale)?];
    for step in [-half, half] {
        let mut s = scale + step;
        while (s - 1.0).abs() <= ZOOM_MAX + half / 2.0 {
            let Some(next) = fitted(s) else { break };
            let top = tried.iter().map(|t| t.2).fold(f32::MIN, f32::max);
            tried.push(next);
            if next.2 <= top {
                break;
            }
            s += step;
        }
    }
    let &(scale, d, zc) = tried.iter().max_by(|x, y| x.2.total_cmp(&y.2))?;
    if zc < still + ZOOM_MARGIN || zc < SHIFT_MIN_CORRELATION {
        return None;
    }
    // Between the scales tried, with the shift between theirs.
    let near = |s: f32| tried.iter().find(|t| (t.0 - s).abs() < half / 2.0).copied();
    let (below, above) = (near(scale - half), near(scale + half));
    let t = peak(below.map(|t| t.2), zc, above.map(|t| t.2));
    let d = match if t < 0.0 { below } else { above } {
        Some((_, e, _)) => (d.0 + (e.0 - d.0) * t.abs(), d.1 + (e.1 - d.1) * t.abs()),
        None => d,
    };
    Some((scale + half * t, d))
}

/// Measures the picture's motion between consecutive frames.
#[derive(Debug, Default)]
pub struct MotionEstimator {
    previous: Option<Grid>,
}

impl MotionEstimator {
    pub fn new() -> MotionEstimator {
        MotionEstimator::default()
    }

    /// The motion from the previous frame's sample to this one's (`width` values a row),
    /// or None on the first frame, when either frame is too flat or when the best match
    /// is poor. The shift is searched first; then zooms about the frame's centre with
    /// shifts within half a cell of it, on the coarsest grid, climbing in 2 % steps from
    /// the better of ±2 % while the match improves, then ±1 % around the best: a zoom is
    /// kept when it matches better than the pan by `ZOOM_MARGIN`.
    pub fn next(&mut self, sample: &[u8], width: usize) -> Option<PictureMotion> {
        let levels = self.levels(sample, width)?;
        let (dx, dy, c) = Self::best_shift(&levels)?;
        let pan = PictureMotion::shift(dx * CELL, dy * CELL);
        // The coarsest grid: 40 cells across at 720p (32 px cells), 30 at 1080p (64 px).
        let k = levels.len() - 1;
        let (a, b) = &levels[k];
        let base = (dx / (1u32 << k) as f32, dy / (1u32 << k) as f32);
        // The pan's match on this grid (the one measured on the finest, if none here).
        let still = best_near(a, b, 1.0, base).map_or(c, |(_, c1)| c1);
        // Climb from the better of one step in and one step out while the next step
        // matches better (a still picture costs the two first steps alone).
        let steps = (ZOOM_MAX / ZOOM_STEP).round() as i32;
        let Some(mut coarse) = [-1, 1]
            .into_iter()
            .filter_map(|i| best_near(a, b, 1.0 + i as f32 * ZOOM_STEP, base).map(|z| (i, z)))
            .max_by(|a, b| a.1.1.total_cmp(&b.1.1))
        else {
            return Some(pan);
        };
        let direction = coarse.0;
        for i in 2..=steps {
            match best_near(a, b, 1.0 + (direction * i) as f32 * ZOOM_STEP, base) {
                Some(z) if z.1 > coarse.1.1 => coarse = (direction * i, z),
                _ => break,
            }
        }
        let (scale, d) = (1.0 + coarse.0 as f32 * ZOOM_STEP, coarse.1.0);
        // Decided first on a finer grid (`ZOOM_FINE`: 8 px cells at 720p), climbed there
        // from the coarse scale: on the coarsest a zoom of 2-3 % moves a small picture's
        // edges by a fraction of a cell, and a pan matches about as well (a photo zooming
        // on a still backdrop, as in the leak benchmark's shots: the coarse climb stopped
        // short or went the wrong way). Not in a fast pan (over a coarse cell a frame), and
        // where the finer grid does not prefer a zoom (or there is none), the coarsest
        // decides, climbed the same way: a whip-pan's smear matches the sharp frame before
        // it on the coarse cells only.
        let j = (0..=k).find(|&j| levels[j].0.w <= ZOOM_FINE).unwrap_or(k);
        let up = (1u32 << (k - j)) as f32;
        let (fa, fb) = &levels[j];
        let fast = base.0.hypot(base.1) > 1.0;
        let zoom = (!fast && j < k)
            .then(|| {
                let still = best_near(fa, fb, 1.0, (base.0 * up, base.1 * up)).map_or(c, |z| z.1);
                zoom_on(fa, fb, scale, (d.0 * up, d.1 * up), still)
            })
            .flatten()
            .map(|z| (z, j))
            .or_else(|| zoom_on(a, b, scale, d, still).map(|z| (z, k)));
        let Some(((scale, d), level)) = zoom else {
            return Some(pan);
        };
        // Cell coordinates about the grid's centre, to pixels from the top left corner.
        let (a, _) = &levels[level];
        let cell = CELL * (1u32 << level) as f32;
        let centre = (a.w as f32 * cell / 2.0, a.h as f32 * cell / 2.0);
        Some(PictureMotion {
            scale,
            shift: (
                (1.0 - scale) * centre.0 + d.0 * cell,
                (1.0 - scale) * centre.1 + d.1 * cell,
            ),
        })
    }

    /// The previous frame's grid and this one's, halved until the coarsest is at most
    /// `COARSEST` cells wide (finest first); this one's is kept for the next frame.
    fn levels(&mut self, sample: &[u8], width: usize) -> Option<Vec<(Grid, Grid)>> {
        let grid = Grid::of_sample(sample, width)?;
        let previous = self.previous.replace(grid.clone())?;
        if previous.w != grid.w || previous.h != grid.h {
            return None;
        }
        let mut levels = vec![(previous, grid)];
        while levels
            .last()
            .is_some_and(|(a, _)| a.w > COARSEST && a.h >= 8)
        {
            let (a, b) = levels.last().expect("not empty");
            let next = (a.halved(), b.halved());
            levels.push(next);
        }
        Some(levels)
    }

    /// The best shift in fine cells and its correlation: searched on the coarsest level
    /// (a quarter of the frame each way), refined on each finer one, then to a fraction
    /// of a fine cell ([`peak`]) on the finest.
    fn best_shift(levels: &[(Grid, Grid)]) -> Option<(f32, f32, f32)> {
        let (top, top_next) = levels.last().expect("not empty");
        let (rx, ry) = ((top.w / 4) as i64, (top.h / 4) as i64);
        let (mut dx, mut dy, mut c) = top.best(top_next, (0, 0), rx, ry)?;
        for (a, b) in levels.iter().rev().skip(1) {
            (dx, dy, c) = a.best(b, (2 * dx, 2 * dy), 1, 1)?;
        }
        let (previous, grid) = &levels[0];
        if c < SHIFT_MIN_CORRELATION {
            return None;
        }
        if (dx, dy) != (0, 0)
            && let Some(still) = previous.correlation(grid, 0, 0)
            && still >= c - STILL_MARGIN
        {
            (dx, dy, c) = (0, 0, still);
        }
        let at = |x: i64, y: i64| previous.correlation(grid, x, y);
        Some((
            dx as f32 + peak(at(dx - 1, dy), c, at(dx + 1, dy)),
            dy as f32 + peak(at(dx, dy - 1), c, at(dx, dy + 1)),
            c,
        ))
    }

    /// Forgets the previous frame (a cut: nothing to match against).
    pub fn reset(&mut self) {
        self.previous = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn motions_compose_and_invert() {
        let zoom = PictureMotion {
            scale: 1.1,
            shift: (-64.0, -36.0),
        };
        let pan = PictureMotion::shift(12.0, -5.0);
        let both = zoom.then(&pan);
        let p = (300.0, 200.0);
        let (x, y) = both.apply(p);
        let (ex, ey) = pan.apply(zoom.apply(p));
        assert!((x - ex).abs() < 1e-3 && (y - ey).abs() < 1e-3, "{x},{y}");
        let (bx, by) = both.inverse().apply((x, y));
        assert!(
            (bx - p.0).abs() < 1e-3 && (by - p.1).abs() < 1e-3,
            "{bx},{by}"
        );
        let b = zoom.apply_box(&BBox::new(100.0, 100.0, 40.0, 50.0));
        // The centre (120, 125) goes to (68, 101.5); the size grows by 10 %.
        assert!((b.w - 44.0).abs() < 1e-3 && (b.h - 55.0).abs() < 1e-3);
        let (cx, cy) = b.centre();
        assert!((cx - 68.0).abs() < 1e-3 && (cy - 101.5).abs() < 1e-3);
    }

    /// A textured "picture" much larger than the frame, deterministic.
    fn world(x: i64, y: i64) -> u8 {
        let (x, y) = (x as f64, y as f64);
        let v = 128.0
            + 50.0 * (x / 37.0).sin() * (y / 23.0).cos()
            + 30.0 * ((x + 2.0 * y) / 61.0).sin()
            + 20.0 * ((x * 0.7 - y) / 17.0).cos();
        v.clamp(0.0, 255.0) as u8
    }

    /// The luma sample (every 4th pixel of every 8th row) of a 640×360 frame looking at
    /// the world from (ox, oy).
    fn sample(ox: i64, oy: i64) -> (Vec<u8>, usize) {
        let (w, h) = (640i64, 360i64);
        let mut out = Vec::new();
        for y in (0..h).step_by(8) {
            for x in (0..w).step_by(4) {
                out.push(world(ox + x, oy + y));
            }
        }
        (out, (w as usize).div_ceil(4))
    }

    #[test]
    fn finds_pans_and_whips_and_standing_still() {
        let mut est = MotionEstimator::new();
        let (s, w) = sample(0, 0);
        assert_eq!(est.next(&s, w), None, "first frame");
        // The camera moves right/down by (mx, my): the picture moves left/up. Moves of a
        // few pixels, less than a cell (the drift of a slow pan, a camera's jitter), and
        // moves between the cells are measured to about a pixel.
        let mut at = (0i64, 0i64);
        let moves = [
            (0, 0),
            (16, 0),
            (-48, 8),
            (120, -40),
            (152, 64),
            (0, 0),
            (2, 0),
            (-3, 2),
            (0, -5),
            (21, 13),
            (-99, 3),
        ];
        for (mx, my) in moves {
            at = (at.0 + mx, at.1 + my);
            let (s, w) = sample(at.0, at.1);
            let m = est.next(&s, w).expect("a motion");
            if (mx, my) == (0, 0) {
                assert_eq!(m, PictureMotion::shift(0.0, 0.0), "standing still");
            }
            assert_eq!(m.scale, 1.0, "camera move ({mx}, {my}): {m:?}");
            let (ex, ey) = (m.shift.0 + mx as f32, m.shift.1 + my as f32);
            assert!(
                ex.abs() <= 1.0 && ey.abs() <= 1.0,
                "camera move ({mx}, {my}): {m:?}"
            );
        }
    }

    /// The luma sample of a 640×360 frame looking at the world around (ox, oy) at `zoom`
    /// frame pixels per world unit.
    fn zoomed_sample(ox: f64, oy: f64, zoom: f64) -> (Vec<u8>, usize) {
        let (w, h) = (640i64, 360i64);
        let mut out = Vec::new();
        for y in (0..h).step_by(8) {
            for x in (0..w).step_by(4) {
                let wx = ox + (x as f64 - 320.0) / zoom;
                let wy = oy + (y as f64 - 180.0) / zoom;
                out.push(world(wx.round() as i64, wy.round() as i64));
            }
        }
        (out, (w as usize).div_ceil(4))
    }

    #[test]
    fn finds_zooms_in_and_out() {
        // The camera zooms in 5 % (and pans), then out 8 %, then holds still: where does a
        // point of the picture 200 px right of and 100 px below the centre go, and how
        // does its size change?
        let mut est = MotionEstimator::new();
        let (s, w) = zoomed_sample(0.0, 0.0, 1.0);
        est.next(&s, w);
        let mut view = (0.0, 0.0, 1.0);
        for (move_x, move_y, zoom) in [(0.0, 0.0, 1.05), (10.0, 0.0, 1.05), (0.0, 0.0, 1.0 / 1.08)]
        {
            let before = view;
            view = (view.0 + move_x, view.1 + move_y, view.2 * zoom);
            let (s, w) = zoomed_sample(view.0, view.1, view.2);
            let m = est.next(&s, w).expect("a motion");
            assert!((m.scale as f64 - zoom).abs() <= 0.011, "zoom {zoom}: {m:?}");
            // The world point seen at (520, 280) on the frame before, and where it is now.
            let world_at = (before.0 + 200.0 / before.2, before.1 + 100.0 / before.2);
            let now = (
                320.0 + (world_at.0 - view.0) * view.2,
                180.0 + (world_at.1 - view.1) * view.2,
            );
            let (x, y) = m.apply((520.0, 280.0));
            assert!(
                (x as f64 - now.0).abs() <= 2.0 && (y as f64 - now.1).abs() <= 2.0,
                "zoom {zoom}, move ({move_x}, {move_y}): ({x}, {y}) for {now:?}, {m:?}"
            );
        }
        // The same frame again: exactly still (no fraction of a cell from the refinement).
        let (s, w) = zoomed_sample(view.0, view.1, view.2);
        assert_eq!(
            est.next(&s, w),
            Some(PictureMotion::shift(0.0, 0.0)),
            "still"
        );
    }

    /// The luma sample of a 640×360 frame showing the world in a photo of 240 × 136 px at
    /// `photo` (its top left corner) and `zoom` frame pixels per world unit, on a still,
    /// smooth backdrop (the leak benchmark's shots).
    fn photo_sample(photo: (f64, f64), zoom: f64) -> (Vec<u8>, usize) {
        let (w, h) = (640i64, 360i64);
        let mut out = Vec::new();
        for y in (0..h).step_by(8) {
            for x in (0..w).step_by(4) {
                let (px, py) = ((x as f64 - photo.0) / zoom, (y as f64 - photo.1) / zoom);
                out.push(
                    if (0.0..240.0).contains(&px) && (0.0..136.0).contains(&py) {
                        // A photo's detail: the world's shapes and finer ones.
                        let fine = 40.0 * (px / 5.1).sin() * (py / 6.3).cos();
                        (world(px.round() as i64, py.round() as i64) as f64 * 0.7 + fine) as u8
                    } else {
                        (40 + x / 64 + y / 48) as u8
                    },
                );
            }
        }
        (out, (w as usize).div_ceil(4))
    }

    #[test]
    fn finds_a_small_photos_zoom_on_a_still_backdrop() {
        // A photo a seventh of the frame, off the centre, zooms out 2.5 % a frame about a
        // point near its left edge (it shrinks towards it): on the coarsest grid (16 px
        // cells here) its edges move by a fraction of a cell, and a pan matched as well.
        let mut est = MotionEstimator::new();
        let (mut photo, mut zoom) = ((330.0, 60.0), 1.0);
        let (s, w) = photo_sample(photo, zoom);
        est.next(&s, w);
        let anchor = (340.0, 100.0);
        for _ in 0..4 {
            let before = (photo, zoom);
            zoom *= 0.975;
            photo = (
                anchor.0 + (photo.0 - anchor.0) * 0.975,
                anchor.1 + (photo.1 - anchor.1) * 0.975,
            );
            let (s, w) = photo_sample(photo, zoom);
            let m = est.next(&s, w).expect("a motion");
            assert!((m.scale - 0.975).abs() <= 0.01, "{m:?}");
            // The photo's far corner and its centre: where they were and where they are.
            for (u, v) in [(240.0, 136.0), (120.0, 68.0)] {
                let then = (before.0.0 + u * before.1, before.0.1 + v * before.1);
                let now = (photo.0 + u * zoom, photo.1 + v * zoom);
                let (x, y) = m.apply((then.0 as f32, then.1 as f32));
                assert!(
                    (x as f64 - now.0).abs() <= 2.0 && (y as f64 - now.1).abs() <= 2.0,
                    "({x}, {y}) for {now:?}: {m:?}"
                );
            }
        }
    }

    #[test]
    fn flat_or_unrelated_frames_give_none() {
        let mut est = MotionEstimator::new();
        let (s, w) = sample(0, 0);
        est.next(&s, w);
        let black = vec![3u8; s.len()];
        assert_eq!(est.next(&black, w), None, "a dip to black");
        assert_eq!(est.next(&s, w), None, "after black");
        // Another scene: noise-like, unrelated to the world.
        let other: Vec<u8> = (0..s.len() as u64)
            .map(|i| (i.wrapping_mul(2654435761) >> 7) as u8)
            .collect();
        est.next(&s, w);
        assert_eq!(est.next(&other, w), None, "a cut to something else");
        est.reset();
        assert_eq!(est.next(&s, w), None, "after reset: no previous frame");
    }
}
