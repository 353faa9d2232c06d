//! Extending a new track backwards over the held frames before its first detection: along
//! the detector's candidates where it saw the face ([`Chain`]), else along the picture's
//! measured motion and the track's own.

use std::collections::VecDeque;

use super::picture::{PictureLog, lerp_box};
use super::{FrameBoxes, Origin, TrackedBox, Tracker, mostly_inside};
use crate::algo::detection::{BBox, Detection, ObjectClass};
use crate::algo::motion::PictureMotion;

/// How far back along its own motion a track is backfilled: at most this many heights of
/// its first box. That motion is measured from two or three detections, and the farther it
/// is extrapolated the more it is wrong (a zoom or pan that starts just before the face is
/// found carried the boxes off the picture's content while the backfill did not follow the
/// picture's measured motion; that part is not extrapolated and not bounded). Measured
/// (2026-11-27, by dropping backfilled boxes from the dev video's detections): reach 1 / 2
/// / 3 / unlimited: 533 / 529 / 529 / 529 leaked face-frames, 342 / 432 / 477 / 574 boxes
/// on the backdrop.
const BACKFILL_REACH: f32 = 2.0;

/// What two detections of a face that does not move can differ by, in pixels: a constant
/// part and a part of the box's height. Measured on the leak benchmark's videos (whose faces
/// never move on their photos: each box's offset from the true one changes only by the
/// detector's jitter) between detections one and two frames apart: the 90th percentile is
/// 1.9 and 2.1 px for faces under 16 px high, 2.7 and 3.1 for 16–40 px, 3.6 and 4.3 above
/// (`seed2`: 1.8 and 2.4, 2.0 and 2.4, 3.7 and 4.8), about 1.5 px and 5 % of the height.
const DETECTION_JITTER_PX: f32 = 1.5;
const DETECTION_JITTER_H: f32 = 0.05;

/// What the picture's measured motion can be wrong by over a few frames, in pixels at a
/// face: on dark, noisy frames the estimator reads a zoom of 1–2 % now and then where
/// there is none (`bench/motion`).
const PICTURE_READ_PX: f32 = 1.0;

/// The noise in a face's own motion measured between two of its detections (boxes up to
/// `height` high), with the picture's measured motion taken out (`picture`) or not.
fn own_motion_noise(height: f32, picture: bool) -> f32 {
    DETECTION_JITTER_PX + DETECTION_JITTER_H * height + if picture { PICTURE_READ_PX } else { 0.0 }
}

/// `d` shortened by `noise` (and to nothing when it is shorter): a displacement is only
/// believed by what it exceeds its noise by.
fn shrink(d: (f32, f32), noise: f32) -> (f32, f32) {
    let len = d.0.hypot(d.1);
    if len <= noise {
        return (0.0, 0.0);
    }
    let k = (len - noise) / len;
    (d.0 * k, d.1 * k)
}

/// How many frames before its first detection a track is backfilled at most. A cross-fade
/// is seen only once it has mixed in most of the next scene (`CutDetector`: up to 16
/// frames, seen at its end), and the next scene's faces are often found early in it: a
/// backfill reaching further back lands in frames already released before the fade is
/// seen, on the previous scene. Measured (2026-11-27, by dropping backfilled boxes from the
/// dev video's detections with the second face scale): at most 6 / 8 / 10 / 12 / 15 (the
/// lookahead) frames: 422 / 419 / 419 / 419 / 419 leaked face-frames, 141 / 149 / 165 / 203
/// / 252 boxes on the backdrop (most of them on the two cross-fades).
const BACKFILL_FRAMES: u64 = 8;

