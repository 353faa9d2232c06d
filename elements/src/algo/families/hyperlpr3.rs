//! HyperLPR3 y5fu: a YOLOv5-face style plate detector with four corner points.
//! Input RGB / 255 in a centred letterbox of the graph's fixed size; the output is already
//! decoded to letterbox pixels: [cx, cy, w, h, obj, x1, y1 .. x4, y4, p_single, p_double].

use super::{DecodeError, Family, Outputs};
use crate::algo::detection::{BBox, Detection, ObjectClass};
use crate::algo::preprocess::{ChannelOrder, InputSpec, Placement};

pub struct HyperLpr3;

const ROW: usize = 15;

impl Family for HyperLpr3 {
    fn name(&self) -> &'static str {
        "hyperlpr3"
    }

    fn input_name(&self) -> &'static str {
        "input"
    }

    fn output_names(&self) -> &'static [&'static str] {
        &["output"]
    }

    fn input_spec(
        &self,
        _frame_w: usize,
        _frame_h: usize,
        input_size: usize,
        fixed: Option<(usize, usize)>,
    ) -> InputSpec {
        let (w, h) = fixed.unwrap_or((input_size.max(32), input_size.max(32)));
        InputSpec {
            width: w,
            height: h,
            order: ChannelOrder::Rgb,
            scale: 1.0 / 255.0,
            placement: Placement::Centered,
            pad: 0.0,
            content_width: 0,
            content_height: 0,
        }
    }

    fn decode(
        &self,
        outputs: &Outputs,
        _spec: &InputSpec,
        class: ObjectClass,
        threshold: f32,
        out: &mut Vec<Detection>,
    ) -> Result<(), DecodeError> {
        let t = outputs.get("output")?;
        if t.data.len() % ROW != 0 {
            return Err(DecodeError(format!(
                "'output' has shape {:?}, expected [1, N, {ROW}]",
                t.shape
            )));
        }
        for row in t.data.chunks_exact(ROW) {
            let score = row[4] * row[13].max(row[14]);
            if score < threshold {
                continue;
            }
            let (cx, cy, w, h) = (row[0], row[1], row[2], row[3]);
            out.push(Detection {
                class,
                bbox: BBox::new(cx - w / 2.0, cy - h / 2.0, w, h),
                score,
                points: (0..4).map(|k| [row[5 + 2 * k], row[6 + 2 * k]]).collect(),
            });
        }
        Ok(())
    }

    fn nms_iou(&self) -> f32 {
        0.5
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::algo::families::Tensor;

    #[test]
    fn decodes_rows_above_threshold() {
        let spec = HyperLpr3.input_spec(1000, 500, 0, Some((640, 640)));
        assert_eq!((spec.width, spec.placement), (640, Placement::Centered));
        let mut data = vec![0.0f32; 3 * ROW];
        // Row 1: a plate at (100, 200), 80 x 20, obj 0.9, double-row prob 0.5 -> 0.45.
        data[ROW..2 * ROW].copy_from_slice(&[
            100.0, 200.0, 80.0, 20.0, 0.9, 60.0, 190.0, 140.0, 190.0, 140.0, 210.0, 60.0, 210.0,
            0.1, 0.5,
        ]);
        // Row 2: below threshold.
        data[2 * ROW + 4] = 0.2;
        data[2 * ROW + 13] = 1.0;
        let outputs = Outputs {
            tensors: vec![Tensor {
                name: "output".into(),
                shape: vec![1, 3, ROW],
                data: &data,
            }],
        };
        let mut out = Vec::new();
        HyperLpr3
            .decode(&outputs, &spec, ObjectClass::LicensePlate, 0.3, &mut out)
            .unwrap();
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].bbox, BBox::new(60.0, 190.0, 80.0, 20.0));
        assert!((out[0].score - 0.45).abs() < 1e-6);
        assert_eq!(out[0].points[2], [140.0, 210.0]);
    }
}
