//! One model ready to run on frames: resolves and loads it, builds its input from a frame,
//! runs ONNX Runtime, decodes, applies NMS and maps the boxes back to frame pixels.
//! No GStreamer types here: the element, the launcher and tests drive it alike.

use std::fmt;
use std::path::{Path, PathBuf};

use redact_models::ort::memory::{AllocationDevice, AllocatorType, MemoryInfo, MemoryType};
use redact_models::ort::session::{Session, SessionInputValue, SessionOutputs};
use redact_models::ort::value::{Shape, TensorRef, TensorRefMut};
use redact_models::{CudaProvider, ModelError, RuntimeError, SessionOptions};

use super::cost::{DetectCost, Stopwatch};
use super::detection::{Detection, ObjectClass};
use super::families::{DecodeError, Family, Outputs, Tensor, family_for};
use super::frame::Frame;
use super::nms::nms;
use super::preprocess::{InputSpec, Mapping, Preprocessor};
use crate::cuda::{DeviceBuffer, DeviceFrame, Engine};

/// What to run for one class.
#[derive(Debug, Clone, PartialEq)]
pub struct DetectorConfig {
    pub class: ObjectClass,
    /// A model name from the catalog (`yunet-s`) or a path to an `.onnx` file.
    pub model: String,
    pub model_dir: Option<PathBuf>,
    /// Minimum score kept.
    pub threshold: f32,
    /// Long side, in pixels, of the image the model sees; 0 = automatic: the frame scaled
    /// by `input_scale`, its long side at most `AUTO_INPUT_MAX` (larger frames keep their own
    /// size up to `AUTO_INPUT_LARGEST`, beyond which they are scaled down). Models with a fixed input
    /// size ignore both.
    pub input_size: usize,
    /// Scale of the frame for the automatic input size (2.0 finds faces half as small).
    pub input_scale: f32,
    /// Inference threads (0 = one per core).
    pub threads: usize,
    /// Run the model with ONNX Runtime's CUDA execution provider on this stream (see
    /// `detect_on_device`); `None`: on the CPU.
    pub cuda: Option<CudaProvider>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum DetectorError {
    Model(ModelError),
    Runtime(RuntimeError),
    WrongClass {
        model: String,
        model_class: String,
        wanted: ObjectClass,
    },
    UnknownFamily {
        model: String,
        family: String,
    },
    Inference {
        model: String,
        reason: String,
    },
    Decode {
        model: String,
        error: DecodeError,
    },
}

impl fmt::Display for DetectorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DetectorError::Model(e) => e.fmt(f),
            DetectorError::Runtime(e) => e.fmt(f),
            DetectorError::WrongClass {
                model,
                model_class,
                wanted,
            } => {
                write!(
                    f,
                    "model '{model}' detects {model_class}, not {wanted}: choose a {wanted} model"
                )
            }
            DetectorError::UnknownFamily { model, family } => {
                write!(
                    f,
                    "model '{model}' has family '{family}', which this version cannot decode"
                )
            }
            DetectorError::Inference { model, reason } => {
                write!(f, "inference with '{model}' failed: {reason}")
            }
            DetectorError::Decode { model, error } => write!(f, "model '{model}': {error}"),
        }
    }
}

impl std::error::Error for DetectorError {}

/// Cap on the automatic input's long side: beyond it, cost grows faster than recall.
pub const AUTO_INPUT_MAX: usize = 1920;
/// Frames larger than `AUTO_INPUT_MAX` keep their own size up to this long side (4K UHD),
/// and are scaled down to it beyond: a model's activations grow with its input, and a
/// 12000x9000 photo at its own size took more than 24 GB (measured, killed).
pub const AUTO_INPUT_LARGEST: usize = 3840;

impl DetectorConfig {
    /// The long side of the model input for a frame of this size (see `input_size`).
    pub fn input_long_side(&self, frame_w: usize, frame_h: usize) -> usize {
        if self.input_size > 0 {
            return self.input_size;
        }
        let long = frame_w.max(frame_h) as f32;
        ((long * self.input_scale).round() as usize).clamp(
            32,
            AUTO_INPUT_MAX
                .max(frame_w.max(frame_h))
                .min(AUTO_INPUT_LARGEST),
        )
    }
}

pub struct Detector {
    config: DetectorConfig,
    name: String,
    family: Box<dyn Family>,
    session: Option<Session>,
    path: PathBuf,
    options: SessionOptions,
    fixed_input: Option<(usize, usize)>,
    pre: Preprocessor,
    tensor: Vec<f32>,
    /// The model input in device memory (CUDA sessions).
    device_input: Option<DeviceBuffer>,
    candidates: Vec<Detection>,
    cost: DetectCost,
}

impl fmt::Debug for Detector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Detector")
            .field("config", &self.config)
            .field("path", &self.path)
            .finish()
    }
}

