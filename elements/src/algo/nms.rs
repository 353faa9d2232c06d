//! Greedy non-maximum suppression, per class: the highest-scoring box wins and every box
//! overlapping it by more than the IoU limit is dropped.

use super::detection::Detection;

/// Keeps the best box of each overlapping group; output sorted by score, best first.
pub fn nms(mut detections: Vec<Detection>, iou_limit: f32) -> Vec<Detection> {
    detections.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut kept: Vec<Detection> = Vec::with_capacity(detections.len().min(256));
    for d in detections {
        let overlaps = kept
            .iter()
            .any(|k| k.class == d.class && k.bbox.iou(&d.bbox) > iou_limit);
        if !overlaps {
            kept.push(d);
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::algo::detection::{BBox, ObjectClass};

    fn det(x: f32, score: f32, class: ObjectClass) -> Detection {
        Detection {
            class,
            bbox: BBox::new(x, 0.0, 10.0, 10.0),
            score,
            points: vec![],
        }
    }

    #[test]
    fn keeps_best_of_overlapping_boxes() {
        let out = nms(
            vec![
                det(0.0, 0.5, ObjectClass::Face),
                det(1.0, 0.9, ObjectClass::Face),
                det(30.0, 0.4, ObjectClass::Face),
            ],
            0.3,
        );
        let xs: Vec<f32> = out.iter().map(|d| d.bbox.x).collect();
        assert_eq!(xs, [1.0, 30.0]);
    }

    #[test]
    fn iou_limit_is_exclusive_and_classes_do_not_suppress_each_other() {
        // IoU of these two is 5/15 = 0.333...
        let a = det(0.0, 0.9, ObjectClass::Face);
        let b = det(5.0, 0.8, ObjectClass::Face);
        assert_eq!(nms(vec![a.clone(), b.clone()], 0.3).len(), 1);
        assert_eq!(nms(vec![a.clone(), b], 0.34).len(), 2);
        let plate = det(0.0, 0.5, ObjectClass::LicensePlate);
        assert_eq!(nms(vec![a, plate], 0.3).len(), 2);
    }
}
