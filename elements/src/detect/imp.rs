// SPDX-License-Identifier: MIT OR Apache-2.0
//! The `redactdetect` element: thin glue between buffers and `algo::detector`.

use std::path::PathBuf;
use std::sync::{LazyLock, Mutex};
use std::time::Duration;

use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use gst_base::prelude::*;
use gst_base::subclass::prelude::*;

use super::Classes;
use crate::algo::cost::DetectCost;
use crate::algo::detection::{BBox, Detection, ObjectClass, mostly_covered};
use crate::algo::detector::{Detector, DetectorConfig, DetectorError};
use crate::algo::frame::PixelFormat;
use crate::algo::nms::nms;
use crate::algo::pool::OrderedPool;
use crate::algo::track::Origin;
use crate::cuda::{
    self, CudaFrameMap, Engine,
    element::{ContextHandler, Device, Path},
};
use crate::roi;
use crate::video::{frame_of, in_place_templates, yuv_matrix};

static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new(
        "redactdetect",
        gst::DebugColorFlags::empty(),
        Some("gst-redact detector"),
    )
});

// Defaults measured with `redact eval` on ../shared/data (README, "Detection defaults"),
// chosen where recall stops rising, not where false boxes are fewest (a privacy tool).
// Faces: YuNet-n on the frame upscaled 2x; on faces-crowd at IoU 0.5 recall is 0.840 at
// threshold 0.4, 0.854 at 0.3, 0.856 at 0.25, 0.862 at 0.2 (false boxes per image 1.9,
// 2.8, 3.5, 4.6): 0.3. ~15 ms per ~400 px image.
pub const DEFAULT_FACE_MODEL: &str = "yunet-n";
pub const DEFAULT_PLATE_MODEL: &str = "hyperlpr3-640";
pub const DEFAULT_FACE_THRESHOLD: f64 = 0.3;
// Plates: on OpenALPR-eu recall is 0.981 at 0.5 and 0.4, 0.991 from 0.3 down (false boxes
// per image 0.09, 0.15, 0.17, 0.20 at 0.2); on plates of other countries the same model
// finds 0.89 at 0.5, 0.96 at 0.3 and 0.97-0.99 at 0.2 (the leak issue's figures): 0.2.
pub const DEFAULT_PLATE_THRESHOLD: f64 = 0.2;
pub const DEFAULT_FACE_INPUT_SIZE: u32 = 0;
pub const DEFAULT_FACE_INPUT_SCALE: f64 = 2.0;
// A second face pass on the frame at its own size: YuNet on the upscaled frame misses
// blurred small faces (and some covered ones) that it finds at 1x. On the leaked
// face-frames of the leak benchmark's dev video (720p: the first pass sees 1.5x), YuNet-n
// at 1x covers 33 of 514 at 0.3, 100 at 0.2 (README "Leaks").
pub const DEFAULT_FACE_EXTRA_SCALE: f64 = 1.0;
/// A face pass whose input is within this fraction of an earlier face pass's input size
/// on the same frame would find the same faces: it is skipped ([`same_size`]).
const SAME_INPUT: f64 = 0.15;
pub const DEFAULT_INTERVAL: u32 = 1;
// Finds from this score up to the class's threshold go out as candidates, which
// `redacttrack` uses only to continue its confirmed tracks (ByteTrack's low-score
// detections) and to backfill a new track along them: a blurred face the detector finds
// above the threshold on some frames only stays masked on the frames where it scores less.
// On the leak benchmark's dev video 231 of the 414 leaked face-frames had a find of 0.1 or
// more on the face, 44 of 0.2 or more; with the candidates 385 leak (README "Leaks").
pub const DEFAULT_CANDIDATE_THRESHOLD: f64 = 0.1;
pub const DEFAULT_WORKERS: u32 = 0;
pub const DEFAULT_THREADS: u32 = 0;
/// Most workers the automatic setting starts: beyond a few frames at once, each worker
/// gets more threads instead (sessions and frames in flight cost memory).
const AUTO_WORKERS_MAX: usize = 4;

#[derive(Debug, Clone)]
struct Settings {
    device: Device,
    classes: Classes,
    face_model: String,
    plate_model: String,
    face_threshold: f64,
    plate_threshold: f64,
    face_input_size: u32,
    face_input_scale: f64,
    face_extra_scale: f64,
    candidate_threshold: f64,
    model_dir: Option<String>,
    interval: u32,
    workers: u32,
    threads: u32,
    verify: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            device: Device::Auto,
            classes: Classes::FACE | Classes::LICENSE_PLATE,
            face_model: DEFAULT_FACE_MODEL.into(),
            plate_model: DEFAULT_PLATE_MODEL.into(),
            face_threshold: DEFAULT_FACE_THRESHOLD,
            plate_threshold: DEFAULT_PLATE_THRESHOLD,
            face_input_size: DEFAULT_FACE_INPUT_SIZE,
            face_input_scale: DEFAULT_FACE_INPUT_SCALE,
            face_extra_scale: DEFAULT_FACE_EXTRA_SCALE,
            candidate_threshold: DEFAULT_CANDIDATE_THRESHOLD,
            model_dir: None,
            interval: DEFAULT_INTERVAL,
            workers: DEFAULT_WORKERS,
            threads: DEFAULT_THREADS,
            verify: false,
        }
    }
}

/// How detection is spread over the cores: `workers` frames at once, each worker's
/// models running on `threads` threads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Parallelism {
    workers: usize,
    threads: usize,
}