impl Detector {
    pub fn new(config: DetectorConfig) -> Result<Detector, DetectorError> {
        let resolved = redact_models::resolve_model(&config.model, config.model_dir.as_deref())
            .map_err(DetectorError::Model)?;
        let manifest = &resolved.manifest;
        if manifest.class != config.class.as_str() {
            return Err(DetectorError::WrongClass {
                model: config.model.clone(),
                model_class: manifest.class.clone(),
                wanted: config.class,
            });
        }
        let family = family_for(&manifest.family).ok_or_else(|| DetectorError::UnknownFamily {
            model: config.model.clone(),
            family: manifest.family.clone(),
        })?;
        let options = SessionOptions {
            threads: config.threads,
            cuda: config.cuda,
        };
        let session =
            redact_models::load_session(&resolved.path, options).map_err(DetectorError::Runtime)?;
        // The graph's own input size, when it has a fixed one (dims > 0).
        let fixed_input = session
            .inputs()
            .iter()
            .find(|i| i.name() == family.input_name())
            .and_then(|i| i.dtype().tensor_shape().map(|s| s.to_vec()))
            .filter(|s| s.len() == 4 && s[2] > 0 && s[3] > 0)
            .map(|s| (s[3] as usize, s[2] as usize));
        Ok(Detector {
            name: manifest.name.clone(),
            family,
            session: Some(session),
            path: resolved.path,
            options,
            fixed_input,
            pre: Preprocessor::new(),
            tensor: Vec::new(),
            device_input: None,
            candidates: Vec::new(),
            cost: DetectCost::default(),
            config,
        })
    }

    pub fn config(&self) -> &DetectorConfig {
        &self.config
    }

    pub fn model_path(&self) -> &Path {
        &self.path
    }

    /// The model input size used for a frame of this size.
    pub fn input_size_for(&self, frame_w: usize, frame_h: usize) -> (usize, usize) {
        let spec = self.spec_for(frame_w, frame_h);
        (spec.width, spec.height)
    }

    fn spec_for(&self, frame_w: usize, frame_h: usize) -> InputSpec {
        let long = self.config.input_long_side(frame_w, frame_h);
        self.family
            .input_spec(frame_w, frame_h, long, self.fixed_input)
    }

    pub fn set_threshold(&mut self, threshold: f32) {
        self.config.threshold = threshold;
    }

    /// The IoU above which the model's boxes of one object are merged (non-maximum
    /// suppression), also used to merge two passes of the model.
    pub fn nms_iou(&self) -> f32 {
        self.family.nms_iou()
    }

    /// CPU time spent in `detect` since the last call, by stage (the caller sums).
    pub fn take_cost(&mut self) -> DetectCost {
        std::mem::take(&mut self.cost)
    }

    /// Detections in frame pixels, clipped to the frame, best first.
    pub fn detect(&mut self, frame: &Frame) -> Result<Vec<Detection>, DetectorError> {
        let mut watch = Stopwatch::start();
        let spec = self.spec_for(frame.width, frame.height);
        let mapping = self.pre.fill_tensor(frame, &spec, &mut self.tensor);
        self.cost.preprocess += watch.lap();
        // The input borrows the tensor while `infer` borrows the detector.
        let tensor = std::mem::take(&mut self.tensor);
        let found = match TensorRef::from_array_view((
            [1usize, 3, spec.height, spec.width],
            tensor.as_slice(),
        )) {
            Ok(input) => self.infer(
                input.into(),
                &spec,
                mapping,
                (frame.width, frame.height),
                &mut watch,
            ),
            Err(e) => Err(self.fail(e.to_string())),
        };
        self.tensor = tensor;
        found
    }

    /// `detect` for a frame in device memory, with a detector made with `cuda` set: the
    /// model input is built by the preprocessing kernel on `engine`'s stream (the stream the
    /// session computes on) straight into a device buffer that ONNX Runtime reads; only the
    /// model's outputs come to the host. `engine` must live in the context ONNX Runtime uses
    /// (the device's primary context).
    pub fn detect_on_device(
        &mut self,
        engine: &mut Engine,
        frame: &DeviceFrame,
    ) -> Result<Vec<Detection>, DetectorError> {
        if self.config.cuda.is_none() {
            return Err(self.fail("this detector runs on the CPU; it was not made for CUDA".into()));
        }
        let mut watch = Stopwatch::start();
        let spec = self.spec_for(frame.width, frame.height);
        let bytes = 3 * spec.width * spec.height * 4;
        if self.device_input.as_ref().is_none_or(|b| b.len() < bytes) {
            self.device_input = None;
            self.device_input = Some(
                DeviceBuffer::new(engine.context(), bytes).map_err(|e| self.fail(e.to_string()))?,
            );
        }
        let buffer = self.device_input.as_ref().expect("just made");
        let mapping = engine
            .preprocess(frame, &spec, buffer)
            .map_err(|e| self.fail(e.to_string()))?;
        self.cost.preprocess += watch.lap();
        let info = MemoryInfo::new(
            AllocationDevice::CUDA,
            self.config.cuda.map_or(0, |c| c.device),
            AllocatorType::Device,
            MemoryType::Default,
        )
        .map_err(|e| self.fail(e.to_string()))?;
        // SAFETY: the buffer holds 3 x H x W f32 in device memory of the session's device,
        // and outlives the run below; the session computes on the engine's stream, after
        // the kernel that wrote it.
        let input = unsafe {
            TensorRefMut::<f32>::from_raw(
                info,
                buffer.ptr() as usize as *mut _,
                Shape::new([1, 3, spec.height as i64, spec.width as i64]),
            )
        }
        .map_err(|e| self.fail(e.to_string()))?;
        self.infer(
            input.into(),
            &spec,
            mapping,
            (frame.width, frame.height),
            &mut watch,
        )
    }