/// A new track followed back through the candidates of the held frames before its first
/// detection: on each earlier frame the candidate that overlaps the box found after it
/// (IoU 0.5 or more; that box carried back along the picture's motion where it is known)
/// is the same face, a little less sure. What the detector saw is better than where the
/// track's motion would put it (a zoom that starts as the face is first found carried a
/// motion backfill off a still face before it followed the picture). It reaches back as
/// far as the held frames go (the lookahead), never before the scene's start: unlike the
/// motion backfill (`BACKFILL_FRAMES`) it is where the detector saw the face. Measured on
/// the leak benchmark's dev video against a chain held to 8 frames: 391 -> 385 leaked
/// face-frames (a masked child found 11 frames after a cut: now masked from the cut on),
/// the same 128 boxes on the backdrop. Frames without such a candidate (at most `max_gap`
/// in a row) are interpolated. A chained track gets no motion backfill.
pub(super) struct Chain {
    pub(super) id: u32,
    pub(super) class: ObjectClass,
    pub(super) score: f32,
    pub(super) first: u64,
    pub(super) first_box: BBox,
    pub(super) scene_start: u64,
    pub(super) max_gap: u32,
}

impl Chain {
    /// The candidates that lead back from the first box, latest first: (position in
    /// `candidates`, index among that frame's finds), one a frame at most. Each is
    /// compared with the box after it carried back along the picture's motion, where
    /// that is known (in a zoom the faces move apart and grow faster than a box's IoU
    /// with itself allows).
    pub(super) fn links(
        &self,
        candidates: &VecDeque<(u64, Vec<Detection>)>,
        pictures: &PictureLog,
    ) -> Vec<(usize, usize)> {
        let mut links = Vec::new();
        let (mut last, mut last_box) = (self.first, self.first_box);
        for (pos, (index, finds)) in candidates.iter().enumerate().rev() {
            if *index >= last {
                continue;
            }
            if *index < self.scene_start || last - *index > u64::from(self.max_gap) + 1 {
                break;
            }
            let expected = pictures
                .between(*index, last)
                .map_or(last_box, |m| m.inverse().apply_box(&last_box));
            let best = finds
                .iter()
                .enumerate()
                .filter(|(_, d)| d.class == self.class)
                .map(|(k, d)| (k, d.bbox.iou(&expected)))
                .filter(|&(_, iou)| iou >= 0.5)
                .max_by(|a, b| a.1.total_cmp(&b.1));
            if let Some((k, _)) = best {
                links.push((pos, k));
                (last, last_box) = (*index, finds[k].bbox);
            }
        }
        links
    }

    /// Adds the chain's boxes (`Origin::Backfilled`) along `found` (its [`Self::links`])
    /// to the held frames, and takes those candidates.
    pub(super) fn follow(
        &self,
        found: Vec<(usize, usize)>,
        held: &mut VecDeque<FrameBoxes>,
        candidates: &mut VecDeque<(u64, Vec<Detection>)>,
    ) {
        // (frame, box, score), latest first. One link a frame: taking one out leaves the
        // others' indices as they were.
        let mut links = vec![(self.first, self.first_box, self.score)];
        for (pos, k) in found {
            let (index, finds) = &mut candidates[pos];
            let d = finds.swap_remove(k);
            links.push((*index, d.bbox, d.score));
        }
        for pair in links.windows(2) {
            let ((to, b, _), (from, a, score)) = (pair[0], pair[1]);
            for h in held.iter_mut().filter(|h| h.index >= from && h.index < to) {
                h.boxes.push(TrackedBox {
                    class: self.class,
                    bbox: lerp_box(&a, &b, (h.index - from) as f32 / (to - from) as f32),
                    score,
                    track_id: Some(self.id),
                    origin: Origin::Backfilled,
                    points: Vec::new(),
                });
            }
        }
    }
}

