//! Scene changes for the tracker: hard cuts and cross-fades, seen in a coarse sample of
//! each frame's luma. Nothing is carried across a cut, and a cross-fade is a cut spread
//! over frames (`track::Tracker`).

use std::collections::VecDeque;

use super::frame::{Frame, RowConverter};

/// A sample of the frame's luma (every 4th pixel of every 8th row) for `CutDetector`:
/// ceil(width / 4) × ceil(height / 8) values, row by row. (The CUDA path computes the
/// same sample on the device.)
pub fn luma_sample(frame: &Frame) -> Vec<u8> {
    let rows = RowConverter::new(frame);
    let mut row = vec![0.0; 3 * frame.width];
    let mut out = Vec::with_capacity(frame.width.div_ceil(4) * frame.height.div_ceil(8));
    for y in (0..frame.height).step_by(8) {
        rows.row_rgb(y, &mut row);
        out.extend(
            row.chunks_exact(3)
                .step_by(4)
                .map(|p| (0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2]) as u8),
        );
    }
    out
}

/// What a frame is to the frames before it ([`CutDetector::next`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SceneChange {
    /// The same scene.
    #[default]
    None,
    /// A hard cut: this frame starts a new scene.
    Cut,
    /// A cross-fade (dissolve) under way or just over: the frames from `back` frames before
    /// this one on mix the previous scene into the next.
    Dissolve { back: u32 },
}

/// Scene cuts and cross-fades, from the luma sample of consecutive frames (`luma_sample`).
///
/// A cut changes the picture's layout: the mean luma of a 16×9 grid of blocks (9×16 for a
/// portrait frame) stops correlating with the previous frame's. The correlation ignores
/// brightness and contrast, so a cut between two dark shots is seen (the whole frame's
/// histogram hardly moves there) while a dip to black or a fade of the same shot is not,
/// and the blocks are coarse enough that camera motion keeps it high. A whip-pan that lands
/// on a new framing counts as a cut: the tracks must be found again there. When either
/// frame is nearly flat (black, a blank wall) the correlation means nothing, and the move
/// of the luma histogram decides instead.
///
/// A cross-fade changes the layout as much, but a little each frame. Block means are linear
/// in the pixels, so during a dissolve each frame's blocks are the straight-line mix of the
/// frames at its ends: a span of frames whose ends do not correlate (a new scene) while
/// every frame between lies on the line between them is a dissolve. Camera motion does not
/// move blocks along a line.
#[derive(Debug, Clone, Default)]
pub struct CutDetector {
    previous: Option<CutSignature>,
    /// The block means of the frames since the last cut, newest last (at most
    /// `DISSOLVE_LONGEST + 1`), `None` for a flat frame.
    history: VecDeque<Option<Vec<f32>>>,
}

#[derive(Debug, Clone)]
struct CutSignature {
    /// 32-bin luma histogram, normalised.
    hist: [f32; 32],
    /// Mean luma of each block, row by row.
    blocks: Vec<f32>,
    /// Standard deviation of the block means.
    spread: f32,
}

/// Block-mean correlation below which a frame starts a new scene. Chosen (2026-11-26) with a
/// Python replica of this sample and grid on the leak benchmark's dev video (9 cuts, 2 of
/// them dark-to-dark, fast pans and zooms) and the Hamilton clip (3 cuts): cuts −0.13 to
/// 0.47, other frames 0.77 or more; whip-pans 0.34–0.54; dips and cross-fades 0.94 or
/// more. The Hamilton cuts are checked on this code by a test.
pub const CUT_CORRELATION: f32 = 0.6;

/// Share of the histogram mass that must move between two frames for a cut when a frame is
/// too flat for the correlation.
pub const CUT_THRESHOLD: f32 = 0.5;

/// Block-mean spread (grey levels) under which a frame counts as flat.
const FLAT_SPREAD: f32 = 2.0;

/// Spans of frames searched for a dissolve: 3 to 16 frames (0.1 to 0.5 s at 30 fps).
const DISSOLVE_SHORTEST: usize = 3;
const DISSOLVE_LONGEST: usize = 16;

