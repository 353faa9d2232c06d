//! The picture's own motion from one frame to the next: one shift for the whole frame,
//! found by matching the coarse luma samples the cut detector takes (`scene::luma_sample`:
//! every 4th pixel of every 8th row). The tracker moves the boxes of faces it cannot see
//! with it, as BoT-SORT's camera-motion compensation does: in a whip-pan the faces are
//! smeared past any detector, but the picture's shift is still there to be measured.
//!
//! The sample is averaged into cells of 8 × 8 pixels, and those halved until the grid is
//! at most 40 cells wide; the shift with the best zero-mean normalised correlation is
//! searched on the coarsest grid (up to a quarter of the frame each way, at least half the
//! frame overlapping) and refined on each finer one. Returned in pixels (multiples of 8), or None when the frames are too flat
//! to tell or nothing matches well.

/// Correlation the best shift must reach to be believed (measured 0.80–0.99 on the leak
/// benchmark's whip-pans; flat or unrelated pictures stay far below).
pub const SHIFT_MIN_CORRELATION: f32 = 0.7;

/// A shift no better than standing still by this much is standing still.
const STILL_MARGIN: f32 = 0.01;

/// Widest grid the search starts on (cells): 40 at 640×360 (16 px cells), 30 at 1080p
/// (64 px cells).
const COARSEST: usize = 40;

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
        let n = (w * h) as f32;
        let (mut sa, mut sb, mut saa, mut sbb, mut sab) = (0.0f32, 0.0, 0.0, 0.0, 0.0);
        for y in 0..h {
            let ra = &self.v[(ay + y) * self.w + ax..][..w];
            let rb = &next.v[(by + y) * next.w + bx..][..w];
            for (a, b) in ra.iter().zip(rb) {
                sa += a;
                sb += b;
                saa += a * a;
                sbb += b * b;
                sab += a * b;
            }
        }
        let va = saa - sa * sa / n;
        let vb = sbb - sb * sb / n;
        // Flat: less than about one grey level of spread per cell.
        if va < n || vb < n {
            return None;
        }
        Some((sab - sa * sb / n) / (va * vb).sqrt())
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

/// Measures the picture's shift between consecutive frames.
#[derive(Debug, Default)]
pub struct ShiftEstimator {
    previous: Option<Grid>,
}

impl ShiftEstimator {
    pub fn new() -> ShiftEstimator {
        ShiftEstimator::default()
    }

    /// The shift in pixels from the previous frame's sample to this one's (`width` values
    /// a row), or None on the first frame, when either frame is too flat or when the best
    /// match is poor.
    pub fn next(&mut self, sample: &[u8], width: usize) -> Option<(f32, f32)> {
        let grid = Grid::of_sample(sample, width)?;
        let previous = self.previous.replace(grid.clone())?;
        if previous.w != grid.w || previous.h != grid.h {
            return None;
        }
        // A pyramid of both, halved until the coarsest is at most COARSEST cells wide: the
        // search there covers a quarter of the frame each way, each finer level refines.
        let mut levels = vec![(previous, grid)];
        while levels
            .last()
            .is_some_and(|(a, _)| a.w > COARSEST && a.h >= 8)
        {
            let (a, b) = levels.last().expect("not empty");
            let next = (a.halved(), b.halved());
            levels.push(next);
        }
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
            && previous
                .correlation(grid, 0, 0)
                .is_some_and(|still| still >= c - STILL_MARGIN)
        {
            return Some((0.0, 0.0));
        }
        Some((dx as f32 * CELL, dy as f32 * CELL))
    }

    /// Forgets the previous frame (a cut: nothing to match against).
    pub fn reset(&mut self) {
        self.previous = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let mut est = ShiftEstimator::new();
        let (s, w) = sample(0, 0);
        assert_eq!(est.next(&s, w), None, "first frame");
        // The camera moves right/down by (ox, oy): the picture moves left/up.
        let mut at = (0i64, 0i64);
        for (mx, my) in [(0, 0), (16, 0), (-48, 8), (120, -40), (152, 64), (0, 0)] {
            at = (at.0 + mx, at.1 + my);
            let (s, w) = sample(at.0, at.1);
            assert_eq!(
                est.next(&s, w),
                Some((-mx as f32, -my as f32)),
                "camera move ({mx}, {my})"
            );
        }
    }

    #[test]
    fn flat_or_unrelated_frames_give_none() {
        let mut est = ShiftEstimator::new();
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
