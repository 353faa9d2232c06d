// SPDX-License-Identifier: MIT OR Apache-2.0
//! The `redacttrack` element: holds up to `lookahead` frames, feeds their ROI metas to
//! `algo::track::Tracker`, and rewrites the metas of each frame as it is released.

use std::collections::VecDeque;
use std::ops::ControlFlow;
use std::sync::{LazyLock, Mutex};

use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;

use crate::algo::cost::Stopwatch;
use crate::algo::detection::{BBox, Detection, ObjectClass};
use crate::algo::frame::PixelFormat;
use crate::algo::motion::MotionEstimator;
use crate::algo::scene::{CutDetector, SceneChange, luma_sample};
use crate::algo::track::{FrameBoxes, FrameInput, Origin, Tracker, TrackerConfig};
use crate::cuda::element::{ContextHandler, Device, Path};
use crate::cuda::{self, CudaFrameMap, Engine};
use crate::roi;
use crate::stats::ElementStats;
use crate::video::{frame_of, in_place_templates, yuv_matrix};

static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new(
        "redacttrack",
        gst::DebugColorFlags::empty(),
        Some("gst-redact tracker"),
    )
});

const DEFAULT_MAX_AGE: u32 = 0;
const DEFAULT_LOOKAHEAD: u32 = 0;
// Every detection `redactdetect` emits at its default thresholds (faces 0.3, plates 0.2)
// may start a track: one that cannot is masked on its own frame only, and with `interval`
// N > 1 the frames up to the next detector run would go unmasked.
const DEFAULT_HIGH_THRESHOLD: f64 = 0.2;
const DEFAULT_LOW_THRESHOLD: f64 = 0.1;
const DEFAULT_MATCH_IOU: f64 = 0.2;
// Measured on the leak benchmark's two videos (pixels: 520 -> 497 and 417 -> 392 leaked
// face-frames; boxes on the backdrop 470 -> 194 and 703 -> 315) and the Hamilton clip
// (re-detection 15 -> 13); the dev video's box-based score leaks 13 frames more (README
// "Leaks").
const DEFAULT_FOLLOW_CAMERA: bool = true;
const DEFAULT_INTERVAL: u32 = 1;
/// Detector runs a candidate must recur on to start a track (0 = never): see
/// `TrackerConfig::candidate_run`. Measured on the leak benchmark (README "Leaks"; off /
/// 12 / 8 / 6 runs): dev video 382 / 238 / 214 / 152 leaked face-frames, 12.3 / 15.1 /
/// 16.9 / 18.2 false face boxes a frame, masked area 8.5 / 8.7 / 8.7 / 8.8 %; `seed2`
/// 125 / 103 / 103 / 104. Recall first: 6.
pub const DEFAULT_CANDIDATE_RUN: u32 = 6;

#[derive(Debug, Clone)]
struct Settings {
    device: Device,
    max_age: u32,
    lookahead: u32,
    high_threshold: f64,
    low_threshold: f64,
    match_iou: f64,
    follow_camera: bool,
    interval: u32,
    candidate_run: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            device: Device::Auto,
            max_age: DEFAULT_MAX_AGE,
            lookahead: DEFAULT_LOOKAHEAD,
            high_threshold: DEFAULT_HIGH_THRESHOLD,
            low_threshold: DEFAULT_LOW_THRESHOLD,
            match_iou: DEFAULT_MATCH_IOU,
            follow_camera: DEFAULT_FOLLOW_CAMERA,
            interval: DEFAULT_INTERVAL,
            candidate_run: DEFAULT_CANDIDATE_RUN,
        }
    }
}

enum Held {
    Buffer(gst::Buffer),
    Event(gst::Event),
}

