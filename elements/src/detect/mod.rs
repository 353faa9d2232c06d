// SPDX-License-Identifier: MIT OR Apache-2.0
//! # redactdetect
//!
//! Finds faces and licence plates with ONNX Runtime and attaches one
//! `GstVideoRegionOfInterestMeta` per detection. It never changes pixels.
//!
//! SECTION:element-redactdetect
//!
//! ```text
//! gst-launch-1.0 filesrc location=../shared/data/video/short_hamilton_clip.mp4 ! decodebin ! \
//!     redactdetect ! fakesink
//! ```
//!
//! The frame is read in its own format (I420, NV12, RGB, BGR, RGBA, BGRA, RGBx, BGRx,
//! GRAY8): no `videoconvert` is needed in front of the element. The same formats are
//! accepted in CUDA memory (`video/x-raw(memory:CUDAMemory)`, e.g. after `nvh264dec`): a
//! kernel builds each model's input in device memory and ONNX Runtime's CUDA provider runs
//! the model there, when the runtime is ONNX Runtime's CUDA build; otherwise the element
//! posts a warning and the models read the frame through a host mapping on the CPU.
//! `device` (`auto`, `cpu`, `cuda`) restricts the memory kinds (`cuda` also refuses CPU
//! inference); see `crate::cuda` for the CUDA context the elements share.
//!
//! ## The metadata contract
//!
//! For each detection the element adds a `GstVideoRegionOfInterestMeta`:
//!
//! * `roi_type`: `face` or `license-plate`;
//! * `x`, `y`, `w`, `h`: the box in frame pixels, rounded outwards (a box is never smaller
//!   than what the model found), clipped to the frame;
//! * `id`: -1 (`redacttrack` sets track ids);
//! * one param structure named `detection` with
//!   * `confidence` (`gdouble`, 0..1),
//!   * `class` (`gchararray`, same as `roi_type`),
//!   * faces: `landmarks` (`GstValueArray` of 10 `gdouble`: x, y of right eye, left eye,
//!     nose tip, right and left mouth corner, frame pixels),
//!   * plates: `corners` (`GstValueArray` of 8 `gdouble`: x, y of the four plate corners
//!     clockwise from top-left, frame pixels).
//!
//! Finds scored from `candidate-threshold` (0.1) up to the class's threshold are added
//! the same way with `roi_type` (and `class`) `face-candidate` or
//! `license-plate-candidate`. They are not detections: `redacttrack` uses them only to continue a
//! track it has (as ByteTrack uses its low-score detections) and removes them all, and
//! `redactmask` does not mask them unless its `roi-types` names them. A verification pass
//! (`verify`) adds none. `candidate-threshold=0` turns them off.
//!
//! With `interval` N > 1 the detector runs on frames 0, N, 2N, ... only; **the frames in
//! between carry no metas from this element** (put `redacttrack` after it to fill them).
//!
//! ## Threads
//!
//! The models run on `workers` frames at once, each worker on its own thread with its own
//! ONNX Runtime sessions of `threads` threads. Frames leave in their order; the element
//! holds up to two frames per worker and reports them as latency. By default video gets
//! one single-threaded worker per core (at most 4), which keeps every core busy at the
//! cost of no synchronisation inside a model run, and a still image (frame rate 0) gets
//! one worker with every core. Serialized events (caps, segment, EOS) wait until the
//! frames before them have left.
//!
//! The read-only `stats` structure counts frames and, per class, the CPU seconds spent
//! building model inputs, in ONNX Runtime and decoding outputs.

use gst::glib;
use gst::prelude::*;

mod imp;

pub use imp::{
    DEFAULT_CANDIDATE_THRESHOLD, DEFAULT_FACE_EXTRA_SCALE, DEFAULT_FACE_INPUT_SCALE,
    DEFAULT_FACE_INPUT_SIZE, DEFAULT_FACE_MODEL, DEFAULT_FACE_THRESHOLD, DEFAULT_INTERVAL,
    DEFAULT_PLATE_MODEL, DEFAULT_PLATE_THRESHOLD, DEFAULT_THREADS, DEFAULT_WORKERS,
};

glib::wrapper! {
    pub struct RedactDetect(ObjectSubclass<imp::RedactDetect>) @extends gst_base::BaseTransform, gst::Element, gst::Object;
}

/// Which object classes to detect.
#[glib::flags(name = "GstRedactClasses")]
pub enum Classes {
    #[flags_value(name = "Faces", nick = "face")]
    FACE = 0b01,
    #[flags_value(name = "Licence plates", nick = "license-plate")]
    LICENSE_PLATE = 0b10,
}

/// Registers the element with a plugin, or with no plugin (`None`) for tests and programs
/// that link the elements statically.
pub fn register(plugin: Option<&gst::Plugin>) -> Result<(), glib::BoolError> {
    Classes::static_type().mark_as_plugin_api(gst::PluginAPIFlags::empty());
    gst::Element::register(
        plugin,
        "redactdetect",
        gst::Rank::NONE,
        RedactDetect::static_type(),
    )
}
