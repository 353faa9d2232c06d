//! One track's state: a constant-velocity Kalman filter per box coordinate, the boxes it
//! was first and last found at, and how it moves with the picture and without a detection.

use crate::algo::detection::{BBox, Detection, ObjectClass};
use crate::algo::motion::PictureMotion;

/// A constant-velocity Kalman filter on one coordinate (position and velocity). The four
/// box coordinates are independent, so four of these are the usual 8-state box filter.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Kalman1 {
    pub(super) p: f32,
    pub(super) v: f32,
    pub(super) cov: [[f32; 2]; 2],
}

/// Velocity kept per frame without a detection.
const VELOCITY_DAMPING: f32 = 0.9;

// Noise relative to the box height, as ByteTrack / DeepSORT.
const STD_POSITION: f32 = 1.0 / 20.0;
const STD_VELOCITY: f32 = 1.0 / 160.0;

impl Kalman1 {
    pub(super) fn new(z: f32, scale: f32) -> Kalman1 {
        let sp = 2.0 * STD_POSITION * scale;
        let sv = 10.0 * STD_VELOCITY * scale;
        Kalman1 {
            p: z,
            v: 0.0,
            cov: [[sp * sp, 0.0], [0.0, sv * sv]],
        }
    }

    pub(super) fn predict(&mut self, scale: f32) {
        let [[a, b], [c, d]] = self.cov;
        let (qp, qv) = (
            (STD_POSITION * scale).powi(2),
            (STD_VELOCITY * scale).powi(2),
        );
        self.p += self.v;
        // F P F^T + Q with F = [[1, 1], [0, 1]].
        self.cov = [[a + b + c + d + qp, b + d], [c + d, d + qv]];
    }

    pub(super) fn update(&mut self, z: f32, scale: f32) {
        let r = (STD_POSITION * scale).powi(2);
        let [[a, b], [c, d]] = self.cov;
        let s = a + r;
        let (k0, k1) = (a / s, c / s);
        let y = z - self.p;
        self.p += k0 * y;
        self.v += k1 * y;
        self.cov = [[(1.0 - k0) * a, (1.0 - k0) * b], [c - k1 * a, d - k1 * b]];
    }
}

#[derive(Debug, Clone)]
pub(super) struct Track {
    pub(super) id: u32,
    pub(super) class: ObjectClass,
    /// cx, cy, w, h.
    pub(super) filters: [Kalman1; 4],
    pub(super) score: f32,
    pub(super) points: Vec<[f32; 2]>,
    /// Frame and box of the last detection.
    pub(super) last_frame: u64,
    pub(super) last_box: BBox,
    /// Frame and box of the first detection (backfilled boxes are placed from it).
    pub(super) first_frame: u64,
    pub(super) first_box: BBox,
    /// The first frame it was backfilled into, if any.
    pub(super) backfill_from: Option<u64>,
    /// Detections matched so far.
    pub(super) hits: u32,
    pub(super) misses: u32,
    /// The camera's zoom since the last detection (predicted boxes are scaled by it).
    pub(super) zoom: f32,
    /// Matched by a first-pass detection at least once. A track of the verification
    /// pass's finds alone is bridged between them (interpolated, predicted as long as a
    /// track found once) but not backfilled: the second model is looser, and its stray
    /// boxes are not to grow into tracks.
    pub(super) first_pass: bool,
    /// Frame and box of the last verified find masked under this (first-pass) track's id.
    pub(super) attached: Option<(u64, BBox)>,
    /// Not (yet) confirmed by a detection: started by a run of candidates, or begun
    /// within a cross-fade that has ended (it may be a face of the scene faded out). It
    /// keeps a predicted box only as long as a track found once, until a detection (not
    /// a candidate) matches it.
    pub(super) unconfirmed: bool,
    /// Begun within a cross-fade that has ended, and matched by nothing (detection or
    /// candidate) since: if it ends so, it was a face of the scene faded out, and its
    /// predicted boxes, over the new scene, are taken back. (With a found-once life of 4
    /// frames this unmasked a face of the new scene on the leak benchmark's dev video,
    /// found within the fade and missed on the 5 frames after it; with 8 it is found
    /// again in time.)
    pub(super) faded_in: bool,
}