#[derive(Default)]
struct State {
    info: Option<gst_video::VideoInfo>,
    format: Option<PixelFormat>,
    path: Option<Path>,
    tracker: Option<Tracker>,
    cuts: CutDetector,
    /// The picture's motion, for camera-following.
    motion: MotionEstimator,
    held: VecDeque<Held>,
    /// The kernels, on the CUDA path (the cut detector's sample is made on the device).
    engine: Option<Engine>,
}

pub struct RedactTrack {
    sinkpad: gst::Pad,
    srcpad: gst::Pad,
    settings: Mutex<Settings>,
    state: Mutex<State>,
    stats: Mutex<ElementStats>,
    cuda: ContextHandler,
}

fn class_of(roi_type: &str) -> Option<ObjectClass> {
    match roi_type {
        "face" => Some(ObjectClass::Face),
        "license-plate" => Some(ObjectClass::LicensePlate),
        _ => None,
    }
}

/// The face / plate regions the tracker reads and replaces: detections and candidates.
fn is_ours(roi_type: &str) -> bool {
    class_of(roi::candidate_class(roi_type).unwrap_or(roi_type)).is_some()
}

/// The buffer's face / plate ROI metas as detections: the first pass's, its candidates
/// (`face-candidate`, ...), and those a verification pass before this element added
/// (origin "verified").
struct Regions {
    first: Vec<Detection>,
    candidates: Vec<Detection>,
    verified: Vec<Detection>,
}

fn detections_of(buffer: &gst::BufferRef) -> Regions {
    let (candidates, rest): (Vec<_>, Vec<_>) = roi::read_all(buffer)
        .into_iter()
        .partition(|r| roi::candidate_class(&r.roi_type).is_some());
    let (verified, first): (Vec<_>, Vec<_>) = rest
        .into_iter()
        .partition(|r| r.origin == Origin::Verified.as_str());
    let convert = |rois: Vec<roi::Roi>| -> Vec<Detection> {
        rois.into_iter()
            .filter_map(|r| {
                let (x, y, w, h) = r.rect;
                let roi_type = roi::candidate_class(&r.roi_type).unwrap_or(&r.roi_type);
                Some(Detection {
                    class: class_of(roi_type)?,
                    bbox: BBox::new(x as f32, y as f32, w as f32, h as f32),
                    score: r.confidence as f32,
                    points: r
                        .points
                        .iter()
                        .map(|p| [p[0] as f32, p[1] as f32])
                        .collect(),
                })
            })
            .collect()
    };
    Regions {
        first: convert(first),
        candidates: convert(candidates),
        verified: convert(verified),
    }
}

/// Replaces the buffer's face / plate ROI metas with the tracker's boxes.
fn write_boxes(buffer: &mut gst::BufferRef, frame: &FrameBoxes, width: u32, height: u32) {
    buffer.foreach_meta_mut(|mut meta| {
        let ours = meta
            .downcast_ref::<gst_video::VideoRegionOfInterestMeta>()
            .is_some_and(|m| is_ours(m.roi_type()));
        ControlFlow::Continue(if ours {
            gst::buffer::BufferMetaForeachAction::Remove
        } else {
            gst::buffer::BufferMetaForeachAction::Keep
        })
    });
    for b in &frame.boxes {
        if let Some(rect) = roi::rect_outwards(&b.bbox, width, height) {
            let id = b.track_id.map_or(-1, |id| id as i32);
            roi::attach(
                buffer,
                b.class.as_str(),
                rect,
                id,
                b.score as f64,
                &b.points,
                Some(b.origin.as_str()),
            );
        }
    }
}

/// Boxes on the frames about to be sent on.
fn boxes_in(items: &[Held]) -> usize {
    items
        .iter()
        .map(|h| match h {
            Held::Buffer(b) => b
                .iter_meta::<gst_video::VideoRegionOfInterestMeta>()
                .count(),
            Held::Event(_) => 0,
        })
        .sum()
}