impl Tracker {
    /// Backfills the tracks just seen a second time, or seen again while all their
    /// backfilled boxes are held (`backfills`: track id, first frame, first box, this
    /// box, this frame): along the candidates before the first detection ([`Chain`])
    /// where there are any, else before its first detection a track's box moves back along the
    /// picture's measured motion and its own against it (from its first two, or first
    /// and latest, detections, shortened by what the detector's jitter and a misread
    /// picture make of a still face: extrapolated back over up to eight frames, a few
    /// pixels of noise between two detections one frame apart carried a small face's
    /// boxes off its photo) where the picture's motion is known on every frame from
    /// the backfill's first to this one, else along the mean velocity between the
    /// detections; not before the scene's start, not where it is less than half inside
    /// the picture.
    pub(super) fn backfill(&mut self, backfills: Vec<(u32, u64, BBox, BBox, u64)>) {
        let cfg = self.config;
        for (id, first, a, b, now) in backfills {
            let Some(track) = self.tracks.iter_mut().find(|t| t.id == id) else {
                continue;
            };
            let (class, score) = (track.class, track.score);
            track.backfill_from = None;
            let chain = Chain {
                id,
                class,
                score,
                first,
                first_box: a,
                scene_start: self.scene_start,
                max_gap: cfg.two_runs() - 1,
            };
            // Along the candidates where there are any, else along the motion. Not along
            // the motion before the chain's start: where the candidates end the face is
            // often not there yet (a shot fading in, a face coming into the picture).
            // Measured on the leak benchmark: with a linear motion, 128 -> 157 boxes on
            // the dev video's backdrop, nothing closed; along the picture's motion
            // (seventh session, before the backfill stopped at the first box it drops),
            // dev 124 -> 123 leaked face-frames, seed2 95 -> 87, and 94 -> 118 and 54 -> 69
            // boxes on the backdrop (2 -> 8 and 17 -> 22 off both photos: boxes carried to
            // frames before a fade, or below a photo's edge). A
            // chained track is not backfilled again: `backfill_from` stays None, so it is
            // not placed anew when seen again.
            let found = chain.links(&self.held_candidates, &self.pictures);
            if !found.is_empty() {
                chain.follow(found, &mut self.held, &mut self.held_candidates);
                continue;
            }
            let reach: Vec<u64> = self
                .held
                .iter()
                .map(|h| h.index)
                .filter(|&i| i >= self.scene_start && i < first && i + BACKFILL_FRAMES >= first)
                .collect();
            // The picture's motion back from the first detection to each frame reached,
            // and from it to this frame.
            let carried: Option<(Vec<PictureMotion>, PictureMotion)> = reach
                .iter()
                .map(|&i| self.pictures.between(i, first).map(|m| m.inverse()))
                .collect::<Option<Vec<_>>>()
                .zip(self.pictures.between(first, now));
            let span = (now - first) as f32;
            let moved = carried.as_ref().map_or(a, |(_, m)| m.apply_box(&a));
            let ((bx, by), (mx, my)) = (b.centre(), moved.centre());
            let noise = own_motion_noise(a.h.max(b.h), carried.is_some());
            let (dx, dy) = shrink((bx - mx, by - my), noise);
            let (vx, vy) = (dx / span, dy / span);
            for held in self.held.iter_mut().filter(|h| reach.contains(&h.index)) {
                held.boxes
                    .retain(|bx| bx.track_id != Some(id) || bx.origin != Origin::Backfilled);
            }
            // Latest first, and no further back than the first frame where the box leaves
            // the picture or the reach: the picture's measured motion jitters, and a box
            // must not come back after a frame without one (a gap in the track).
            for (k, &index) in reach.iter().enumerate().rev() {
                let back = (first - index) as f32;
                let base = carried.as_ref().map_or(a, |(ms, _)| ms[k].apply_box(&a));
                let bbox = BBox::new(base.x - vx * back, base.y - vy * back, base.w, base.h);
                if !mostly_inside(&bbox, cfg.frame_size)
                    || (vx * back).hypot(vy * back) > BACKFILL_REACH * a.h
                {
                    break;
                }
                let Some(held) = self.held.iter_mut().find(|h| h.index == index) else {
                    break;
                };
                track.backfill_from = Some(index);
                // The points were seen on a later frame: not carried back.
                held.boxes.push(TrackedBox {
                    class,
                    bbox,
                    score,
                    track_id: Some(id),
                    origin: Origin::Backfilled,
                    points: Vec::new(),
                });
            }
        }
    }
}