impl Track {
    pub(super) fn new(id: u32, d: &Detection, frame: u64, first_pass: bool) -> Track {
        let b = d.bbox;
        let scale = b.h.max(1.0);
        Track {
            id,
            class: d.class,
            filters: [b.x + b.w / 2.0, b.y + b.h / 2.0, b.w, b.h].map(|z| Kalman1::new(z, scale)),
            score: d.score,
            points: d.points.clone(),
            last_frame: frame,
            last_box: b,
            first_frame: frame,
            first_box: b,
            backfill_from: None,
            hits: 1,
            misses: 0,
            zoom: 1.0,
            first_pass,
            attached: None,
            unconfirmed: false,
            faded_in: false,
        }
    }

    pub(super) fn scale(&self) -> f32 {
        self.filters[3].p.max(1.0)
    }

    pub(super) fn predict(&mut self) {
        let scale = self.scale();
        for f in &mut self.filters {
            f.predict(scale);
        }
    }

    /// The predicted box: the filter's centre, the size and shape of the last detection
    /// (a size velocity, extrapolated, would stretch it), grown with the frames since the
    /// last detection.
    pub(super) fn predicted_box(&self, growth: f32) -> BBox {
        let (cx, cy) = (self.filters[0].p, self.filters[1].p);
        let g = (1.0 + growth * self.misses as f32).min(1.5) * self.zoom;
        let (w, h) = (self.last_box.w * g, self.last_box.h * g);
        BBox::new(cx - w / 2.0, cy - h / 2.0, w, h)
    }

    /// Before matching: the track moves with the picture's measured motion, and a zoom
    /// scales its box and its own velocity (which is its motion against the picture).
    pub(super) fn move_with(&mut self, motion: &PictureMotion) {
        let (x, y) = motion.apply((self.filters[0].p, self.filters[1].p));
        self.filters[0].p = x;
        self.filters[1].p = y;
        self.rescale(motion.scale);
        self.filters[0].v *= motion.scale;
        self.filters[1].v *= motion.scale;
    }

    pub(super) fn rescale(&mut self, scale: f32) {
        self.filters[2].p *= scale;
        self.filters[3].p *= scale;
        self.zoom *= scale;
    }

    /// After a miss while the camera moves: the box moves with the picture (`motion`, from
    /// `centre`, where the track was on the frame before). Its velocity becomes that
    /// motion; but when the picture's motion is measured on every frame (`picture`, this
    /// frame's, which the track has moved with already), the velocity is the track's own
    /// motion against the picture and stays, and the tracks' zoom replaces the picture's.
    pub(super) fn follow(
        &mut self,
        motion: &PictureMotion,
        centre: (f32, f32),
        picture: Option<&PictureMotion>,
    ) {
        let (x, y) = motion.apply(centre);
        self.filters[0].p = x;
        self.filters[1].p = y;
        if picture.is_none() {
            self.filters[0].v = x - centre.0;
            self.filters[1].v = y - centre.1;
        }
        self.rescale(motion.scale / picture.map_or(1.0, |p| p.scale));
    }

    /// After a miss: the velocity is trusted less with each frame without a detection, so a
    /// lost track slows down instead of sailing off.
    pub(super) fn damp(&mut self) {
        for f in &mut self.filters {
            f.v *= VELOCITY_DAMPING;
        }
    }

    pub(super) fn update(&mut self, d: &Detection, frame: u64) {
        let b = d.bbox;
        let scale = b.h.max(1.0);
        for (f, z) in self
            .filters
            .iter_mut()
            .zip([b.x + b.w / 2.0, b.y + b.h / 2.0, b.w, b.h])
        {
            f.update(z, scale);
        }
        self.score = d.score;
        self.points = d.points.clone();
        self.last_frame = frame;
        self.last_box = b;
        self.misses = 0;
        self.hits += 1;
        self.zoom = 1.0;
    }
}