/// The luma sample for cut detection of a frame in system memory (empty when it cannot be
/// read: then no cut is seen).
fn host_luma_sample(
    buffer: &gst::BufferRef,
    info: &gst_video::VideoInfo,
    format: PixelFormat,
) -> Vec<u8> {
    let Ok(vframe) = gst_video::VideoFrameRef::from_buffer_ref_readable(buffer, info) else {
        return Vec::new();
    };
    let Ok(frame) = frame_of(&vframe, format) else {
        return Vec::new();
    };
    luma_sample(&frame)
}

/// The same sample made on the device from a frame in CUDA memory; only the sample (a
/// 32nd of the frame's pixels) comes to the host.
fn device_luma_sample(
    engine: &mut Option<Engine>,
    buffer: &gst::BufferRef,
    info: &gst_video::VideoInfo,
    format: PixelFormat,
) -> Result<Vec<u8>, cuda::CudaError> {
    let Some(ctx) = cuda::memory_context(buffer) else {
        // Not CUDA memory after all: read it on the host.
        return Ok(host_luma_sample(buffer, info, format));
    };
    let map = CudaFrameMap::readable(buffer, info)?;
    let engine = cuda::engine_for(engine, ctx)?;
    engine.luma_sample(&map.device_frame(format, yuv_matrix(info)))
}

impl RedactTrack {
    fn config(&self, info: Option<&gst_video::VideoInfo>) -> TrackerConfig {
        let s = self.settings.lock().unwrap().clone();
        let fps = info
            .map(|i| i.fps())
            .filter(|f| f.numer() > 0)
            .map(|f| f.numer() as f64 / f.denom() as f64);
        let max_age = if s.max_age > 0 {
            s.max_age
        } else {
            fps.map_or(15, |f| (f / 2.0).round().max(1.0) as u32)
        };
        TrackerConfig {
            high_threshold: s.high_threshold as f32,
            low_threshold: s.low_threshold as f32,
            match_iou: s.match_iou as f32,
            max_age,
            lookahead: s.lookahead,
            frame_size: info.map_or((0, 0), |i| (i.width(), i.height())),
            follow_camera: s.follow_camera,
            detect_interval: s.interval,
            candidate_run: s.candidate_run,
            ..TrackerConfig::default()
        }
    }

    /// Pairs released frames with the oldest held buffers (events in between go out in
    /// order) and returns what to push.
    fn release(state: &mut State, frames: Vec<FrameBoxes>) -> Vec<Held> {
        let (w, h) = state
            .info
            .as_ref()
            .map_or((u32::MAX, u32::MAX), |i| (i.width(), i.height()));
        let mut out = Vec::new();
        for frame in frames {
            while let Some(item) = state.held.pop_front() {
                match item {
                    Held::Event(e) => out.push(Held::Event(e)),
                    Held::Buffer(mut buffer) => {
                        write_boxes(buffer.make_mut(), &frame, w, h);
                        out.push(Held::Buffer(buffer));
                        break;
                    }
                }
            }
        }
        out
    }

    fn push_out(&self, items: Vec<Held>) -> Result<gst::FlowSuccess, gst::FlowError> {
        let mut flow = Ok(gst::FlowSuccess::Ok);
        for item in items {
            match item {
                Held::Buffer(b) => {
                    flow = self.srcpad.push(b);
                    if flow.is_err() {
                        break;
                    }
                }
                Held::Event(e) => {
                    self.srcpad.push_event(e);
                }
            }
        }
        flow
    }

