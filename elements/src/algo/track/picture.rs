//! The picture's measured motion over the held frames ([`PictureLog`]: carrying boxes
//! between frames, interpolating along it, stretching boxes over a whip-pan's smear), and
//! the camera's motion as the tracks found on two frames in a row show it.

use std::collections::VecDeque;

use super::FrameBoxes;
use crate::algo::detection::BBox;
use crate::algo::motion::PictureMotion;

/// A box on a frame where the picture moved by more than this share of the box's height
/// at its place is stretched over the smear ([`PictureLog::smear`]).
const SMEAR_MIN: f32 = 1.0;

/// The picture's motion on each held frame and the current one, from the frame before
/// (measured, with camera-following; None where unknown), oldest first.
#[derive(Debug, Default)]
pub(super) struct PictureLog(VecDeque<(u64, Option<PictureMotion>)>);

impl PictureLog {
    pub(super) fn push(&mut self, frame: u64, motion: Option<PictureMotion>) {
        self.0.push_back((frame, motion));
    }

    /// Forgets the frames before `frame`.
    pub(super) fn forget_before(&mut self, frame: u64) {
        while self.0.front().is_some_and(|&(i, _)| i < frame) {
            self.0.pop_front();
        }
    }

    /// The picture's motion from frame `from` to the later frame `to`: its motions on
    /// the frames after `from` up to `to`, composed; None when one of them is unknown
    /// (or no longer held).
    pub(super) fn between(&self, from: u64, to: u64) -> Option<PictureMotion> {
        let mut motion = PictureMotion::shift(0.0, 0.0);
        let mut next = from + 1;
        for (frame, m) in self.0.iter().filter(|(i, _)| *i > from && *i <= to) {
            if *frame != next {
                return None;
            }
            motion = motion.then(m.as_ref()?);
            next += 1;
        }
        (next == to + 1).then_some(motion)
    }

    /// A frame's boxes, stretched where the picture moved fast: the camera's motion blur
    /// spreads a face along the picture's path during the exposure (in a whip-pan, the
    /// whole frame's motion), and the measured motion lags the smear (the sharp frame
    /// before matches best where the blurred picture lingered: 28 px read where the
    /// photo moved 53, `bench/motion`). A box that the picture carried by more than
    /// `SMEAR_MIN` of its height on this frame grows by that motion along it, centred.
    pub(super) fn smear(&self, frame: &mut FrameBoxes) {
        let Some(motion) = frame
            .index
            .checked_sub(1)
            .and_then(|before| self.between(before, frame.index))
        else {
            return;
        };
        let back = motion.inverse();
        for b in &mut frame.boxes {
            let (cx, cy) = b.bbox.centre();
            let (x, y) = back.apply((cx, cy));
            let (dx, dy) = ((cx - x).abs(), (cy - y).abs());
            if dx.hypot(dy) > SMEAR_MIN * b.bbox.h {
                let r = &b.bbox;
                b.bbox = BBox::new(r.x - dx / 2.0, r.y - dy / 2.0, r.w + dx, r.h + dy);
            }
        }
    }

    /// A box on frame `at` between box `a` on frame `from` and `b` on the later frame
    /// `to`: `a` carried forward and `b` carried back along the picture's motion, their
    /// centres blended by time (what is left is the track's own motion against the
    /// picture, taken as steady), at the larger of their sizes (where the two disagree,
    /// one of the detections found only part of the face); where the picture's motion
    /// is unknown on a frame between, blended as they are. In a zoom the faces move and
    /// grow faster and faster, which a straight line between two boxes does not follow.
    pub(super) fn interpolate(
        &self,
        (from, a): (u64, &BBox),
        (to, b): (u64, &BBox),
        at: u64,
    ) -> BBox {
        let t = (at - from) as f32 / (to - from) as f32;
        match (self.between(from, at), self.between(at, to)) {
            (Some(forward), Some(back)) => {
                let (a, b) = (forward.apply_box(a), back.inverse().apply_box(b));
                let (ca, cb) = (a.centre(), b.centre());
                let (cx, cy) = (ca.0 + (cb.0 - ca.0) * t, ca.1 + (cb.1 - ca.1) * t);
                let (w, h) = (a.w.max(b.w), a.h.max(b.h));
                BBox::new(cx - w / 2.0, cy - h / 2.0, w, h)
            }
            _ => lerp_box(a, b, t),
        }
    }
}

/// Tracks found on both frames needed to measure the camera's motion.
const CAMERA_PAIRS_MIN: usize = 3;

/// The camera moves when it carries the tracks by more than this share of their height a
/// frame (or zooms by as much): less, and each track keeps its own motion.
const CAMERA_MOTION_MIN: f32 = 0.1;

/// The camera's motion from one frame to the next as the tracks found on both show it,
/// from (box on the frame before, box now) of each: the median zoom (from the distances
/// between them) and shift, when at least two thirds of the tracks agree with them (within
/// 0.3 box heights) and they move the boxes by more than `CAMERA_MOTION_MIN`.
pub(super) fn camera_motion(pairs: &[(BBox, BBox)]) -> Option<PictureMotion> {
    if pairs.len() < CAMERA_PAIRS_MIN {
        return None;
    }
    let median = |mut v: Vec<f32>| -> f32 {
        v.sort_by(f32::total_cmp);
        v[v.len() / 2]
    };
    // The zoom from how the distances between tracks change (a box's own height
    // jitters by several per cent from frame to frame; the distance between two faces
    // hundreds of pixels apart hardly does): the median ratio over the pairs of tracks
    // at least a box height apart; none such: no zoom.
    let mut ratios = Vec::new();
    for (i, (a1, b1)) in pairs.iter().enumerate() {
        for (a2, b2) in &pairs[i + 1..] {
            let (p, q) = (a1.centre(), a2.centre());
            let before = (p.0 - q.0).hypot(p.1 - q.1);
            if before >= a1.h.max(a2.h) {
                let (p, q) = (b1.centre(), b2.centre());
                ratios.push((p.0 - q.0).hypot(p.1 - q.1) / before);
            }
        }
    }
    let scale = if ratios.is_empty() {
        1.0
    } else {
        median(ratios)
    };
    let shift = (
        median(
            pairs
                .iter()
                .map(|(a, b)| b.centre().0 - scale * a.centre().0)
                .collect(),
        ),
        median(
            pairs
                .iter()
                .map(|(a, b)| b.centre().1 - scale * a.centre().1)
                .collect(),
        ),
    );
    let motion = PictureMotion { scale, shift };
    let agree = pairs
        .iter()
        .filter(|(a, b)| {
            let (x, y) = motion.apply(a.centre());
            let (bx, by) = b.centre();
            (x - bx).hypot(y - by) <= 0.3 * b.h
        })
        .count();
    let moved = median(
        pairs
            .iter()
            .map(|(a, _)| {
                let (x, y) = motion.apply(a.centre());
                (x - a.centre().0).hypot(y - a.centre().1) / a.h.max(1.0)
            })
            .collect(),
    );
    (3 * agree >= 2 * pairs.len()
        && (moved > CAMERA_MOTION_MIN || (scale - 1.0).abs() > CAMERA_MOTION_MIN / 2.0))
        .then_some(motion)
}

pub(super) fn lerp_box(a: &BBox, b: &BBox, t: f32) -> BBox {
    let l = |x: f32, y: f32| x + (y - x) * t;
    BBox::new(l(a.x, b.x), l(a.y, b.y), l(a.w, b.w), l(a.h, b.h))
}
