//! Multi-object tracking in the ByteTrack manner, plus lookahead: stable ids, boxes kept
//! through missed frames, gaps filled by interpolation and tracks extended backwards.
//!
//! Every frame goes in with its detections (an empty list when the detector found nothing
//! or did not run); frames come out `lookahead` frames later, when no later detection can
//! change them any more. A box says how it was made (`Origin`).

mod backfill;
mod picture;
mod state;
#[cfg(test)]
mod tests;

use std::collections::VecDeque;

use super::detection::{BBox, Detection, ObjectClass, mostly_covered};
use super::motion::PictureMotion;
use super::scene::SceneChange;

use backfill::Chain;
use picture::{PictureLog, camera_motion};
use state::Track;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Found by the detector on this frame.
    Detected,
    /// Carried by the track's motion model on a frame without a matching detection.
    Predicted,
    /// Between two detections of the same track, filled in afterwards.
    Interpolated,
    /// Before the track's first detection, filled in afterwards (within the lookahead).
    Backfilled,
    /// Found on this frame by the verification pass (a second model, outside the first
    /// pass's boxes).
    Verified,
}

impl Origin {
    pub fn as_str(self) -> &'static str {
        match self {
            Origin::Detected => "detected",
            Origin::Predicted => "predicted",
            Origin::Interpolated => "interpolated",
            Origin::Backfilled => "backfilled",
            Origin::Verified => "verified",
        }
    }
}

/// One box on one output frame.
#[derive(Debug, Clone, PartialEq)]
pub struct TrackedBox {
    pub class: ObjectClass,
    pub bbox: BBox,
    pub score: f32,
    /// None for a low-score detection that matched no track (still masked).
    pub track_id: Option<u32>,
    pub origin: Origin,
    pub points: Vec<[f32; 2]>,
}

/// One output frame: its index in the stream and its boxes.
#[derive(Debug, Clone, PartialEq)]
pub struct FrameBoxes {
    pub index: u64,
    pub boxes: Vec<TrackedBox>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrackerConfig {
    /// Detections at or above this score are matched first and may start tracks.
    pub high_threshold: f32,
    /// Detections between this and `high_threshold` only extend existing tracks.
    pub low_threshold: f32,
    /// Minimum IoU between a track's predicted box and a detection to match them.
    pub match_iou: f32,
    /// Frames a track lives on predicted boxes after its last detection.
    pub max_age: u32,
    /// Frames held back to backfill and interpolate.
    pub lookahead: u32,
    /// Relative growth of a predicted box per frame without a detection (capped at 1.5x).
    pub growth_per_frame: f32,
    /// Frame width and height (0 = unknown): predicted and backfilled boxes less than half
    /// inside the picture are dropped, and such a track ends.
    pub frame_size: (u32, u32),
    /// Missed faces move with the camera while it moves (`camera_motion`) instead of on
    /// their own velocity: far fewer boxes left behind on empty background in pans and
    /// zooms (`redacttrack` turns it on by default: README "Leaks").
    pub follow_camera: bool,
    /// Frames from one detector run to the next (the detector's `interval`; 1 = every
    /// frame): a frame without detections may be one the detector skipped, so a track
    /// found once lives through one missed run ([`Self::unconfirmed_max_age`]).
    pub detect_interval: u32,
    /// A face found below the detector's threshold (a candidate) that recurs at the same place on
    /// this many detector runs in a row (each linked to the next at IoU 0.5, a run missed
    /// now and then) starts a track of its own, backfilled along them (0 = never): a
    /// blurred or covered face that the detector is never sure of, but sees every time.
    /// Such a track keeps a predicted box only as long as a track found once until a
    /// detection confirms it. At most one fewer than the runs the lookahead holds is
    /// asked for (`candidate_runs_needed`); candidates higher than
    /// `CANDIDATE_RUN_MAX_HEIGHT` never start one.
    pub candidate_run: u32,
}

impl TrackerConfig {
    /// Frames a track found only once keeps a predicted box: `UNCONFIRMED_MAX_AGE`, and at
    /// least two detector runs (found on one, missed on the next, found again on the one
    /// after: the frames between are covered).
    pub fn unconfirmed_max_age(&self) -> u32 {
        UNCONFIRMED_MAX_AGE.max(self.two_runs())
    }