    fn sink_chain(
        &self,
        _pad: &gst::Pad,
        buffer: gst::Buffer,
    ) -> Result<gst::FlowSuccess, gst::FlowError> {
        let mut watch = Stopwatch::start();
        let out = {
            let mut state = self.state.lock().unwrap();
            let info = state.info.clone();
            let format = state.format;
            if state.tracker.is_none() {
                let config = self.config(info.as_ref());
                gst::info!(CAT, imp = self, "tracking with {config:?}");
                state.tracker = Some(Tracker::new(config));
            }
            let regions = detections_of(&buffer);
            let follow_camera = state
                .tracker
                .as_ref()
                .expect("created above")
                .config()
                .follow_camera;
            let (cut, picture) = match (info.as_ref(), format) {
                (Some(i), Some(format)) => {
                    let sample = if state.path == Some(Path::Cuda) {
                        device_luma_sample(&mut state.engine, &buffer, i, format).map_err(|e| {
                            gst::element_imp_error!(
                                self,
                                gst::StreamError::Failed,
                                ("CUDA scene-cut sample failed: {e}")
                            );
                            gst::FlowError::Error
                        })?
                    } else {
                        host_luma_sample(&buffer, i, format)
                    };
                    let width = (i.width() as usize).div_ceil(4);
                    let picture = if follow_camera {
                        state.motion.next(&sample, width)
                    } else {
                        None
                    };
                    (state.cuts.next(&sample, width), picture)
                }
                _ => (SceneChange::None, None),
            };
            if cut != SceneChange::None {
                gst::debug!(CAT, imp = self, "{cut:?} at {:?}: tracks end", buffer.pts());
            }
            if let Some(m) = picture {
                gst::log!(
                    CAT,
                    imp = self,
                    "picture motion at {:?}: {m:?}",
                    buffer.pts()
                );
            }
            state.held.push_back(Held::Buffer(buffer));
            let released = state
                .tracker
                .as_mut()
                .expect("created above")
                .push_frame(FrameInput {
                    detections: &regions.first,
                    candidates: &regions.candidates,
                    verified: &regions.verified,
                    change: cut,
                    picture,
                });
            Self::release(&mut state, released)
        };
        self.stats.lock().unwrap().add(boxes_in(&out), watch.lap());
        self.push_out(out)
    }

    fn drain(&self) -> Vec<Held> {
        let mut state = self.state.lock().unwrap();
        let released = state
            .tracker
            .as_mut()
            .map(Tracker::flush)
            .unwrap_or_default();
        let mut out = Self::release(&mut state, released);
        // Anything left (events after the last buffer) goes out in order.
        out.extend(state.held.drain(..));
        out
    }

    fn sink_event(&self, pad: &gst::Pad, event: gst::Event) -> bool {
        match event.view() {
            gst::EventView::Caps(c) => {
                let (info, format, path) = match cuda::element::negotiated(
                    self.obj().upcast_ref(),
                    &self.cuda,
                    c.caps(),
                ) {
                    Ok(negotiated) => negotiated,
                    Err(e) => {
                        gst::element_imp_error!(self, gst::CoreError::Negotiation, ("{e}"));
                        return false;
                    }
                };
                gst::debug!(CAT, imp = self, "{path:?} path for {}", c.caps());
                let mut state = self.state.lock().unwrap();
                state.info = Some(info);
                state.format = Some(format);
                state.path = Some(path);
            }
            gst::EventView::Eos(_) => {
                let mut watch = Stopwatch::start();
                let out = self.drain();
                let mut stats = self.stats.lock().unwrap();
                stats.regions += boxes_in(&out) as u64;
                stats.cpu += watch.lap();
                drop(stats);
                let _ = self.push_out(out);
                return self.srcpad.push_event(event);
            }
            gst::EventView::FlushStop(_) => {
                let mut state = self.state.lock().unwrap();
                state.held.clear();
                state.tracker = None;
                state.cuts = CutDetector::default();
                state.motion.reset();
            }
            _ => {}
        }
        if event.is_serialized() && !matches!(event.view(), gst::EventView::FlushStop(_)) {
            let mut state = self.state.lock().unwrap();
            if !state.held.is_empty() {
                state.held.push_back(Held::Event(event));
                return true;
            }
        }
        gst::Pad::event_default(pad, Some(&*self.obj()), event)
    }

