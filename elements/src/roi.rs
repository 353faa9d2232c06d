// SPDX-License-Identifier: MIT OR Apache-2.0
//! The ROI meta contract in one place: how a region is written onto a buffer as a
//! `GstVideoRegionOfInterestMeta` with its `detection` param structure, and how it is read
//! back. `redactdetect` and `redacttrack` write with `attach`; `redacttrack`, the launcher
//! and tests read with `read`.

use gst::glib;
use gst::prelude::*;

use crate::algo::detection::{BBox, ObjectClass};

/// One region as the metas carry it.
#[derive(Debug, Clone, PartialEq)]
pub struct Roi {
    pub roi_type: String,
    /// x, y, w, h in frame pixels.
    pub rect: (u32, u32, u32, u32),
    /// The track id; -1 when untracked.
    pub id: i32,
    /// Detector confidence (1.0 when the meta has none, e.g. another tool's region).
    pub confidence: f64,
    /// Face landmarks or plate corners, frame pixels.
    pub points: Vec<[f64; 2]>,
    /// `detected` unless the tracker made the box (`predicted`, `interpolated`, `backfilled`)
    /// or a verification pass found it on the masked frame (`verified`).
    pub origin: String,
}

/// What a candidate region's `roi_type` ends with: `face-candidate`,
/// `license-plate-candidate`. A candidate is a find scored below the detector's threshold,
/// which `redacttrack` uses only to continue a track; nothing masks it by default (it is
/// not a `face` to anyone who does not ask for it).
pub const CANDIDATE_SUFFIX: &str = "-candidate";

/// The `roi_type` of a candidate of `class`.
pub fn candidate_type(class: ObjectClass) -> &'static str {
    match class {
        ObjectClass::Face => "face-candidate",
        ObjectClass::LicensePlate => "license-plate-candidate",
    }
}

/// The class's `roi_type` when `roi_type` is a candidate's, else None.
pub fn candidate_class(roi_type: &str) -> Option<&str> {
    roi_type.strip_suffix(CANDIDATE_SUFFIX)
}

/// The name of the points field for a region type.
fn points_field(roi_type: &str) -> &'static str {
    if candidate_class(roi_type).unwrap_or(roi_type) == "face" {
        "landmarks"
    } else {
        "corners"
    }
}

/// The box clipped to the frame and rounded outwards to whole pixels (a mask is never
/// smaller than the box); None when nothing of it is inside the frame.
pub fn rect_outwards(bbox: &BBox, width: u32, height: u32) -> Option<(u32, u32, u32, u32)> {
    let b = bbox.clip(width as f32, height as f32);
    if b.w <= 0.0 || b.h <= 0.0 {
        return None;
    }
    let (x, y) = (b.x.floor(), b.y.floor());
    let w = ((b.x + b.w).ceil() - x).max(1.0);
    let h = ((b.y + b.h).ceil() - y).max(1.0);
    Some((x as u32, y as u32, w as u32, h as u32))
}

/// Adds one region. `origin` is written (with `track_id`) by the tracker and by a
/// verification pass (`verified`): a plain detection carries neither.
pub fn attach(
    buffer: &mut gst::BufferRef,
    roi_type: &str,
    rect: (u32, u32, u32, u32),
    id: i32,
    confidence: f64,
    points: &[[f32; 2]],
    origin: Option<&str>,
) {
    let mut param = gst::Structure::builder("detection")
        .field("confidence", confidence)
        .field("class", roi_type);
    if !points.is_empty() {
        let values: Vec<glib::SendValue> = points
            .iter()
            .flat_map(|p| [p[0] as f64, p[1] as f64])
            .map(|v| v.to_send_value())
            .collect();
        param = param.field(points_field(roi_type), gst::Array::new(values));
    }
    if let Some(origin) = origin {
        param = param.field("track_id", id).field("origin", origin);
    }
    let mut meta = gst_video::VideoRegionOfInterestMeta::add(buffer, roi_type, rect);
    meta.set_id(id);
    meta.add_param(param.build());
}

/// Reads one region back.
pub fn read(meta: &gst_video::VideoRegionOfInterestMeta) -> Roi {
    let param = meta.param("detection");
    let flat: Vec<f64> = param
        .and_then(|p| p.get::<gst::Array>(points_field(meta.roi_type())).ok())
        .map(|a| a.iter().filter_map(|v| v.get::<f64>().ok()).collect())
        .unwrap_or_default();
    Roi {
        roi_type: meta.roi_type().to_string(),
        rect: meta.rect(),
        id: meta.id(),
        confidence: param
            .and_then(|p| p.get::<f64>("confidence").ok())
            .unwrap_or(1.0),
        points: flat.chunks_exact(2).map(|p| [p[0], p[1]]).collect(),
        origin: param
            .and_then(|p| p.get::<String>("origin").ok())
            .unwrap_or_else(|| "detected".into()),
    }
}

/// Every region of a buffer.
pub fn read_all(buffer: &gst::BufferRef) -> Vec<Roi> {
    buffer
        .iter_meta::<gst_video::VideoRegionOfInterestMeta>()
        .map(|m| read(&m))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_regions_read_back() {
        gst::init().unwrap();
        let mut buffer = gst::Buffer::new();
        let b = buffer.get_mut().unwrap();
        attach(
            b,
            "face",
            (1, 2, 3, 4),
            -1,
            0.75,
            &[[1.5, 2.5], [3.0, 4.0]],
            None,
        );
        attach(
            b,
            "license-plate",
            (5, 6, 7, 8),
            9,
            0.5,
            &[[1.0, 1.0]],
            Some("interpolated"),
        );
        attach(b, "manual", (0, 0, 2, 2), -1, 1.0, &[], None);
        let rois = read_all(&buffer);
        assert_eq!(rois.len(), 3);
        assert_eq!(
            rois[0],
            Roi {
                roi_type: "face".into(),
                rect: (1, 2, 3, 4),
                id: -1,
                confidence: 0.75,
                points: vec![[1.5, 2.5], [3.0, 4.0]],
                origin: "detected".into()
            }
        );
        assert_eq!(
            (rois[1].id, rois[1].origin.as_str(), rois[1].points.len()),
            (9, "interpolated", 1)
        );
        let plate = buffer
            .iter_meta::<gst_video::VideoRegionOfInterestMeta>()
            .nth(1)
            .unwrap();
        assert_eq!(
            plate
                .param("detection")
                .unwrap()
                .get::<i32>("track_id")
                .unwrap(),
            9
        );
        assert!(plate.param("detection").unwrap().has_field("corners"));
        assert_eq!(rois[2].points, Vec::<[f64; 2]>::new());
    }

    #[test]
    fn rects_round_outwards_and_clip() {
        assert_eq!(
            rect_outwards(&BBox::new(1.5, 2.2, 3.0, 3.0), 100, 100),
            Some((1, 2, 4, 4))
        );
        assert_eq!(
            rect_outwards(&BBox::new(-5.0, 90.0, 20.0, 20.0), 100, 100),
            Some((0, 90, 15, 10))
        );
        assert_eq!(
            rect_outwards(&BBox::new(200.0, 0.0, 5.0, 5.0), 100, 100),
            None
        );
    }

    #[test]
    fn candidate_types_name_their_class() {
        for class in [ObjectClass::Face, ObjectClass::LicensePlate] {
            let t = candidate_type(class);
            assert_eq!(candidate_class(t), Some(class.as_str()));
            assert_eq!(points_field(t), points_field(class.as_str()));
        }
        assert_eq!(candidate_class("face"), None);
    }
}