    /// Detector runs a candidate must recur on to start a track: `candidate_run`, at
    /// least 2, and at most one fewer than the runs the lookahead holds with the current
    /// frame, so that one run may miss it (with a lookahead of 15 frames and
    /// `detect_interval` 3, 6 runs are held: 5 of them).
    fn candidate_runs_needed(&self) -> u32 {
        let held = self.lookahead / self.detect_interval.max(1) + 1;
        self.candidate_run.min(held.saturating_sub(1)).max(2)
    }

    /// Frames spanned by two detector runs: a face missed on one run is seen again this
    /// many frames after it was last seen.
    fn two_runs(&self) -> u32 {
        2 * self.detect_interval.max(1)
    }
}

impl Default for TrackerConfig {
    fn default() -> Self {
        TrackerConfig {
            high_threshold: 0.5,
            low_threshold: 0.1,
            match_iou: 0.2,
            max_age: 15,
            lookahead: 0,
            growth_per_frame: 0.03,
            frame_size: (0, 0),
            follow_camera: false,
            detect_interval: 1,
            candidate_run: 0,
        }
    }
}

/// Frames a track found only once (or not yet confirmed) keeps a predicted box, detecting
/// on every frame (with `interval` N, at least 2N: [`TrackerConfig::unconfirmed_max_age`]).
/// A face the detector finds once in a dark or blurred shot is still there on the next
/// frames, and its box moves with the picture; a stray find's box is a ghost as long. On
/// the leak benchmark (2026-11-27, with a faded-in track's unfound boxes taken back) at
/// 4 / 6 / 8 frames: README "Leaks".
const UNCONFIRMED_MAX_AGE: u32 = 8;

/// Candidates higher than this (in pixels) start no track however often they recur: the
/// faces the detector sees but is never sure of are small (blurred, covered faces in a
/// crowd); a large find it is never sure of is rarely a face. On the leak benchmark's dev
/// video, without it, the candidate runs' tracks of boxes 128-450 px high (whole photos,
/// scored 0.1-0.3) took the masked area from 8.5 % to 12-13 % of the picture.
const CANDIDATE_RUN_MAX_HEIGHT: f32 = 48.0;

/// A track missed on a frame whose predicted box overlaps a box another track found on it
/// by this much (IoU) is a second track of that face (begun while the first was lost, and
/// the first found again): it ends, as BoT-SORT drops duplicate tracks, instead of
/// sailing off the face with its own velocity. On the leak benchmark's dev video such a
/// track's 100-140 px box drifted off the face for 15 frames after a zoom stopped, the
/// last 4 of them over the backdrop.
const DUPLICATE_IOU: f32 = 0.5;

/// Greedy one-to-one matching by IoU, best first. Returns (track index, detection index).
fn associate(
    tracks: &[(usize, BBox, ObjectClass)],
    dets: &[(usize, &Detection)],
    min_iou: f32,
) -> Vec<(usize, usize)> {
    let mut pairs = Vec::new();
    for (ti, (_, tb, tc)) in tracks.iter().enumerate() {
        for (di, (_, d)) in dets.iter().enumerate() {
            if d.class == *tc {
                let iou = tb.iou(&d.bbox);
                if iou >= min_iou {
                    pairs.push((iou, ti, di));
                }
            }
        }
    }
    pairs.sort_by(|a, b| b.0.total_cmp(&a.0));
    let (mut t_used, mut d_used) = (vec![false; tracks.len()], vec![false; dets.len()]);
    let mut out = Vec::new();
    for (_, ti, di) in pairs {
        if !t_used[ti] && !d_used[di] {
            t_used[ti] = true;
            d_used[di] = true;
            out.push((tracks[ti].0, dets[di].0));
        }
    }
    out
}

pub struct Tracker {
    config: TrackerConfig,
    tracks: Vec<Track>,
    next_id: u32,
    /// Frames not yet released, oldest first.
    held: VecDeque<FrameBoxes>,
    /// The candidates of the held frames that continued no track (frame index, finds).
    held_candidates: VecDeque<(u64, Vec<Detection>)>,
    /// The picture's motion on the held frames and the current one.
    pictures: PictureLog,
    next_index: u64,
    /// First frame after the last scene cut: nothing is carried or backfilled before it.
    scene_start: u64,
    /// The frame of the last hard cut.
    last_cut: Option<u64>,
    /// The first frame of a cross-fade under way: the tracks begun before it end when the
    /// fade is over.
    fading_from: Option<u64>,
}

impl Tracker {
    pub fn new(config: TrackerConfig) -> Tracker {
        Tracker {
            config,
            tracks: Vec::new(),
            next_id: 1,
            held: VecDeque::new(),
            held_candidates: VecDeque::new(),
            pictures: PictureLog::default(),
            next_index: 0,
            scene_start: 0,
            last_cut: None,
            fading_from: None,
        }
    }