    /// Queries on either pad: the CUDA context, and caps restricted to `device`.
    fn query(&self, pad: &gst::Pad, query: &mut gst::QueryRef) -> bool {
        let device = self.settings.lock().unwrap().device;
        if self.cuda.query(self.obj().upcast_ref(), device, query) {
            return true;
        }
        match query.view_mut() {
            gst::QueryViewMut::Caps(q) => {
                let filter = q.filter_owned();
                let mut upstream = gst::query::Caps::new(filter.as_ref());
                let peer = if pad == &self.sinkpad {
                    &self.srcpad
                } else {
                    &self.sinkpad
                };
                let caps = if peer.peer_query(&mut upstream) {
                    upstream.result_owned().unwrap_or_else(gst::Caps::new_empty)
                } else {
                    pad.pad_template_caps()
                };
                let caps = cuda::element::transform_caps(device, &caps, filter.as_ref());
                q.set_result(&caps);
                true
            }
            gst::QueryViewMut::AcceptCaps(q) => {
                let ok = q.caps().is_subset(&cuda::element::device_caps(device));
                if !ok {
                    q.set_result(false);
                    return true;
                }
                gst::Pad::query_default(pad, Some(&*self.obj()), query)
            }
            _ => gst::Pad::query_default(pad, Some(&*self.obj()), query),
        }
    }

    fn src_query(&self, pad: &gst::Pad, query: &mut gst::QueryRef) -> bool {
        if let gst::QueryViewMut::Latency(q) = query.view_mut() {
            let mut upstream = gst::query::Latency::new();
            if !self.sinkpad.peer_query(&mut upstream) {
                return false;
            }
            let (live, min, max) = upstream.result();
            let state = self.state.lock().unwrap();
            let lookahead = self.settings.lock().unwrap().lookahead as u64;
            let frame = state
                .info
                .as_ref()
                .map(|i| i.fps())
                .filter(|f| f.numer() > 0)
                .map_or(gst::ClockTime::from_mseconds(40), |f| {
                    gst::ClockTime::from_nseconds(
                        1_000_000_000 * f.denom() as u64 / f.numer() as u64,
                    )
                });
            let added = frame * lookahead;
            gst::debug!(
                CAT,
                imp = self,
                "latency: upstream {min}..{max:?} + lookahead {added}"
            );
            q.set(live, min + added, max.map(|m| m + added));
            return true;
        }
        self.query(pad, query)
    }
}

#[glib::object_subclass]
impl ObjectSubclass for RedactTrack {
    const NAME: &'static str = "GstRedactTrack";
    type Type = super::RedactTrack;
    type ParentType = gst::Element;

    fn with_class(klass: &Self::Class) -> Self {
        let sinkpad = gst::Pad::builder_from_template(&klass.pad_template("sink").unwrap())
            .chain_function(|pad, parent, buffer| {
                RedactTrack::catch_panic_pad_function(
                    parent,
                    || Err(gst::FlowError::Error),
                    |t| t.sink_chain(pad, buffer),
                )
            })
            .event_function(|pad, parent, event| {
                RedactTrack::catch_panic_pad_function(
                    parent,
                    || false,
                    |t| t.sink_event(pad, event),
                )
            })
            .query_function(|pad, parent, query| {
                RedactTrack::catch_panic_pad_function(parent, || false, |t| t.query(pad, query))
            })
            .flags(gst::PadFlags::PROXY_CAPS | gst::PadFlags::PROXY_ALLOCATION)
            .build();
        let srcpad = gst::Pad::builder_from_template(&klass.pad_template("src").unwrap())
            .query_function(|pad, parent, query| {
                RedactTrack::catch_panic_pad_function(parent, || false, |t| t.src_query(pad, query))
            })
            .flags(gst::PadFlags::PROXY_CAPS | gst::PadFlags::PROXY_ALLOCATION)
            .build();
        RedactTrack {
            sinkpad,
            srcpad,
            settings: Mutex::new(Settings::default()),
            state: Mutex::new(State::default()),
            stats: Mutex::new(ElementStats::default()),
            cuda: ContextHandler::default(),
        }
    }
}

