//! YuNet (libfacedetection): anchor-free, strides 8/16/32, five landmarks.
//! Input BGR 0..255, image at the top-left of an input whose sides are multiples of 32.

use super::{DecodeError, Family, Outputs, scaled_input};
use crate::algo::detection::{BBox, Detection, ObjectClass};
use crate::algo::preprocess::{ChannelOrder, InputSpec, Placement};

pub struct YuNet;

const STRIDES: [usize; 3] = [8, 16, 32];
/// Output names per stride: cls, obj, bbox, kps.
const OUTPUTS: [[&str; 4]; 3] = [
    ["cls_8", "obj_8", "bbox_8", "kps_8"],
    ["cls_16", "obj_16", "bbox_16", "kps_16"],
    ["cls_32", "obj_32", "bbox_32", "kps_32"],
];

impl Family for YuNet {
    fn name(&self) -> &'static str {
        "yunet"
    }

    fn input_name(&self) -> &'static str {
        "input"
    }

    fn output_names(&self) -> &'static [&'static str] {
        OUTPUTS.as_flattened()
    }

    fn input_spec(
        &self,
        frame_w: usize,
        frame_h: usize,
        input_size: usize,
        _fixed: Option<(usize, usize)>,
    ) -> InputSpec {
        let (cw, ch, w, h) = scaled_input(frame_w, frame_h, input_size, 32);
        InputSpec {
            width: w,
            height: h,
            order: ChannelOrder::Bgr,
            scale: 1.0,
            placement: Placement::TopLeft,
            pad: 0.0,
            content_width: cw,
            content_height: ch,
        }
    }

    fn decode(
        &self,
        outputs: &Outputs,
        spec: &InputSpec,
        class: ObjectClass,
        threshold: f32,
        out: &mut Vec<Detection>,
    ) -> Result<(), DecodeError> {
        for (s, [cls, obj, bbox, kps]) in STRIDES.into_iter().zip(OUTPUTS) {
            let (cols, rows) = (spec.width / s, spec.height / s);
            let n = cols * rows;
            let cls = outputs.get_len(cls, n)?;
            let obj = outputs.get_len(obj, n)?;
            let bbox = outputs.get_len(bbox, 4 * n)?;
            let kps = outputs.get_len(kps, 10 * n)?;
            let sf = s as f32;
            for i in 0..n {
                let score = (cls[i].clamp(0.0, 1.0) * obj[i].clamp(0.0, 1.0)).sqrt();
                if score < threshold {
                    continue;
                }
                let (c, r) = ((i % cols) as f32, (i / cols) as f32);
                let b = &bbox[4 * i..4 * i + 4];
                let (cx, cy) = ((c + b[0]) * sf, (r + b[1]) * sf);
                let (w, h) = (b[2].exp() * sf, b[3].exp() * sf);
                let k = &kps[10 * i..10 * i + 10];
                out.push(Detection {
                    class,
                    bbox: BBox::new(cx - w / 2.0, cy - h / 2.0, w, h),
                    score,
                    points: (0..5)
                        .map(|j| [(k[2 * j] + c) * sf, (k[2 * j + 1] + r) * sf])
                        .collect(),
                });
            }
        }
        Ok(())
    }

    fn nms_iou(&self) -> f32 {
        0.3
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::algo::families::Tensor;

    #[test]
    fn decodes_one_anchor() {
        let spec = YuNet.input_spec(64, 32, 0, None);
        assert_eq!((spec.width, spec.height), (64, 32));
        // Stride 8: 8x4 cells. Put a face at cell (c=2, r=1).
        let mut data: Vec<(String, Vec<f32>)> = Vec::new();
        for s in STRIDES {
            let n = (64 / s) * (32 / s);
            let mut cls = vec![0.0; n];
            let mut obj = vec![0.0; n];
            let mut bbox = vec![0.0; 4 * n];
            let kps = vec![0.5; 10 * n];
            if s == 8 {
                let i = 8 + 2;
                cls[i] = 0.81;
                obj[i] = 1.0;
                bbox[4 * i..4 * i + 4].copy_from_slice(&[0.5, 0.25, 1.0f32.ln(), 2.0f32.ln()]);
            }
            data.push((format!("cls_{s}"), cls));
            data.push((format!("obj_{s}"), obj));
            data.push((format!("bbox_{s}"), bbox));
            data.push((format!("kps_{s}"), kps));
        }
        let outputs = Outputs {
            tensors: data
                .iter()
                .map(|(name, d)| Tensor {
                    name: name.clone(),
                    shape: vec![1, d.len()],
                    data: d,
                })
                .collect(),
        };
        let mut out = Vec::new();
        YuNet
            .decode(&outputs, &spec, ObjectClass::Face, 0.5, &mut out)
            .unwrap();
        assert_eq!(out.len(), 1);
        let d = &out[0];
        assert!((d.score - 0.9).abs() < 1e-6);
        // Centre (2.5*8, 1.25*8) = (20, 10), size 8 x 16.
        assert_eq!(d.bbox, BBox::new(16.0, 2.0, 8.0, 16.0));
        assert_eq!(d.points[0], [20.0, 12.0]);
        // Wrong output sizes are an error, not a panic.
        let short = Outputs {
            tensors: vec![Tensor {
                name: "cls_8".into(),
                shape: vec![1],
                data: &[0.0],
            }],
        };
        assert!(
            YuNet
                .decode(&short, &spec, ObjectClass::Face, 0.5, &mut out)
                .is_err()
        );
    }
}