impl Settings {
    /// Workers and threads for a stream: still images (frame rate 0) have one frame, so
    /// one worker with every core; video gets a frame per core (up to
    /// `AUTO_WORKERS_MAX`), one thread each.
    fn parallelism(&self, still_image: bool) -> Parallelism {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let workers = match self.workers {
            0 if still_image => 1,
            0 => cores.clamp(1, AUTO_WORKERS_MAX),
            n => n as usize,
        };
        let threads = match self.threads {
            0 => (cores / workers).max(1),
            n => n as usize,
        };
        Parallelism { workers, threads }
    }

    fn detector_configs(&self) -> Vec<DetectorConfig> {
        let model_dir = self.model_dir.as_ref().map(PathBuf::from);
        let mut configs = Vec::new();
        if self.classes.contains(Classes::FACE) {
            let face = DetectorConfig {
                class: ObjectClass::Face,
                model: self.face_model.clone(),
                model_dir: model_dir.clone(),
                threshold: self.face_threshold as f32,
                input_size: self.face_input_size as usize,
                input_scale: self.face_input_scale as f32,
                threads: self.threads as usize,
                cuda: None,
            };
            // The extra pass: same model, the frame at `face_extra_scale` (`run_detectors`
            // skips it on frames where it would see the frame at the first pass's size;
            // with the same scale it would on every frame).
            let same_scale = self.face_input_size == 0
                && same_size(self.face_extra_scale, self.face_input_scale);
            let extra = (self.face_extra_scale > 0.0 && !same_scale).then(|| DetectorConfig {
                input_size: 0,
                input_scale: self.face_extra_scale as f32,
                ..face.clone()
            });
            configs.push(face);
            configs.extend(extra);
        }
        if self.classes.contains(Classes::LICENSE_PLATE) {
            configs.push(DetectorConfig {
                class: ObjectClass::LicensePlate,
                model: self.plate_model.clone(),
                model_dir,
                threshold: self.plate_threshold as f32,
                input_size: 0,
                input_scale: 1.0,
                threads: self.threads as usize,
                cuda: None,
            });
        }
        configs
    }

    /// The thresholds a frame is detected with (they may change while playing).
    fn thresholds(&self) -> Thresholds {
        Thresholds {
            face: self.face_threshold as f32,
            plate: self.plate_threshold as f32,
            // A verification pass adds regions to mask: no candidates.
            candidate: if self.verify {
                0.0
            } else {
                self.candidate_threshold as f32
            },
        }
    }
}

/// One frame's thresholds.
#[derive(Debug, Clone, Copy)]
struct Thresholds {
    face: f32,
    plate: f32,
    /// Finds from this score up to the class's threshold are candidates (0 = none).
    candidate: f32,
}

impl Thresholds {
    fn of(&self, class: ObjectClass) -> f32 {
        match class {
            ObjectClass::Face => self.face,
            ObjectClass::LicensePlate => self.plate,
        }
    }

    /// What the model keeps: the class's threshold, or the candidates' when lower.
    fn model(&self, class: ObjectClass) -> f32 {
        match self.candidate {
            c if c > 0.0 => self.of(class).min(c),
            _ => self.of(class),
        }
    }
}

/// One frame on its way through a worker.
struct Job {
    buffer: gst::Buffer,
    info: gst_video::VideoInfo,
    format: PixelFormat,
    /// False for the frames `interval` skips: they only keep their place in the order.
    detect: bool,
    /// The frame is CUDA memory of the context the GPU workers run in: build the model
    /// input on the device and infer there (no copy of the frame to the host).
    on_device: bool,
    index: u64,
    thresholds: Thresholds,
}

/// A frame back from a worker, with what was found on it.
struct Done {
    buffer: gst::Buffer,
    /// Frame width and height (metas are clipped to them).
    size: (u32, u32),
    index: u64,
    detect: bool,
    on_device: bool,
    found: Result<Vec<Detection>, String>,
    /// Finds scored from the candidate threshold up to the class's threshold.
    candidates: Vec<Detection>,
    /// Per class, in the order of the detectors.
    cost: Vec<(ObjectClass, DetectCost)>,
}

type Workers = OrderedPool<Job, Done>;

/// What one worker thread owns: its model sessions and, on the GPU, the engine whose
/// stream they compute on.
struct Worker {
    detectors: Vec<Detector>,
    engine: Option<Engine>,
}

/// Runs the models of one worker on one frame (on the worker's thread).
fn run_job(worker: &mut Worker, job: Job) -> Done {
    let mut cost = Vec::new();
    let (found, on_device) = if !job.detect {
        (Ok(Vec::new()), false)
    } else if job.on_device
        && let Some(engine) = worker.engine.as_mut()
    {
        let found = detect_frame_on_device(&mut worker.detectors, engine, &job, &mut cost);
        (found, true)
    } else {
        (detect_frame(&mut worker.detectors, &job, &mut cost), false)
    };
    let (found, candidates) = match found {
        Ok(all) => {
            let (found, candidates) = all
                .into_iter()
                .partition(|d| d.score >= job.thresholds.of(d.class));
            (Ok(found), candidates)
        }
        Err(e) => (Err(e), Vec::new()),
    };
    Done {
        size: (job.info.width(), job.info.height()),
        buffer: job.buffer,
        index: job.index,
        detect: job.detect,
        on_device,
        found,
        candidates,
        cost,
    }
}