impl ObjectImpl for RedactTrack {
    fn properties() -> &'static [glib::ParamSpec] {
        static PROPERTIES: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(|| {
            vec![
                glib::ParamSpecUInt::builder("max-age")
                    .nick("Maximum age")
                    .blurb("Frames a track keeps a predicted box after its last detection; 0 = half a second at the stream's frame rate")
                    .maximum(10_000)
                    .default_value(DEFAULT_MAX_AGE)
                    .mutable_ready()
                    .build(),
                glib::ParamSpecBoolean::builder("follow-camera")
                    .nick("Follow the camera")
                    .blurb("Tracks move with the picture: its shift and zoom, measured on every frame (whip-pans: the smeared faces' boxes go where the picture takes them; zooms: missed faces' boxes move and scale with the picture), and while the camera pans or zooms as the tracks found on two frames in a row show, missed faces move and scale with it instead of on their own velocity: fewer leaked frames, far fewer boxes left on empty background")
                    .default_value(DEFAULT_FOLLOW_CAMERA)
                    .mutable_ready()
                    .build(),
                glib::ParamSpecUInt::builder("lookahead")
                    .nick("Lookahead")
                    .blurb("Frames held back to extend tracks backwards and interpolate gaps (adds latency; 0 for live pipelines)")
                    .maximum(1000)
                    .default_value(DEFAULT_LOOKAHEAD)
                    .mutable_ready()
                    .build(),
                glib::ParamSpecUInt::builder("interval")
                    .nick("Detector interval")
                    .blurb("The interval of the redactdetect before this element (it detects on every Nth frame): a frame without regions may be one it skipped, so a track found once keeps its box through one missed detector run (2N frames, at least 8: the life of a track found once)")
                    .minimum(1)
                    .maximum(1000)
                    .default_value(DEFAULT_INTERVAL)
                    .mutable_ready()
                    .build(),
                glib::ParamSpecUInt::builder("candidate-run")
                    .nick("Candidate run")
                    .blurb("A face candidate of redactdetect (a find below its threshold) that recurs at the same place on this many detector runs in a row starts a track, backfilled along them (0 = never; at least 2, at most one fewer than the runs the lookahead holds, so that one run may miss it: 5 of the 6 with lookahead 15 and interval 3; candidates higher than 48 px never): a blurred or covered face the detector is never sure of but sees every time. Such a track keeps a predicted box only as long as one found once, until a detection confirms it")
                    .maximum(1000)
                    .default_value(DEFAULT_CANDIDATE_RUN)
                    .mutable_ready()
                    .build(),
                glib::ParamSpecDouble::builder("high-threshold")
                    .nick("High threshold")
                    .blurb("Detections at or above this confidence are associated first and may start tracks")
                    .minimum(0.0)
                    .maximum(1.0)
                    .default_value(DEFAULT_HIGH_THRESHOLD)
                    .mutable_ready()
                    .build(),
                glib::ParamSpecDouble::builder("low-threshold")
                    .nick("Low threshold")
                    .blurb("Detections from this confidence up to high-threshold, and redactdetect's candidates from it on, only extend existing tracks (candidates: tracks two detections confirmed); candidates also lead a new track's backfill")
                    .minimum(0.0)
                    .maximum(1.0)
                    .default_value(DEFAULT_LOW_THRESHOLD)
                    .mutable_ready()
                    .build(),
                glib::ParamSpecDouble::builder("match-iou")
                    .nick("Match IoU")
                    .blurb("Minimum overlap between a track's predicted box and a detection")
                    .minimum(0.01)
                    .maximum(1.0)
                    .default_value(DEFAULT_MATCH_IOU)
                    .mutable_ready()
                    .build(),
                ElementStats::param_spec(
                    "Since the element started: frames in, boxes written on the frames sent on (regions), and cpu (CPU seconds spent tracking)",
                ),
                cuda::element::device_spec(),
            ]
        });
        PROPERTIES.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        let mut s = self.settings.lock().unwrap();
        match pspec.name() {
            "max-age" => s.max_age = value.get().expect("type checked upstream"),
            "follow-camera" => s.follow_camera = value.get().expect("type checked upstream"),
            "lookahead" => s.lookahead = value.get().expect("type checked upstream"),
            "interval" => s.interval = value.get().expect("type checked upstream"),
            "candidate-run" => s.candidate_run = value.get().expect("type checked upstream"),
            "high-threshold" => s.high_threshold = value.get().expect("type checked upstream"),
            "low-threshold" => s.low_threshold = value.get().expect("type checked upstream"),
            "match-iou" => s.match_iou = value.get().expect("type checked upstream"),
            "device" => s.device = value.get().expect("type checked upstream"),
            other => unreachable!("unknown property {other}"),
        }
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        if pspec.name() == "stats" {
            return self
                .stats
                .lock()
                .unwrap()
                .structure("redacttrack-stats")
                .to_value();
        }
        let s = self.settings.lock().unwrap();
        match pspec.name() {
            "max-age" => s.max_age.to_value(),
            "follow-camera" => s.follow_camera.to_value(),
            "lookahead" => s.lookahead.to_value(),
            "interval" => s.interval.to_value(),
            "candidate-run" => s.candidate_run.to_value(),
            "high-threshold" => s.high_threshold.to_value(),
            "low-threshold" => s.low_threshold.to_value(),
            "match-iou" => s.match_iou.to_value(),
            "device" => s.device.to_value(),
            other => unreachable!("unknown property {other}"),
        }
    }

    fn constructed(&self) {
        self.parent_constructed();
        let obj = self.obj();
        obj.add_pad(&self.sinkpad).unwrap();
        obj.add_pad(&self.srcpad).unwrap();
    }
}