    pub fn config(&self) -> &TrackerConfig {
        &self.config
    }

    /// Number of tracks alive now.
    pub fn live_tracks(&self) -> usize {
        self.tracks.len()
    }

    /// Adds the next frame and its detections, and what it is to the frames before it
    /// (a cut: nothing carried over; a cross-fade: see [`Self::dissolve`]). Returns the
    /// frames that are final now, oldest first.
    pub fn push(&mut self, detections: &[Detection], change: SceneChange) -> Vec<FrameBoxes> {
        self.push_frame(FrameInput {
            detections,
            change,
            ..FrameInput::default()
        })
    }

    /// [`Self::push`] with all a frame can bring ([`FrameInput`]).
    pub fn push_frame(&mut self, input: FrameInput) -> Vec<FrameBoxes> {
        let FrameInput {
            detections: first,
            candidates,
            verified,
            change,
            picture,
        } = input;
        // The first pass's detections, then its candidates, then the verification pass's.
        let detections: Vec<Detection> = first
            .iter()
            .chain(candidates)
            .chain(verified)
            .cloned()
            .collect();
        let first_pass_end = first.len() + candidates.len();
        let is_detection = |di: usize| di < first.len();
        let is_first = |di: usize| di < first_pass_end;
        let is_candidate = |di: usize| is_first(di) && !is_detection(di);
        let unconfirmed_max_age = self.config.unconfirmed_max_age();
        let origin_of = |di: usize| {
            if is_first(di) {
                Origin::Detected
            } else {
                Origin::Verified
            }
        };
        let frame = self.next_index;
        self.next_index += 1;
        match change {
            SceneChange::Cut => {
                self.tracks.clear();
                // A cut on the frame after a cut would leave the frames between a scene of
                // their own: a whip-pan's smear between two framings (or a flash), where the
                // detector finds nothing and no track is carried. They go with the next
                // scene (its start stays at the first of those cuts), so that the faces
                // found there are carried back onto them along the picture's motion (the
                // leak benchmark's whip-pans: every face of such a frame leaked).
                if self.last_cut.is_none_or(|c| c + 1 != frame) {
                    self.scene_start = frame;
                }
                self.last_cut = Some(frame);
                self.fading_from = None;
            }
            SceneChange::Dissolve { back } => self.dissolve(frame.saturating_sub(back.into())),
            SceneChange::None => {
                if let Some(start) = self.fading_from.take() {
                    self.fade_ended(start);
                }
            }
        }
        // Where each track was (its filter) before this frame, for the camera's motion.
        let before: Vec<(f32, f32)> = if self.config.follow_camera {
            self.tracks
                .iter()
                .map(|t| (t.filters[0].p, t.filters[1].p))
                .collect()
        } else {
            Vec::new()
        };
        for t in &mut self.tracks {
            t.predict();
        }
        let cfg = self.config;
        // The picture's shift, measured (with camera-following): every track moves with
        // it, as BoT-SORT's camera-motion compensation does, and its velocity is its motion
        // against the picture. In a whip-pan the faces are smeared past any detector, but
        // their boxes go where the picture takes them, and they are found again there; a
        // face the camera follows keeps its place (its velocity cancels the shift).
        let picture = picture.filter(|_| cfg.follow_camera);
        self.pictures.push(frame, picture);
        if let Some(motion) = &picture {
            for t in &mut self.tracks {
                t.move_with(motion);
            }
        }
        let high: Vec<(usize, &Detection)> = detections
            .iter()
            .enumerate()
            .filter(|(di, d)| is_detection(*di) && d.score >= cfg.high_threshold)
            .collect();
        let low: Vec<(usize, &Detection)> = detections
            .iter()
            .enumerate()
            .filter(|(di, d)| {
                is_detection(*di) && d.score < cfg.high_threshold && d.score >= cfg.low_threshold
            })
            .collect();
        let weak: Vec<(usize, &Detection)> = detections
            .iter()
            .enumerate()
            .filter(|(di, d)| is_candidate(*di) && d.score >= cfg.low_threshold)
            .collect();
        let second: Vec<(usize, &Detection)> = detections
            .iter()
            .enumerate()
            .filter(|(di, d)| !is_first(*di) && d.score >= cfg.low_threshold)
            .collect();
        // Each track's box for matching: the filter's centre, the last detection's size
        // scaled by the picture's zoom since (as its predicted box, without the growth). The
        // filter's size velocity, extrapolated over a gap, shrank or grew it away from the
        // face: on the leak benchmark's seed2 a small face in a dark zoom-out was missed
        // when the zoom stopped, and its low-score finds (IoU 0.5) no longer matched.
        let predicted: Vec<(usize, BBox, ObjectClass)> = self
            .tracks
            .iter()
            .enumerate()
            .map(|(i, t)| (i, t.predicted_box(0.0), t.class))
            .collect();

        // Each stage matches its detections against the tracks left unmatched that it lets
        // in. Stage 1: high-score detections against all tracks. Stage 2: low-score
        // detections, with a stricter overlap. Then the candidates, against the tracks that
        // two detections of the first pass confirmed: a stray find of the first pass is not
        // kept alive by them. Stage 3: the verification pass's detections against the
        // tracks of its own finds. They do not steer the first pass's tracks: the second
        // model draws its boxes differently (CenterFace's box of a masked face is often its
        // lower part).
        let mut matched_track = vec![None; self.tracks.len()];
        let mut matched_det = vec![false; detections.len()];
        let tracks = &self.tracks;
        let mut stage =
            |dets: &[(usize, &Detection)], min_iou: f32, lets_in: &dyn Fn(&Track) -> bool| {
                let left: Vec<(usize, BBox, ObjectClass)> = predicted
                    .iter()
                    .filter(|(i, _, _)| matched_track[*i].is_none() && lets_in(&tracks[*i]))
                    .copied()
                    .collect();
                for (ti, di) in associate(&left, dets, min_iou) {
                    matched_track[ti] = Some(di);
                    matched_det[di] = true;
                }
            };
        stage(&high, cfg.match_iou, &|_| true);
        stage(&low, cfg.match_iou.max(0.5), &|_| true);
        stage(&weak, cfg.match_iou.max(0.5), &|t| {
            t.first_pass && t.hits >= 2
        });
        stage(&second, cfg.match_iou, &|t| !t.first_pass);

        // The camera's motion, from the tracks found on the frame before and on this one:
        // the tracks missed on this frame move with the picture.
        let camera = if cfg.follow_camera {
            let pairs: Vec<(BBox, BBox)> = self
                .tracks
                .iter()
                .zip(&matched_track)
                .filter(|(t, m)| m.is_some() && t.last_frame + 1 == frame)
                .map(|(t, m)| (t.last_box, detections[m.unwrap()].bbox))
                .collect();
            camera_motion(&pairs)
        } else {
            None
        };

        // The boxes the first pass found for tracks on this frame (a duplicate of one of
        // them that goes unmatched ends: `DUPLICATE_IOU`).
        let found: Vec<(usize, ObjectClass, BBox)> = matched_track
            .iter()
            .enumerate()
            .filter_map(|(ti, m)| m.filter(|&di| is_first(di)).map(|di| (ti, di)))
            .map(|(ti, di)| (ti, detections[di].class, detections[di].bbox))
            .collect();
        let mut boxes = Vec::new();
        let mut interpolations: Vec<(u32, u64, BBox, BBox)> = Vec::new();
        // Tracks seen a second time, to backfill now that their motion is known, and tracks
        // seen again whose backfilled boxes are all still held, to place them anew: (track
        // id, first frame, first box, this box, this frame).
        let mut backfills: Vec<(u32, u64, BBox, BBox, u64)> = Vec::new();
        for (ti, track) in self.tracks.iter_mut().enumerate() {
            match matched_track[ti] {
                Some(di) => {
                    let d = &detections[di];
                    if frame > track.last_frame + 1 {
                        interpolations.push((track.id, track.last_frame, track.last_box, d.bbox));
                    }
                    // Backfilled boxes are moved only while all of them are held (else
                    // the track would jump where the released ones stay).
                    let replace = track
                        .backfill_from
                        .is_some_and(|from| self.held.front().is_some_and(|h| h.index <= from));
                    if track.first_pass && (track.hits == 1 || replace) {
                        backfills.push((
                            track.id,
                            track.first_frame,
                            track.first_box,
                            d.bbox,
                            frame,
                        ));
                    }
                    track.update(d, frame);
                    track.first_pass |= is_first(di);
                    track.unconfirmed &= is_candidate(di);
                    track.faded_in = false;
                    boxes.push(from_detection(d, Some(track.id), origin_of(di)));
                }
                None => {
                    track.misses += 1;
                    track.damp();
                    if let Some(motion) = &camera {
                        track.follow(motion, before[ti], picture.as_ref());
                    }
                    let bbox = track.predicted_box(cfg.growth_per_frame);
                    let duplicate = found.iter().any(|&(other, class, b)| {
                        other != ti && class == track.class && b.iou(&bbox) >= DUPLICATE_IOU
                    });
                    // Left the picture, a second track of a face found on this frame, or
                    // found once only or unconfirmed and missed for longer than such a
                    // track lives (its own motion unknown, it may be a stray find): the
                    // track ends.
                    if !mostly_inside(&bbox, cfg.frame_size)
                        || duplicate
                        || ((track.hits < 2 || !track.first_pass || track.unconfirmed)
                            && track.misses > unconfirmed_max_age)
                    {
                        track.misses = cfg.max_age + 1;
                    }
                    if track.misses <= cfg.max_age {
                        boxes.push(TrackedBox {
                            class: track.class,
                            bbox,
                            score: track.score,
                            track_id: Some(track.id),
                            origin: Origin::Predicted,
                            points: Vec::new(),
                        });
                    }
                }
            }
        }
        // A track of one verification find alone that ends unfound: its predicted boxes
        // (all still held while unconfirmed_max_age < lookahead) bridged nothing. One found
        // twice is a face the first pass misses: it keeps them, as a first-pass track
        // found once does (with --interval 3 an audience face of the Hamilton clip found
        // on two runs went unmasked on the five frames up to the next find). Nor did those
        // of a track begun within a cross-fade and not found after it (`Track::faded_in`).
        let unfound: Vec<u32> = self
            .tracks
            .iter()
            .filter(|t| t.misses > cfg.max_age && ((!t.first_pass && t.hits < 2) || t.faded_in))
            .map(|t| t.id)
            .collect();
        if !unfound.is_empty() {
            for held in &mut self.held {
                held.boxes.retain(|b| {
                    b.origin != Origin::Predicted
                        || b.track_id.is_none_or(|id| !unfound.contains(&id))
                });
            }
        }
        self.tracks.retain(|t| t.misses <= cfg.max_age);

        // Unmatched detections: high ones start tracks (backfilled once they are seen
        // again), low ones are still masked, untracked. A verified one (nearly) wholly
        // inside a box of the first pass's is masked already.
        // The first pass's boxes on this frame (its tracks' and its untracked detections'),
        // taken once, at the first verified detection: the first pass's come first.
        let mut first_pass_boxes: Option<(Vec<BBox>, Vec<Option<u32>>)> = None;
        // Verified finds masked under a first-pass track's id on this frame and an earlier
        // one: (track id, class, score, earlier frame, earlier box, this box).
        let mut attached_bridges = Vec::new();
        for (di, d) in detections.iter().enumerate() {
            // A candidate only continues a track: alone it is not masked.
            if is_candidate(di) {
                continue;
            }
            if !is_first(di) && !matched_det[di] {
                let (regions, ids) = first_pass_boxes.get_or_insert_with(|| {
                    boxes
                        .iter()
                        .filter(|b| {
                            b.origin != Origin::Verified
                                && b.track_id.is_none_or(|id| {
                                    self.tracks.iter().any(|t| t.id == id && t.first_pass)
                                })
                        })
                        .map(|b| (b.bbox, b.track_id))
                        .unzip()
                });
                if mostly_covered(&d.bbox, regions.iter()) {
                    continue;
                }
                // One that overlaps a first-pass track's box is that face: masked under
                // the track's id (a reviewer who keeps the track visible keeps all of
                // it), without steering the track.
                let owner = regions
                    .iter()
                    .zip(ids.iter())
                    .filter(|(_, id)| id.is_some())
                    .map(|(b, id)| (b.iou(&d.bbox), *id))
                    .filter(|(iou, _)| *iou >= cfg.match_iou)
                    .max_by(|a, b| a.0.total_cmp(&b.0));
                if let Some((_, id)) = owner {
                    // Bridged from the track's last such find, as a track of verified
                    // finds would be (with --interval 3 the frames between go unchecked).
                    if let Some(track) = self.tracks.iter_mut().find(|t| Some(t.id) == id) {
                        if let Some((from, a)) = track.attached
                            && frame > from + 1
                            && frame <= from + u64::from(unconfirmed_max_age) + 1
                        {
                            attached_bridges.push((
                                track.id,
                                track.class,
                                track.score,
                                from,
                                a,
                                d.bbox,
                            ));
                        }
                        track.attached = Some((frame, d.bbox));
                    }
                    boxes.push(from_detection(d, id, Origin::Verified));
                    continue;
                }
            }
            if matched_det[di] || d.score < cfg.low_threshold.min(cfg.high_threshold) {
                if !matched_det[di] {
                    boxes.push(from_detection(d, None, origin_of(di)));
                }
                continue;
            }
            if d.score >= cfg.high_threshold {
                let track = Track::new(self.next_id, d, frame, is_first(di));
                self.next_id += 1;
                boxes.push(from_detection(d, Some(track.id), origin_of(di)));
                self.tracks.push(track);
            } else {
                boxes.push(from_detection(d, None, origin_of(di)));
            }
        }

        // Amend held frames: interpolate gaps, backfill new tracks (never across a cut).
        for (id, from, a, b) in interpolations {
            for held in self.held.iter_mut().filter(|h| h.index > from) {
                let between = self
                    .pictures
                    .interpolate((from, &a), (frame, &b), held.index);
                for bx in held
                    .boxes
                    .iter_mut()
                    .filter(|bx| bx.track_id == Some(id) && bx.origin == Origin::Predicted)
                {
                    bx.bbox = between;
                    bx.origin = Origin::Interpolated;
                }
            }
        }
        for (id, class, score, from, a, b) in attached_bridges {
            for held in self.held.iter_mut().filter(|h| h.index > from) {
                held.boxes.push(TrackedBox {
                    class,
                    bbox: self
                        .pictures
                        .interpolate((from, &a), (frame, &b), held.index),
                    score,
                    track_id: Some(id),
                    origin: Origin::Interpolated,
                    points: Vec::new(),
                });
            }
        }
        self.backfill(backfills);

        if cfg.candidate_run > 0 {
            let candidates = first.len()..first_pass_end;
            self.start_candidate_runs(frame, &detections, candidates, &mut matched_det, &mut boxes);
        }

        self.held.push_back(FrameBoxes {
            index: frame,
            boxes,
        });
        let unused: Vec<Detection> = detections
            .into_iter()
            .enumerate()
            .filter(|(di, _)| is_candidate(*di) && !matched_det[*di])
            .map(|(_, d)| d)
            .collect();
        self.held_candidates.push_back((frame, unused));
        let mut out = Vec::new();
        while self.held.len() > cfg.lookahead as usize {
            if let Some(mut released) = self.held.pop_front() {
                self.pictures.smear(&mut released);
                out.push(released);
            }
            self.held_candidates.pop_front();
        }
        self.pictures
            .forget_before(self.held.front().map_or(frame, |h| h.index));
        out
    }

