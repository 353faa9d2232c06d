// SPDX-License-Identifier: MIT OR Apache-2.0
//! # redacttrack
//!
//! Tracks the `face` and `license-plate` ROI metas of `redactdetect` (or any element) over
//! time, so that a face the detector misses for a few frames stays masked.
//!
//! SECTION:element-redacttrack
//!
//! ```text
//! gst-launch-1.0 filesrc location=../shared/data/video/short_hamilton_clip.mp4 ! decodebin ! \
//!     redactdetect interval=3 ! redacttrack lookahead=15 ! redactmask ! videoconvert ! \
//!     x264enc ! mp4mux ! filesink location=tracked.mp4
//! ```
//!
//! * Association in the ByteTrack manner: a constant-velocity Kalman filter per track,
//!   high-score detections matched first by IoU, then low-score ones to the tracks left.
//!   Every detection stays on the frame, matched or not.
//! * A track that loses its detections keeps a predicted box, growing slightly, for
//!   `max-age` frames (default: half a second at the stream's frame rate). This also fills
//!   the frames between runs of `redactdetect interval=N`.
//! * `lookahead` N (default 0, for live pipelines) holds N frames back: a new track is
//!   extended backwards over them, and gaps between two detections of a track are
//!   interpolated instead of predicted. The element adds N frame durations to the latency.
//! * `redactdetect`'s candidates (`face-candidate`, ...: finds below its threshold)
//!   continue tracks that two detections confirmed and lead a new track's backfill; a face
//!   candidate that recurs at the same place on `candidate-run` detector runs in a row (default 6,
//!   within the lookahead; up to 48 px high) starts a track of its own. They are removed.
//! * A scene cut (a large change of the luma histogram) ends every track: no box is carried
//!   across it, and no backfill reaches before it. In CUDA memory the luma sample is made
//!   by a kernel; only the sample comes to the host. `device` as on `redactdetect`.
//!
//! Output metas replace the input's `face` / `license-plate` ROI metas: same `roi_type`,
//! `id` = the track id (-1 for an untracked low-score detection), and the `detection`
//! param structure gains `track_id` (`gint`) and `origin` (`detected`, `predicted`,
//! `interpolated` or `backfilled`). Other ROI metas pass through untouched.

use gst::glib;
use gst::prelude::*;

mod imp;

pub use imp::DEFAULT_CANDIDATE_RUN;

glib::wrapper! {
    pub struct RedactTrack(ObjectSubclass<imp::RedactTrack>) @extends gst::Element, gst::Object;
}

/// Registers the element with a plugin, or statically (`None`).
pub fn register(plugin: Option<&gst::Plugin>) -> Result<(), glib::BoolError> {
    gst::Element::register(
        plugin,
        "redacttrack",
        gst::Rank::NONE,
        RedactTrack::static_type(),
    )
}