impl GstObjectImpl for RedactTrack {}

impl ElementImpl for RedactTrack {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static META: LazyLock<gst::subclass::ElementMetadata> = LazyLock::new(|| {
            gst::subclass::ElementMetadata::new(
                "Redaction tracker",
                "Filter/Analyzer/Video",
                "Tracks face and licence-plate regions over time (Kalman + IoU, ByteTrack style) with lookahead backfill and interpolation",
                "gst-redact developers",
            )
        });
        Some(&*META)
    }

    fn pad_templates() -> &'static [gst::PadTemplate] {
        static TEMPLATES: LazyLock<Vec<gst::PadTemplate>> = LazyLock::new(in_place_templates);
        TEMPLATES.as_ref()
    }

    fn set_context(&self, context: &gst::Context) {
        let device = self.settings.lock().unwrap().device;
        self.cuda
            .set_context(self.obj().upcast_ref(), device, context);
        self.parent_set_context(context)
    }

    fn change_state(
        &self,
        transition: gst::StateChange,
    ) -> Result<gst::StateChangeSuccess, gst::StateChangeError> {
        if transition == gst::StateChange::NullToReady {
            let device = self.settings.lock().unwrap().device;
            if let Err(e) = cuda::element::check_device(device) {
                self.post_error_message(e);
                return Err(gst::StateChangeError);
            }
        }
        if transition == gst::StateChange::ReadyToPaused {
            *self.state.lock().unwrap() = State::default();
            *self.stats.lock().unwrap() = ElementStats::default();
        }
        let result = self.parent_change_state(transition)?;
        if transition == gst::StateChange::PausedToReady {
            *self.state.lock().unwrap() = State::default();
        }
        if transition == gst::StateChange::ReadyToNull {
            self.cuda.reset();
        }
        Ok(result)
    }
}