fn detect_frame(
    detectors: &mut [Detector],
    job: &Job,
    cost: &mut Vec<(ObjectClass, DetectCost)>,
) -> Result<Vec<Detection>, String> {
    let vframe = gst_video::VideoFrameRef::from_buffer_ref_readable(job.buffer.as_ref(), &job.info)
        .map_err(|_| "could not map the frame for reading".to_string())?;
    let frame = frame_of(&vframe, job.format).map_err(|e| format!("bad frame layout: {e}"))?;
    run_detectors(detectors, job, cost, |d| d.detect(&frame))
}

/// Detects on a frame in CUDA memory: the kernels build each model's input on the device.
fn detect_frame_on_device(
    detectors: &mut [Detector],
    engine: &mut Engine,
    job: &Job,
    cost: &mut Vec<(ObjectClass, DetectCost)>,
) -> Result<Vec<Detection>, String> {
    let map = CudaFrameMap::readable(job.buffer.as_ref(), &job.info).map_err(|e| e.to_string())?;
    let frame = map.device_frame(job.format, yuv_matrix(&job.info));
    let detections = run_detectors(detectors, job, cost, |d| d.detect_on_device(engine, &frame))?;
    // Nothing of ours may still read the frame once it is unmapped and sent on.
    engine.synchronize().map_err(|e| e.to_string())?;
    Ok(detections)
}

/// Runs each model of a worker with the frame's thresholds, adding up what each cost.
fn run_detectors(
    detectors: &mut [Detector],
    job: &Job,
    cost: &mut Vec<(ObjectClass, DetectCost)>,
    mut detect: impl FnMut(&mut Detector) -> Result<Vec<Detection>, DetectorError>,
) -> Result<Vec<Detection>, String> {
    let mut detections = Vec::new();
    let (w, h) = (job.info.width() as usize, job.info.height() as usize);
    // Input long sides of the face passes run so far, and the IoU their merge uses.
    let mut face_sides: Vec<usize> = Vec::new();
    let mut face_nms_iou = None;
    for detector in detectors {
        let class = detector.config().class;
        if class == ObjectClass::Face {
            let side = detector.config().input_long_side(w, h);
            if face_sides.iter().any(|&s| same_size(s as f64, side as f64)) {
                continue;
            }
            face_sides.push(side);
            face_nms_iou.get_or_insert(detector.nms_iou());
        }
        detector.set_threshold(job.thresholds.model(class));
        let found = detect(detector).map_err(|e| e.to_string());
        cost.push((class, detector.take_cost()));
        detections.extend(found?);
    }
    // Two face passes find most faces twice: one box each, the higher score's.
    match face_nms_iou {
        Some(iou) if face_sides.len() > 1 => Ok(nms(detections, iou)),
        _ => Ok(detections),
    }
}

/// Whether two model inputs (their sizes, or the scales that make them) are so near that
/// a second pass would add nothing.
fn same_size(a: f64, b: f64) -> bool {
    (a - b).abs() <= SAME_INPUT * a.max(b)
}

struct State {
    configs: Vec<DetectorConfig>,
    /// Detectors loaded by `start` (so that a missing model fails there), handed to the
    /// first worker when the stream starts.
    loaded: Vec<Detector>,
    info: Option<gst_video::VideoInfo>,
    format: Option<PixelFormat>,
    path: Option<Path>,
    parallelism: Option<Parallelism>,
    /// The path the running workers were made for (GPU workers may have failed for a CUDA
    /// stream: then `gpu` is `None`, and they are not tried again for the same stream).
    workers_path: Option<Path>,
    /// The CUDA context the workers infer in, when they run on the GPU.
    gpu: Option<cuda::Context>,
    frames_seen: u64,
}

/// What the element did, for the `stats` property.
#[derive(Debug, Default, Clone)]
struct Stats {
    frames: u64,
    detected_frames: u64,
    /// Frames whose models ran on the GPU from device memory.
    gpu_frames: u64,
    /// Regions a verification pass added.
    verified: u64,
    parallelism: Option<Parallelism>,
    cost: Vec<(ObjectClass, DetectCost)>,
}

impl Stats {
    fn add(&mut self, done: &Done) {
        self.frames += 1;
        self.detected_frames += u64::from(done.detect);
        self.gpu_frames += u64::from(done.detect && done.on_device);
        for &(class, cost) in &done.cost {
            match self.cost.iter_mut().find(|(c, _)| *c == class) {
                Some((_, total)) => *total += cost,
                None => self.cost.push((class, cost)),
            }
        }
    }

    fn structure(&self) -> gst::Structure {
        let seconds = |d: Duration| d.as_secs_f64();
        let p = self.parallelism.unwrap_or(Parallelism {
            workers: 0,
            threads: 0,
        });
        let mut s = gst::Structure::builder("redactdetect-stats")
            .field("frames", self.frames)
            .field("detected-frames", self.detected_frames)
            .field("gpu-frames", self.gpu_frames)
            .field("verified", self.verified)
            .field("workers", p.workers as u32)
            .field("threads", p.threads as u32)
            .build();
        for (class, cost) in &self.cost {
            let c = class.as_str();
            s.set(format!("{c}-preprocess"), seconds(cost.preprocess));
            s.set(format!("{c}-inference"), seconds(cost.inference));
            s.set(format!("{c}-postprocess"), seconds(cost.postprocess));
        }
        s
    }
}