    /// The face candidates of this frame that matched no track and recur on the
    /// candidate run's detector runs before it ([`TrackerConfig::candidate_run`]) start
    /// tracks, followed back along them; not where a box of this frame covers them
    /// already. Plates are left out: their threshold is already low (0.2), and on the
    /// Hamilton clip, which has none, their runs added 32 false plate boxes.
    fn start_candidate_runs(
        &mut self,
        frame: u64,
        detections: &[Detection],
        candidates: std::ops::Range<usize>,
        matched_det: &mut [bool],
        boxes: &mut Vec<TrackedBox>,
    ) {
        let cfg = self.config;
        let mut order: Vec<usize> = candidates
            .filter(|&di| {
                let d = &detections[di];
                !matched_det[di]
                    && d.class == ObjectClass::Face
                    && d.score >= cfg.low_threshold
                    && d.bbox.h <= CANDIDATE_RUN_MAX_HEIGHT
            })
            .collect();
        order.sort_by(|&a, &b| detections[b].score.total_cmp(&detections[a].score));
        for di in order {
            let d = &detections[di];
            let faces = boxes.iter().filter(|b| b.class == d.class).map(|b| &b.bbox);
            if mostly_covered(&d.bbox, faces) {
                continue;
            }
            let chain = Chain {
                id: self.next_id,
                class: d.class,
                score: d.score,
                first: frame,
                first_box: d.bbox,
                scene_start: self.scene_start,
                max_gap: cfg.two_runs() - 1,
            };
            let found = chain.links(&self.held_candidates, &self.pictures);
            let runs = found.len() as u32 + 1;
            if runs < cfg.candidate_runs_needed() {
                continue;
            }
            chain.follow(found, &mut self.held, &mut self.held_candidates);
            let mut track = Track::new(self.next_id, d, frame, true);
            self.next_id += 1;
            track.hits = runs;
            track.unconfirmed = true;
            matched_det[di] = true;
            boxes.push(from_detection(d, Some(track.id), Origin::Detected));
            self.tracks.push(track);
        }
    }

