//! Model families: how to feed a model (input layout) and how to read its outputs.
//! A new family is one new file implementing `Family`, plus one line in `family_for`.

mod centerface;
mod hyperlpr3;
mod yunet;

use std::fmt;

use super::detection::{Detection, ObjectClass};
use super::preprocess::InputSpec;

pub use centerface::CenterFace;
pub use hyperlpr3::HyperLpr3;
pub use yunet::YuNet;

/// One named output of a model run, as plain data.
#[derive(Debug, Clone)]
pub struct Tensor<'a> {
    pub name: String,
    pub shape: Vec<usize>,
    pub data: &'a [f32],
}

/// All outputs of one run.
#[derive(Debug, Default)]
pub struct Outputs<'a> {
    pub tensors: Vec<Tensor<'a>>,
}

impl<'a> Outputs<'a> {
    pub fn get(&self, name: &str) -> Result<&Tensor<'a>, DecodeError> {
        self.tensors
            .iter()
            .find(|t| t.name == name)
            .ok_or_else(|| DecodeError(format!("the model has no output '{name}'")))
    }

    /// An output whose element count must be `len`.
    pub fn get_len(&self, name: &str, len: usize) -> Result<&'a [f32], DecodeError> {
        let t = self.get(name)?;
        if t.data.len() != len {
            return Err(DecodeError(format!(
                "output '{name}' has {} values (shape {:?}), expected {len}",
                t.data.len(),
                t.shape
            )));
        }
        Ok(t.data)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct DecodeError(pub String);

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unexpected model output: {}", self.0)
    }
}

impl std::error::Error for DecodeError {}

pub trait Family: Send + Sync {
    fn name(&self) -> &'static str;
    fn input_name(&self) -> &'static str;
    fn output_names(&self) -> &'static [&'static str];
    /// The input for a frame of this size. `input_size` is the long side, in pixels, of the
    /// image the model sees (0: the frame's own); `fixed` is the graph's own input size,
    /// which wins when the graph has one.
    fn input_spec(
        &self,
        frame_w: usize,
        frame_h: usize,
        input_size: usize,
        fixed: Option<(usize, usize)>,
    ) -> InputSpec;
    /// Appends detections scoring at least `threshold`, in model-input pixels, before NMS.
    fn decode(
        &self,
        outputs: &Outputs,
        spec: &InputSpec,
        class: ObjectClass,
        threshold: f32,
        out: &mut Vec<Detection>,
    ) -> Result<(), DecodeError>;
    /// IoU above which the weaker of two boxes is dropped.
    fn nms_iou(&self) -> f32;
}

/// The family implementation for a manifest's `family` name.
pub fn family_for(name: &str) -> Option<Box<dyn Family>> {
    match name {
        "yunet" => Some(Box::new(YuNet)),
        "hyperlpr3" => Some(Box::new(HyperLpr3)),
        "centerface" => Some(Box::new(CenterFace)),
        _ => None,
    }
}

/// The model input (multiple of `align` on each side) for a frame scaled so its long side
/// is `input_size` (0: unscaled). Returns the content size and the padded input size.
pub(crate) fn scaled_input(
    frame_w: usize,
    frame_h: usize,
    input_size: usize,
    align: usize,
) -> (usize, usize, usize, usize) {
    let r = if input_size == 0 {
        1.0
    } else {
        input_size as f64 / frame_w.max(frame_h) as f64
    };
    let cw = ((frame_w as f64 * r).round() as usize).max(1);
    let ch = ((frame_h as f64 * r).round() as usize).max(1);
    (
        cw,
        ch,
        cw.div_ceil(align) * align,
        ch.div_ceil(align) * align,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scaled_input_rounds_up_to_alignment() {
        assert_eq!(scaled_input(640, 360, 0, 32), (640, 360, 640, 384));
        assert_eq!(scaled_input(400, 300, 800, 32), (800, 600, 800, 608));
        assert_eq!(scaled_input(1920, 1080, 960, 32), (960, 540, 960, 544));
    }

    #[test]
    fn every_family_is_known_by_name() {
        for name in ["yunet", "hyperlpr3", "centerface"] {
            assert_eq!(family_for(name).unwrap().name(), name);
        }
        assert!(family_for("ssd").is_none());
    }
}