#[derive(Default)]
pub struct RedactDetect {
    settings: Mutex<Settings>,
    state: Mutex<Option<State>>,
    /// The workers, apart from `state` so that waiting for a frame blocks nobody else.
    workers: Mutex<Option<Workers>>,
    /// Tag events that arrived while frames were in flight, with the index of the first
    /// frame that must follow them.
    held_tags: Mutex<std::collections::VecDeque<(u64, gst::Event)>>,
    stats: Mutex<Stats>,
    cuda: ContextHandler,
}

#[glib::object_subclass]
impl ObjectSubclass for RedactDetect {
    const NAME: &'static str = "GstRedactDetect";
    type Type = super::RedactDetect;
    type ParentType = gst_base::BaseTransform;
}

impl ObjectImpl for RedactDetect {
    fn properties() -> &'static [glib::ParamSpec] {
        static PROPERTIES: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(|| {
            vec![
                glib::ParamSpecFlags::builder::<Classes>("classes")
                    .nick("Classes")
                    .blurb("What to detect: face, license-plate, or both (face+license-plate)")
                    .default_value(Classes::FACE | Classes::LICENSE_PLATE)
                    .mutable_ready()
                    .build(),
                glib::ParamSpecDouble::builder("face-threshold")
                    .nick("Face threshold")
                    .blurb("Minimum confidence of a face; lower finds more faces and more false boxes")
                    .minimum(0.0)
                    .maximum(1.0)
                    .default_value(DEFAULT_FACE_THRESHOLD)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecDouble::builder("plate-threshold")
                    .nick("Plate threshold")
                    .blurb("Minimum confidence of a licence plate")
                    .minimum(0.0)
                    .maximum(1.0)
                    .default_value(DEFAULT_PLATE_THRESHOLD)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecString::builder("face-model")
                    .nick("Face model")
                    .blurb("Face model: yunet-s, yunet-n, centerface, or a path to an .onnx file of one of those families")
                    .default_value(Some(DEFAULT_FACE_MODEL))
                    .mutable_ready()
                    .build(),
                glib::ParamSpecString::builder("plate-model")
                    .nick("Plate model")
                    .blurb("Licence-plate model: hyperlpr3-640, hyperlpr3-320 (faster, lower recall), or a path to an .onnx file")
                    .default_value(Some(DEFAULT_PLATE_MODEL))
                    .mutable_ready()
                    .build(),
                glib::ParamSpecString::builder("model-dir")
                    .nick("Model directory")
                    .blurb("Folder searched first for model files (then $REDACT_MODEL_DIR, the project cache, /usr/local/share/gst-redact/models)")
                    .mutable_ready()
                    .build(),
                glib::ParamSpecUInt::builder("face-input-size")
                    .nick("Face input size")
                    .blurb("Long side in pixels of the image the face detector sees; 0 = automatic: the frame scaled by face-input-scale, at most 1920 px (larger frames keep their own size up to 3840 px, and are scaled down to 3840 beyond)")
                    .maximum(8192)
                    .default_value(DEFAULT_FACE_INPUT_SIZE)
                    .mutable_ready()
                    .build(),
                glib::ParamSpecDouble::builder("face-input-scale")
                    .nick("Face input scale")
                    .blurb("With face-input-size=0: scale of the frame for the face detector; 2 finds faces half as small as 1 does, at about 4x the cost")
                    .minimum(0.25)
                    .maximum(4.0)
                    .default_value(DEFAULT_FACE_INPUT_SCALE)
                    .mutable_ready()
                    .build(),
                glib::ParamSpecDouble::builder("face-extra-scale")
                    .nick("Face extra scale")
                    .blurb("A second face pass on the frame at this scale, its finds merged with the first pass's (0 = none). It finds blurred small faces that the upscaled first pass misses; on frames where its input would be within 15 % of the first pass's size (1080p and larger with the defaults) it is skipped")
                    .minimum(0.0)
                    .maximum(4.0)
                    .default_value(DEFAULT_FACE_EXTRA_SCALE)
                    .mutable_ready()
                    .build(),
                glib::ParamSpecDouble::builder("candidate-threshold")
                    .nick("Candidate threshold")
                    .blurb("Finds from this confidence up to face-threshold / plate-threshold are added as face-candidate / license-plate-candidate regions: redacttrack uses them only to continue its confirmed tracks and to backfill new ones, and removes them, redactmask does not mask them (unless roi-types asks for them); 0 = none. A verification pass (verify) adds none")
                    .minimum(0.0)
                    .maximum(1.0)
                    .default_value(DEFAULT_CANDIDATE_THRESHOLD)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecUInt::builder("interval")
                    .nick("Interval")
                    .blurb("Run the detectors on every Nth frame only (frames in between get no metas)")
                    .minimum(1)
                    .default_value(DEFAULT_INTERVAL)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecUInt::builder("workers")
                    .nick("Workers")
                    .blurb("Frames detected at once, each on its own thread with its own model sessions (the element holds up to twice that many frames: latency); 0 = automatic: one per core (at most 4) for video, 1 for still images")
                    .maximum(64)
                    .default_value(DEFAULT_WORKERS)
                    .mutable_ready()
                    .build(),
                glib::ParamSpecUInt::builder("threads")
                    .nick("Threads")
                    .blurb("Inference threads per worker and model; 0 = automatic: the cores divided among the workers")
                    .maximum(256)
                    .default_value(DEFAULT_THREADS)
                    .mutable_ready()
                    .build(),
                glib::ParamSpecBoolean::builder("verify")
                    .nick("Verify")
                    .blurb("Verification pass, after another redactdetect (and before redacttrack, which then tracks its finds too): keep the regions already on the buffer and add only detections that lie mostly outside them, with origin \"verified\" (run a different model than the first pass's)")
                    .default_value(false)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecBoxed::builder::<gst::Structure>("stats")
                    .nick("Statistics")
                    .blurb("Frames seen and detected (gpu-frames: detected on the GPU from CUDA memory), regions a verification pass added (verified), the workers and threads in use, and per class the CPU seconds spent building model inputs (preprocess), in ONNX Runtime (inference, the calling thread only) and decoding outputs (postprocess)")
                    .read_only()
                    .build(),
                cuda::element::device_spec(),
            ]
        });
        PROPERTIES.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        let mut s = self.settings.lock().unwrap();
        match pspec.name() {
            "classes" => s.classes = value.get().expect("type checked upstream"),
            "face-threshold" => s.face_threshold = value.get().expect("type checked upstream"),
            "plate-threshold" => s.plate_threshold = value.get().expect("type checked upstream"),
            "face-model" => {
                s.face_model = value
                    .get::<Option<String>>()
                    .expect("type checked upstream")
                    .unwrap_or_else(|| DEFAULT_FACE_MODEL.into())
            }
            "plate-model" => {
                s.plate_model = value
                    .get::<Option<String>>()
                    .expect("type checked upstream")
                    .unwrap_or_else(|| DEFAULT_PLATE_MODEL.into())
            }
            "model-dir" => s.model_dir = value.get().expect("type checked upstream"),
            "face-input-size" => s.face_input_size = value.get().expect("type checked upstream"),
            "face-input-scale" => s.face_input_scale = value.get().expect("type checked upstream"),
            "face-extra-scale" => s.face_extra_scale = value.get().expect("type checked upstream"),
            "candidate-threshold" => {
                s.candidate_threshold = value.get().expect("type checked upstream")
            }
            "interval" => s.interval = value.get().expect("type checked upstream"),
            "workers" => s.workers = value.get().expect("type checked upstream"),
            "threads" => s.threads = value.get().expect("type checked upstream"),
            "verify" => s.verify = value.get().expect("type checked upstream"),
            "device" => s.device = value.get().expect("type checked upstream"),
            other => unreachable!("unknown property {other}"),
        }
        gst::debug!(CAT, imp = self, "{} set", pspec.name());
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        if pspec.name() == "stats" {
            return self.stats.lock().unwrap().structure().to_value();
        }
        let s = self.settings.lock().unwrap();
        match pspec.name() {
            "classes" => s.classes.to_value(),
            "face-threshold" => s.face_threshold.to_value(),
            "plate-threshold" => s.plate_threshold.to_value(),
            "face-model" => s.face_model.to_value(),
            "plate-model" => s.plate_model.to_value(),
            "model-dir" => s.model_dir.to_value(),
            "face-input-size" => s.face_input_size.to_value(),
            "face-input-scale" => s.face_input_scale.to_value(),
            "face-extra-scale" => s.face_extra_scale.to_value(),
            "candidate-threshold" => s.candidate_threshold.to_value(),
            "interval" => s.interval.to_value(),
            "workers" => s.workers.to_value(),
            "threads" => s.threads.to_value(),
            "verify" => s.verify.to_value(),
            "device" => s.device.to_value(),
            other => unreachable!("unknown property {other}"),
        }
    }
}