    /// A cross-fade from frame `start` on, seen on the current frame (a fade is seen only
    /// once it has mixed in enough of the next scene). It is the cut between the scenes,
    /// spread over frames: the tracks begun within it are not backfilled before it (boxes
    /// already backfilled there, while held, are taken back), and the tracks begun before
    /// it are not predicted past its end (they end at the first frame after it).
    fn dissolve(&mut self, start: u64) {
        if self.fading_from.is_some() {
            return;
        }
        let start = start.max(self.scene_start);
        self.fading_from = Some(start);
        self.scene_start = start;
        let new: Vec<u32> = self
            .tracks
            .iter_mut()
            .filter(|t| t.first_frame >= start)
            .map(|t| {
                t.backfill_from = t.backfill_from.filter(|&f| f >= start);
                t.id
            })
            .collect();
        for held in self.held.iter_mut().filter(|h| h.index < start) {
            held.boxes.retain(|b| {
                b.origin != Origin::Backfilled || b.track_id.is_none_or(|id| !new.contains(&id))
            });
        }
    }

    /// The cross-fade begun on frame `start` is over (its last frame is the newest held):
    /// the tracks of the scene it left end, and their boxes predicted on that last frame,
    /// which shows the new scene alone, are taken back. The tracks begun within it may
    /// belong to either scene: they must be found again ([`Track::unconfirmed`]), and
    /// the predicted boxes of one that ends unfound are taken back ([`Track::faded_in`]).
    fn fade_ended(&mut self, start: u64) {
        let old: Vec<u32> = self
            .tracks
            .iter()
            .filter(|t| t.first_frame < start)
            .map(|t| t.id)
            .collect();
        if let Some(last) = self.held.back_mut() {
            last.boxes.retain(|b| {
                b.origin != Origin::Predicted || b.track_id.is_none_or(|id| !old.contains(&id))
            });
        }
        self.tracks.retain(|t| t.first_frame >= start);
        for t in &mut self.tracks {
            t.unconfirmed = true;
            t.faded_in = true;
        }
    }