/// The largest distance of a frame inside a dissolve from the straight line between its
/// ends, as a share of the distance between the ends. Chosen (2026-11-27) with a Python
/// replica of this sample and grid on the leak benchmark's two videos (four 8-frame
/// cross-fades: 0.011–0.08 at the frames that end them) against everything else on them
/// and on the Hamilton clip (pans, zooms, whip-pans, dips: 0.16 or more).
pub const DISSOLVE_RESIDUAL: f32 = 0.1;

impl CutSignature {
    fn of(sample: &[u8], width: usize) -> Option<CutSignature> {
        if width == 0 || sample.len() < width {
            return None;
        }
        let height = sample.len() / width;
        let mut hist = [0f32; 32];
        for &v in &sample[..width * height] {
            hist[(v >> 3) as usize] += 1.0;
        }
        let n = (width * height) as f32;
        hist.iter_mut().for_each(|h| *h /= n);
        let (gx, gy) = if width >= height { (16, 9) } else { (9, 16) };
        let (gx, gy) = (gx.min(width), gy.min(height));
        let mut blocks = Vec::with_capacity(gx * gy);
        for by in 0..gy {
            let (y0, y1) = (by * height / gy, (by + 1) * height / gy);
            for bx in 0..gx {
                let (x0, x1) = (bx * width / gx, (bx + 1) * width / gx);
                let mut sum = 0u64;
                for row in sample[y0 * width..y1 * width].chunks_exact(width) {
                    sum += row[x0..x1].iter().map(|&v| v as u64).sum::<u64>();
                }
                blocks.push(sum as f32 / ((y1 - y0) * (x1 - x0)) as f32);
            }
        }
        let mean = blocks.iter().sum::<f32>() / blocks.len() as f32;
        let spread =
            (blocks.iter().map(|b| (b - mean).powi(2)).sum::<f32>() / blocks.len() as f32).sqrt();
        Some(CutSignature {
            hist,
            blocks,
            spread,
        })
    }

    fn is_cut_from(&self, previous: &CutSignature) -> bool {
        if self.blocks.len() == previous.blocks.len()
            && self.spread >= FLAT_SPREAD
            && previous.spread >= FLAT_SPREAD
        {
            return correlation(&self.blocks, &previous.blocks) < CUT_CORRELATION;
        }
        let moved: f32 = self
            .hist
            .iter()
            .zip(&previous.hist)
            .map(|(a, b)| (a - b).abs())
            .sum();
        moved / 2.0 > CUT_THRESHOLD
    }
}

/// Pearson correlation of two equally long series.
fn correlation(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len() as f32;
    let (ma, mb) = (a.iter().sum::<f32>() / n, b.iter().sum::<f32>() / n);
    let (mut ab, mut aa, mut bb) = (0.0, 0.0, 0.0);
    for (x, y) in a.iter().zip(b) {
        let (x, y) = (x - ma, y - mb);
        ab += x * y;
        aa += x * x;
        bb += y * y;
    }
    ab / (aa * bb).sqrt().max(1e-6)
}

/// Euclidean distance of two equally long series.
fn distance(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).powi(2))
        .sum::<f32>()
        .sqrt()
}

impl CutDetector {
    /// `sample`: the frame's luma sample, `width` values per row (`luma_sample`: the frame
    /// width / 4, rounded up). True when this frame starts a new scene.
    pub fn is_cut(&mut self, sample: &[u8], width: usize) -> bool {
        self.next(sample, width) == SceneChange::Cut
    }

    /// What this frame (its luma sample, as for [`Self::is_cut`]) is to the ones before it.
    pub fn next(&mut self, sample: &[u8], width: usize) -> SceneChange {
        let Some(signature) = CutSignature::of(sample, width) else {
            return SceneChange::None;
        };
        let cut = self
            .previous
            .as_ref()
            .is_some_and(|p| signature.is_cut_from(p));
        if cut {
            self.history.clear();
        }
        let blocks = (signature.spread >= FLAT_SPREAD).then(|| signature.blocks.clone());
        self.history.push_back(blocks);
        while self.history.len() > DISSOLVE_LONGEST + 1 {
            self.history.pop_front();
        }
        self.previous = Some(signature);
        if cut {
            return SceneChange::Cut;
        }
        match self.dissolve() {
            Some(back) => SceneChange::Dissolve { back },
            None => SceneChange::None,
        }
    }