impl GstObjectImpl for RedactDetect {}

impl ElementImpl for RedactDetect {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static META: LazyLock<gst::subclass::ElementMetadata> = LazyLock::new(|| {
            gst::subclass::ElementMetadata::new(
                "Redaction detector",
                "Filter/Analyzer/Video",
                "Finds faces and licence plates (ONNX Runtime) and attaches GstVideoRegionOfInterestMeta",
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
}

impl RedactDetect {
    fn error_domain(e: &DetectorError) -> gst::ResourceError {
        match e {
            DetectorError::Model(_) | DetectorError::Runtime(_) => gst::ResourceError::NotFound,
            _ => gst::ResourceError::Settings,
        }
    }

    /// Starts (or keeps) the workers for a stream of this kind: on the GPU for CUDA memory
    /// when ONNX Runtime's CUDA provider works (else, with `device=auto`, on the CPU, and
    /// the element says so), on the CPU otherwise.
    fn ensure_workers(
        &self,
        state: &mut State,
        info: &gst_video::VideoInfo,
        path: Path,
    ) -> Result<(), gst::ErrorMessage> {
        let still_image = info.fps().numer() == 0;
        let (parallelism, device) = {
            let s = self.settings.lock().unwrap();
            (s.parallelism(still_image), s.device)
        };
        let want_gpu = path == Path::Cuda;
        let mut workers = self.workers.lock().unwrap();
        if workers.is_some()
            && state.parallelism == Some(parallelism)
            && state.workers_path == Some(path)
        {
            return Ok(());
        }
        // Anything in flight was drained by the caps event that brought us here.
        *workers = None;
        let mut sets = None;
        state.gpu = None;
        if want_gpu {
            match self.gpu_workers(state, parallelism) {
                Ok((gpu_sets, ctx)) => {
                    sets = Some(gpu_sets);
                    state.gpu = Some(ctx);
                }
                Err(e) if device == Device::Cuda => {
                    return Err(gst::error_msg!(
                        gst::ResourceError::NotFound,
                        ("device=cuda, but the models cannot run on the GPU: {e}")
                    ));
                }
                Err(e) => {
                    gst::warning!(
                        CAT,
                        imp = self,
                        "inference stays on the CPU (frames are read through a host mapping): {e}"
                    );
                    self.obj()
                        .post_message(
                            gst::message::Warning::builder(
                                gst::CoreError::Failed,
                                &format!("inference runs on the CPU: {e}"),
                            )
                            .src(&*self.obj())
                            .build(),
                        )
                        .ok();
                }
            }
        }
        let sets = match sets {
            Some(sets) => sets,
            None => self.cpu_workers(state, parallelism)?,
        };
        gst::info!(
            CAT,
            imp = self,
            "{} worker(s) on the {}, {} inference thread(s) each{}",
            parallelism.workers,
            if state.gpu.is_some() { "GPU" } else { "CPU" },
            parallelism.threads,
            if still_image { " (still image)" } else { "" }
        );
        for d in sets.first().map(|w| &w.detectors).into_iter().flatten() {
            let (w, h) = d.input_size_for(info.width() as usize, info.height() as usize);
            gst::info!(
                CAT,
                imp = self,
                "{}: {}x{} frames -> {w}x{h} model input",
                d.config().class,
                info.width(),
                info.height()
            );
        }
        *workers = Some(
            OrderedPool::new("redactdetect", sets, run_job).map_err(|e| {
                gst::error_msg!(
                    gst::ResourceError::Failed,
                    ("cannot start the detection threads: {e}")
                )
            })?,
        );
        state.parallelism = Some(parallelism);
        state.workers_path = Some(path);
        self.stats.lock().unwrap().parallelism = Some(parallelism);
        Ok(())
    }

    /// One set of CPU sessions per worker.
    fn cpu_workers(
        &self,
        state: &mut State,
        parallelism: Parallelism,
    ) -> Result<Vec<Worker>, gst::ErrorMessage> {
        let mut loaded = std::mem::take(&mut state.loaded);
        let mut sets = Vec::with_capacity(parallelism.workers);
        for _ in 0..parallelism.workers {
            let mut detectors = Vec::with_capacity(state.configs.len());
            for config in &state.configs {
                let config = DetectorConfig {
                    threads: parallelism.threads,
                    ..config.clone()
                };
                // Reuse what `start` loaded when it has the right thread count.
                let reuse = loaded
                    .iter()
                    .position(|d| d.config() == &config)
                    .map(|i| loaded.remove(i));
                let detector = match reuse {
                    Some(d) => d,
                    None => Detector::new(config)
                        .map_err(|e| gst::error_msg!(Self::error_domain(&e), ("{e}")))?,
                };
                detectors.push(detector);
            }
            sets.push(Worker {
                detectors,
                engine: None,
            });
        }
        Ok(sets)
    }

    /// One engine (a CUDA stream in the primary context, which ONNX Runtime uses) and one
    /// set of CUDA sessions computing on it per worker.
    fn gpu_workers(
        &self,
        state: &State,
        parallelism: Parallelism,
    ) -> Result<(Vec<Worker>, cuda::Context), String> {
        let ctx = cuda::CudaContext::primary()
            .map_err(|e| e.to_string())?
            .handle();
        let mut sets = Vec::with_capacity(parallelism.workers);
        for _ in 0..parallelism.workers {
            let engine = Engine::new(ctx).map_err(|e| e.to_string())?;
            let mut detectors = Vec::with_capacity(state.configs.len());
            for config in &state.configs {
                let config = DetectorConfig {
                    threads: 1,
                    cuda: Some(redact_models::CudaProvider {
                        device: 0,
                        stream: engine.stream_address(),
                    }),
                    ..config.clone()
                };
                detectors.push(Detector::new(config).map_err(|e| e.to_string())?);
            }
            sets.push(Worker {
                detectors,
                engine: Some(engine),
            });
        }
        Ok((sets, ctx))
    }

    /// Frames the element holds before the stream thread waits: one being detected and
    /// one queued per worker, so no worker idles while the stream thread masks and encodes.
    fn depth(workers: usize) -> usize {
        2 * workers
    }

    /// Attaches a finished frame's metas, or reports its error.
    fn finish(&self, done: Done) -> Result<gst::Buffer, gst::FlowError> {
        self.stats.lock().unwrap().add(&done);
        let mut detections = done.found.map_err(|e| {
            gst::element_imp_error!(self, gst::StreamError::Failed, ("{e}"));
            gst::FlowError::Error
        })?;
        let mut buffer = done.buffer;
        let verify = self.settings.lock().unwrap().verify;
        if verify && !detections.is_empty() {
            // Candidates are not masked: a find under one is not covered.
            let regions: Vec<BBox> = roi::read_all(&buffer)
                .iter()
                .filter(|r| roi::candidate_class(&r.roi_type).is_none())
                .map(|r| {
                    let (x, y, w, h) = r.rect;
                    BBox::new(x as f32, y as f32, w as f32, h as f32)
                })
                .collect();
            detections.retain(|d| !mostly_covered(&d.bbox, &regions));
            self.stats.lock().unwrap().verified += detections.len() as u64;
        }
        let origin = verify.then_some(Origin::Verified.as_str());
        if done.detect {
            gst::debug!(
                CAT,
                imp = self,
                "frame {}: {} detection(s), {} candidate(s)",
                done.index,
                detections.len(),
                done.candidates.len()
            );
        }
        if !detections.is_empty() || !done.candidates.is_empty() {
            let buf = buffer.make_mut();
            for d in &detections {
                attach_meta(buf, d, d.class.as_str(), done.size, origin);
            }
            for d in &done.candidates {
                attach_meta(buf, d, roi::candidate_type(d.class), done.size, None);
            }
        }
        Ok(buffer)
    }

    /// The oldest frame in flight, once done (`block`: wait for it).
    fn next_done(&self, block: bool) -> Option<Result<gst::Buffer, gst::FlowError>> {
        let done = self.workers.lock().unwrap().as_mut()?.next(block)?;
        Some(match done {
            Ok(done) => {
                self.push_tags_before(done.index);
                self.finish(done)
            }
            Err(panic) => {
                gst::element_imp_error!(
                    self,
                    gst::StreamError::Failed,
                    ("detection failed: {}", panic.0)
                );
                Err(gst::FlowError::Error)
            }
        })
    }

    fn in_flight(&self) -> usize {
        self.workers
            .lock()
            .unwrap()
            .as_ref()
            .map_or(0, |w| w.in_flight())
    }

    /// Sends the held tag events that came before frame `index` (all: `u64::MAX`).
    fn push_tags_before(&self, index: u64) {
        loop {
            let event = {
                let mut held = self.held_tags.lock().unwrap();
                match held.front() {
                    Some((before, _)) if *before <= index => held.pop_front().map(|(_, e)| e),
                    _ => None,
                }
            };
            let Some(event) = event else { break };
            self.obj().src_pad().push_event(event);
        }
    }

    /// Pushes every frame still in flight, in order (before a serialized event).
    fn drain(&self) -> Result<gst::FlowSuccess, gst::FlowError> {
        while let Some(next) = self.next_done(true) {
            self.obj().src_pad().push(next?)?;
        }
        self.push_tags_before(u64::MAX);
        Ok(gst::FlowSuccess::Ok)
    }
}

impl BaseTransformImpl for RedactDetect {
    const MODE: gst_base::subclass::BaseTransformMode =
        gst_base::subclass::BaseTransformMode::AlwaysInPlace;
    const PASSTHROUGH_ON_SAME_CAPS: bool = false;
    const TRANSFORM_IP_ON_PASSTHROUGH: bool = false;

    fn start(&self) -> Result<(), gst::ErrorMessage> {
        let settings = self.settings.lock().unwrap().clone();
        cuda::element::check_device(settings.device)?;
        let configs = settings.detector_configs();
        if configs.is_empty() {
            return Err(gst::error_msg!(
                gst::LibraryError::Settings,
                ("nothing to detect: 'classes' is empty; set classes=face, license-plate or face+license-plate")
            ));
        }
        // Load now, as video will use them, so that a missing or broken model stops the
        // pipeline before any frame flows.
        let threads = settings.parallelism(false).threads;
        let mut loaded = Vec::new();
        for config in &configs {
            gst::info!(
                CAT,
                imp = self,
                "loading {} model '{}'",
                config.class,
                config.model
            );
            let detector = Detector::new(DetectorConfig {
                threads,
                ..config.clone()
            })
            .map_err(|e| gst::error_msg!(Self::error_domain(&e), ("{e}")))?;
            gst::info!(
                CAT,
                imp = self,
                "loaded {}",
                detector.model_path().display()
            );
            loaded.push(detector);
        }
        *self.stats.lock().unwrap() = Stats::default();
        *self.state.lock().unwrap() = Some(State {
            configs,
            loaded,
            info: None,
            format: None,
            path: None,
            parallelism: None,
            workers_path: None,
            gpu: None,
            frames_seen: 0,
        });
        Ok(())
    }

    fn stop(&self) -> Result<(), gst::ErrorMessage> {
        // Joins the worker threads; dropping the detectors hands their sessions back to
        // the pool.
        *self.workers.lock().unwrap() = None;
        *self.state.lock().unwrap() = None;
        self.held_tags.lock().unwrap().clear();
        self.cuda.reset();
        Ok(())
    }

    fn transform_caps(
        &self,
        _direction: gst::PadDirection,
        caps: &gst::Caps,
        filter: Option<&gst::Caps>,
    ) -> Option<gst::Caps> {
        let device = self.settings.lock().unwrap().device;
        Some(cuda::element::transform_caps(device, caps, filter))
    }

    fn set_caps(&self, incaps: &gst::Caps, _outcaps: &gst::Caps) -> Result<(), gst::LoggableError> {
        let (info, format, path) =
            cuda::element::negotiated(self.obj().upcast_ref(), &self.cuda, incaps).map_err(
                |e| {
                    gst::element_imp_error!(self, gst::CoreError::Negotiation, ("{e}"));
                    gst::loggable_error!(CAT, "{e}")
                },
            )?;
        let mut guard = self.state.lock().unwrap();
        let state = guard
            .as_mut()
            .ok_or_else(|| gst::loggable_error!(CAT, "caps before start"))?;
        if let Err(e) = self.ensure_workers(state, &info, path) {
            self.post_error_message(e);
            return Err(gst::loggable_error!(CAT, "cannot start the detectors"));
        }
        state.info = Some(info);
        state.format = Some(format);
        state.path = Some(path);
        Ok(())
    }

    fn sink_event(&self, event: gst::Event) -> bool {
        match event.view() {
            gst::EventView::FlushStop(_) => {
                if let Some(workers) = self.workers.lock().unwrap().as_mut() {
                    workers.discard();
                }
                self.held_tags.lock().unwrap().clear();
                if let Some(state) = self.state.lock().unwrap().as_mut() {
                    state.frames_seen = 0;
                }
            }
            // Tags (parsers send bitrate updates every few seconds) wait in line with the
            // frames instead of stalling the workers.
            gst::EventView::Tag(_) if self.in_flight() > 0 => {
                let next = self
                    .state
                    .lock()
                    .unwrap()
                    .as_ref()
                    .map_or(0, |s| s.frames_seen);
                self.held_tags.lock().unwrap().push_back((next, event));
                return true;
            }
            // Frames in flight go out before any other event that is ordered with them
            // (caps, segment, EOS, ...), so nothing overtakes them.
            _ if event.is_serialized() => {
                let in_flight = self.in_flight();
                if in_flight > 0 {
                    gst::debug!(
                        CAT,
                        imp = self,
                        "{:?}: sending the {in_flight} frame(s) in flight first",
                        event.type_()
                    );
                }
                if let Err(flow) = self.drain() {
                    gst::debug!(
                        CAT,
                        imp = self,
                        "draining before {:?}: {flow:?}",
                        event.type_()
                    );
                    if let Some(workers) = self.workers.lock().unwrap().as_mut() {
                        workers.discard();
                    }
                }
            }
            _ => {}
        }
        self.parent_sink_event(event)
    }

    fn query(&self, direction: gst::PadDirection, query: &mut gst::QueryRef) -> bool {
        let device = self.settings.lock().unwrap().device;
        if self.cuda.query(self.obj().upcast_ref(), device, query) {
            return true;
        }
        let answered = BaseTransformImplExt::parent_query(self, direction, query);
        if answered
            && direction == gst::PadDirection::Src
            && let gst::QueryViewMut::Latency(q) = query.view_mut()
        {
            // Frames held while the workers detect.
            let (live, min, max) = q.result();
            let guard = self.state.lock().unwrap();
            let Some(state) = guard.as_ref() else {
                return answered;
            };
            let held = state.parallelism.map_or(0, |p| Self::depth(p.workers)) as u64;
            let frame = state
                .info
                .as_ref()
                .map(|i| i.fps())
                .filter(|f| f.numer() > 0)
                .map_or(gst::ClockTime::ZERO, |f| {
                    gst::ClockTime::from_nseconds(
                        1_000_000_000 * f.denom() as u64 / f.numer() as u64,
                    )
                });
            let added = frame * held;
            gst::debug!(
                CAT,
                imp = self,
                "latency: upstream {min}..{max:?} + {held} frame(s) in flight = {added}"
            );
            q.set(live, min + added, max.map(|m| m + added));
        }
        answered
    }

    fn generate_output(
        &self,
    ) -> Result<gst_base::subclass::base_transform::GenerateOutputSuccess, gst::FlowError> {
        use gst_base::subclass::base_transform::GenerateOutputSuccess;
        let mut must_wait = false;
        if let Some(buffer) = self.take_queued_buffer() {
            // Only what may change while playing, copied (no per-frame allocation).
            let (interval, thresholds) = {
                let s = self.settings.lock().unwrap();
                (s.interval.max(1), s.thresholds())
            };
            let job = {
                let mut guard = self.state.lock().unwrap();
                let state = guard.as_mut().ok_or(gst::FlowError::NotNegotiated)?;
                let (Some(info), Some(format)) = (state.info.clone(), state.format) else {
                    return Err(gst::FlowError::NotNegotiated);
                };
                let index = state.frames_seen;
                state.frames_seen += 1;
                // On the GPU when the frame is CUDA memory of the workers' context; else
                // the models read it through a host mapping (it works, but copies).
                let on_device = state.gpu.is_some() && cuda::memory_context(&buffer) == state.gpu;
                if state.path == Some(Path::Cuda) && !on_device {
                    gst::debug!(
                        CAT,
                        imp = self,
                        "frame {index}: read through a host mapping (not CUDA memory of the inference context)"
                    );
                }
                let detect = index % interval as u64 == 0;
                if !detect {
                    gst::trace!(
                        CAT,
                        imp = self,
                        "frame {index}: skipped (interval {interval})"
                    );
                }
                Job {
                    buffer,
                    info,
                    format,
                    detect,
                    on_device,
                    index,
                    thresholds,
                }
            };
            let mut workers = self.workers.lock().unwrap();
            let workers = workers.as_mut().ok_or(gst::FlowError::NotNegotiated)?;
            workers.submit(job);
            must_wait = workers.in_flight() > Self::depth(workers.workers());
        }
        match self.next_done(must_wait) {
            Some(buffer) => Ok(GenerateOutputSuccess::Buffer(buffer?)),
            None => Ok(GenerateOutputSuccess::NoOutput),
        }
    }
}

/// Adds one ROI meta for a detection, following the contract in the element's docs.
fn attach_meta(
    buf: &mut gst::BufferRef,
    d: &Detection,
    roi_type: &str,
    (width, height): (u32, u32),
    origin: Option<&str>,
) {
    if let Some(rect) = roi::rect_outwards(&d.bbox, width, height) {
        roi::attach(buf, roi_type, rect, -1, d.score as f64, &d.points, origin);
    }
}