    /// Releases every held frame (end of stream).
    pub fn flush(&mut self) -> Vec<FrameBoxes> {
        self.held_candidates.clear();
        let mut out: Vec<FrameBoxes> = self.held.drain(..).collect();
        for frame in &mut out {
            self.pictures.smear(frame);
        }
        self.pictures = PictureLog::default();
        out
    }

    /// Forgets everything (seek, flush): the next frame is index 0 of a new scene.
    pub fn reset(&mut self) {
        *self = Tracker::new(self.config);
    }
}

/// Whether at least half of `b` lies inside a frame of `size` (always, when it is unknown).
fn mostly_inside(b: &BBox, size: (u32, u32)) -> bool {
    let (w, h) = (size.0 as f32, size.1 as f32);
    w <= 0.0 || h <= 0.0 || b.clip(w, h).area() >= 0.5 * b.area()
}

fn from_detection(d: &Detection, track_id: Option<u32>, origin: Origin) -> TrackedBox {
    TrackedBox {
        class: d.class,
        bbox: d.bbox,
        score: d.score,
        track_id,
        origin,
        points: d.points.clone(),
    }
}

/// One frame's input to [`Tracker::push_frame`].
#[derive(Debug, Clone, Copy, Default)]
pub struct FrameInput<'a> {
    /// The first pass's detections.
    pub detections: &'a [Detection],
    /// The first pass's candidates: finds scored below the detector's threshold. Like
    /// ByteTrack's low-score detections they only continue a track (matched to the tracks
    /// the detections left that two first-pass detections confirmed, at IoU 0.5 at least),
    /// and a new track is backfilled along them back to its first sight; one that does neither is
    /// dropped.
    pub candidates: &'a [Detection],
    /// The verification pass's (a second model, outside the first pass's boxes): their
    /// boxes `Origin::Verified`; one (nearly) wholly inside a first-pass box is dropped,
    /// one that overlaps a first-pass track's box is masked under its id without steering
    /// it, the others are matched to tracks of their own, which are interpolated between
    /// finds, predicted as long as a track found once (taken back when no find follows)
    /// and never backfilled.
    pub verified: &'a [Detection],
    /// What the frame is to the ones before it.
    pub change: SceneChange,
    /// The picture's motion since the previous frame (`motion::MotionEstimator`), when
    /// known: with `follow_camera`, tracks move (and scale) with it.
    pub picture: Option<PictureMotion>,
}