    /// The span ending at the newest frame that is most nearly a dissolve, if one is: how
    /// many frames back its first mixed frame is.
    fn dissolve(&self) -> Option<u32> {
        let n = self.history.len();
        let last = self.history.back()?.as_ref()?;
        let mut best: Option<(f32, usize)> = None;
        for span in DISSOLVE_SHORTEST..=DISSOLVE_LONGEST.min(n.saturating_sub(1)) {
            let Some(first) = &self.history[n - 1 - span] else {
                continue;
            };
            if first.len() != last.len() || correlation(first, last) >= CUT_CORRELATION {
                continue;
            }
            let ends = distance(first, last).max(1e-3);
            let mut worst = 0f32;
            for k in 1..span {
                let Some(frame) = &self.history[n - 1 - span + k] else {
                    worst = f32::INFINITY;
                    break;
                };
                let t = k as f32 / span as f32;
                let off = frame
                    .iter()
                    .zip(first.iter().zip(last))
                    .map(|(v, (a, b))| (v - (a + (b - a) * t)).powi(2))
                    .sum::<f32>()
                    .sqrt();
                worst = worst.max(off / ends);
            }
            if worst < DISSOLVE_RESIDUAL && best.is_none_or(|(r, _)| worst < r) {
                best = Some((worst, span));
            }
        }
        // The span's first end is the line's t = 0: the last frame of the scene faded out
        // alone where that scene stood still (a frame further back lies off the line), so
        // the mix begins one frame later. Where the first end is already mixed (the scene
        // moved, its last frame off the line) this is one frame late, which only lets a new
        // face's boxes reach back onto a frame where that face is faint.
        best.map(|(_, span)| span as u32 - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cross_fades_are_seen_and_pans_and_dips_are_not() {
        // Two shots with different layouts, each with texture, 160×90 samples.
        let (w, h) = (160usize, 90usize);
        let shot = |seed: u32, shift: f32, gain: f32| -> Vec<f32> {
            (0..w * h)
                .map(|i| {
                    let (x, y) = ((i % w) as f32 + shift, (i / w) as f32);
                    let k = seed as f32;
                    let v = 120.0
                        + 60.0 * ((x * (0.05 + 0.02 * k)) + (y * (0.08 - 0.03 * k))).sin()
                        + 40.0 * ((x * 0.013 * (k + 1.0)) - y * 0.021).cos();
                    v * gain
                })
                .collect()
        };
        let bytes =
            |v: &[f32]| -> Vec<u8> { v.iter().map(|x| x.clamp(0.0, 255.0) as u8).collect() };
        let mix = |a: &[f32], b: &[f32], t: f32| -> Vec<u8> {
            bytes(
                &a.iter()
                    .zip(b)
                    .map(|(x, y)| x * (1.0 - t) + y * t)
                    .collect::<Vec<_>>(),
            )
        };
        let mut c = CutDetector::default();
        let mut changes = Vec::new();
        // Frames 0..20: shot 0 panning 2 sample px (8 px) a frame, then a dip to 30 % and
        // back; frames 26..34: an 8-frame cross-fade into shot 1; then shot 1.
        for f in 0..20 {
            changes.push(c.next(&bytes(&shot(0, f as f32 * 2.0, 1.0)), w));
        }
        for (f, gain) in [0.7, 0.4, 0.3, 0.4, 0.7, 1.0].into_iter().enumerate() {
            changes.push(c.next(&bytes(&shot(0, 40.0 + f as f32 * 2.0, gain)), w));
        }
        let (a, b) = (shot(0, 52.0, 1.0), shot(1, 0.0, 1.0));
        for f in 0..8 {
            changes.push(c.next(&mix(&a, &b, (f as f32 + 0.5) / 8.0), w));
        }
        for _ in 0..6 {
            changes.push(c.next(&bytes(&b), w));
        }
        assert!(
            changes[..26].iter().all(|c| *c == SceneChange::None),
            "a pan and a dip are no scene change: {changes:?}"
        );
        let seen: Vec<(usize, u32)> = changes
            .iter()
            .enumerate()
            .filter_map(|(i, c)| match c {
                SceneChange::Dissolve { back } => Some((i, *back)),
                _ => None,
            })
            .collect();
        assert!(!seen.is_empty(), "the cross-fade is seen: {changes:?}");
        // The first frame that mixes (26) or, as frame 25 lies off the line (the pan moved
        // it), one later.
        for &(i, back) in &seen {
            let start = i - back as usize;
            assert!(
                (26..=27).contains(&start),
                "fade starts at {start} (seen at {i})"
            );
            assert!((28..=36).contains(&i), "seen at {i}");
        }
        assert!(changes[37..].iter().all(|c| *c == SceneChange::None));
        // From a still shot the last frame before the fade lies on the line (its t = 0):
        // the fade starts on the frame after it, and no earlier (a new face's boxes
        // carried back to the fade's start would lie over the old shot alone). The first
        // report is the one the tracker acts on; once the fade is over, spans of the new
        // shot's frames fit the line about as well and start anywhere near.
        let mut c = CutDetector::default();
        let mut seen = Vec::new();
        let still = bytes(&a);
        for i in 0..30usize {
            let frame = match i {
                0..10 => still.clone(),
                10..18 => mix(&a, &b, (i - 9) as f32 / 9.0),
                _ => bytes(&b),
            };
            if let SceneChange::Dissolve { back } = c.next(&frame, w) {
                seen.push(i - back as usize);
            }
        }
        assert_eq!(seen.first(), Some(&10), "{seen:?}");
        assert!(seen.iter().all(|&s| (9..=11).contains(&s)), "{seen:?}");
        // The same two shots cut together are a cut, not a dissolve.
        let mut c = CutDetector::default();
        assert_eq!(c.next(&bytes(&a), w), SceneChange::None);
        assert_eq!(c.next(&bytes(&b), w), SceneChange::Cut);
    }

    #[test]
    fn cut_detector_sees_a_scene_change_not_motion_or_a_dip() {
        // A 160×90 sample of a scene: a bright window on the left, a gradient elsewhere.
        let (w, h) = (160usize, 90usize);
        let scene = |shift: usize, gain: f32, offset: f32| -> Vec<u8> {
            (0..w * h)
                .map(|i| {
                    let (x, y) = ((i % w + shift) as f32, (i / w) as f32);
                    let v = if x < 50.0 && y < 40.0 {
                        200.0
                    } else {
                        40.0 + x * 0.5 + y
                    };
                    (v * gain + offset).clamp(0.0, 255.0) as u8
                })
                .collect()
        };
        // Another shot: the window on the right, a gradient from the bottom.
        let other = |gain: f32| -> Vec<u8> {
            (0..w * h)
                .map(|i| {
                    let (x, y) = ((i % w) as f32, (i / w) as f32);
                    let v = if x > 100.0 && y > 40.0 {
                        200.0
                    } else {
                        220.0 - y * 1.5
                    };
                    (v * gain) as u8
                })
                .collect()
        };
        let mut c = CutDetector::default();
        assert!(!c.is_cut(&scene(0, 1.0, 0.0), w));
        assert!(!c.is_cut(&scene(3, 1.0, 0.0), w), "a pan is not a cut");
        assert!(!c.is_cut(&scene(3, 0.3, 0.0), w), "a dip is not a cut");
        assert!(!c.is_cut(&scene(3, 0.3, 5.0), w));
        // Dark to dark: the histograms hardly differ, the layout does.
        assert!(c.is_cut(&other(0.3), w), "a cut between two dark shots");
        assert!(!c.is_cut(&other(0.3), w));
        assert!(c.is_cut(&scene(0, 1.0, 0.0), w));
        // Flat frames: the histogram decides.
        let flat = |v: u8| vec![v; w * h];
        assert!(c.is_cut(&flat(10), w), "a cut to black");
        assert!(!c.is_cut(&flat(12), w));
        assert!(c.is_cut(&flat(200), w));
        assert!(!c.is_cut(&[], w), "an empty sample is no cut");
    }
}