    /// Runs the model on `input` and decodes its outputs for a frame of `size`.
    fn infer(
        &mut self,
        input: SessionInputValue<'_>,
        spec: &InputSpec,
        mapping: Mapping,
        size: (usize, usize),
        watch: &mut Stopwatch,
    ) -> Result<Vec<Detection>, DetectorError> {
        let mut session = self.session.take().expect("session present until drop");
        let found = (|| {
            let run = session
                .run(vec![(
                    std::borrow::Cow::from(self.family.input_name()),
                    input,
                )])
                .map_err(|e| self.fail(e.to_string()))?;
            self.cost.inference += watch.lap();
            let found = self.decode(&run, spec, mapping, size.0, size.1);
            self.cost.postprocess += watch.lap();
            found
        })();
        self.session = Some(session);
        found
    }

    fn fail(&self, reason: String) -> DetectorError {
        DetectorError::Inference {
            model: self.name.clone(),
            reason,
        }
    }

    /// The model's outputs as detections in frame pixels (NMS, mapped back, clipped).
    fn decode(
        &mut self,
        run: &SessionOutputs,
        spec: &InputSpec,
        mapping: Mapping,
        width: usize,
        height: usize,
    ) -> Result<Vec<Detection>, DetectorError> {
        let mut outputs = Outputs::default();
        for &name in self.family.output_names() {
            let value = run
                .get(name)
                .ok_or_else(|| self.fail(format!("no output named '{name}'")))?;
            let (shape, data) = value
                .try_extract_tensor::<f32>()
                .map_err(|e| self.fail(e.to_string()))?;
            outputs.tensors.push(Tensor {
                name: name.to_string(),
                shape: shape.iter().map(|&d| d.max(0) as usize).collect(),
                data,
            });
        }
        self.candidates.clear();
        self.family
            .decode(
                &outputs,
                spec,
                self.config.class,
                self.config.threshold,
                &mut self.candidates,
            )
            .map_err(|error| DetectorError::Decode {
                model: self.name.clone(),
                error,
            })?;
        drop(outputs);

        let (fw, fh) = (width as f32, height as f32);
        let kept = nms(std::mem::take(&mut self.candidates), self.family.nms_iou());
        let mut detections = Vec::with_capacity(kept.len());
        for mut d in kept {
            let [x1, y1] = mapping.to_frame(d.bbox.x, d.bbox.y);
            let [x2, y2] = mapping.to_frame(d.bbox.x + d.bbox.w, d.bbox.y + d.bbox.h);
            d.bbox = super::detection::BBox::from_corners(x1, y1, x2, y2).clip(fw, fh);
            if d.bbox.w < 1.0 || d.bbox.h < 1.0 {
                continue;
            }
            for p in &mut d.points {
                *p = mapping.to_frame(p[0], p[1]);
            }
            detections.push(d);
        }
        Ok(detections)
    }
}

impl Drop for Detector {
    fn drop(&mut self) {
        if let Some(session) = self.session.take() {
            redact_models::release_session(&self.path, self.options, session);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(input_size: usize, input_scale: f32) -> DetectorConfig {
        DetectorConfig {
            class: ObjectClass::Face,
            model: "yunet-s".into(),
            model_dir: None,
            threshold: 0.5,
            input_size,
            input_scale,
            threads: 0,
            cuda: None,
        }
    }

    #[test]
    fn automatic_input_size_scales_and_caps() {
        assert_eq!(config(0, 2.0).input_long_side(400, 300), 800);
        assert_eq!(config(0, 2.0).input_long_side(1280, 720), 1920);
        // A frame larger than the cap is never downscaled by the automatic size.
        assert_eq!(config(0, 2.0).input_long_side(3840, 2160), 3840);
        // … up to 4K; larger ones are scaled down to it (memory).
        assert_eq!(config(0, 1.0).input_long_side(12000, 9000), 3840);
        assert_eq!(config(0, 1.0).input_long_side(5000, 100), 3840);
        assert_eq!(config(0, 1.0).input_long_side(640, 360), 640);
        assert_eq!(config(960, 2.0).input_long_side(1920, 1080), 960);
    }
}
