//! Every input format gives the same detections as the RGB reference path, on real photos:
//! once through `Detector` on frames converted in memory, once through `redactdetect` in a
//! pipeline with each format negotiated.

mod support;

use gst::prelude::*;
use redact_elements::algo::detection::{Detection, ObjectClass};
use redact_elements::algo::detector::{Detector, DetectorConfig};
use redact_elements::algo::frame::{OwnedFrame, PixelFormat, YuvMatrix};

fn detector(class: ObjectClass) -> Detector {
    let model = match class {
        ObjectClass::Face => "yunet-n",
        ObjectClass::LicensePlate => "hyperlpr3-640",
    };
    Detector::new(DetectorConfig {
        class,
        model: model.into(),
        model_dir: None,
        threshold: 0.4,
        input_size: 0,
        input_scale: if class == ObjectClass::Face { 2.0 } else { 1.0 },
        threads: 0,
        cuda: None,
    })
    .unwrap_or_else(|e| panic!("{e}"))
}

/// Every reference box has a box of the same class within `tolerance` px on each side.
fn assert_same_boxes(what: &str, reference: &[[f32; 4]], got: &[[f32; 4]], tolerance: f32) {
    assert_eq!(
        reference.len(),
        got.len(),
        "{what}: {got:?} vs reference {reference:?}"
    );
    for r in reference {
        let close = got
            .iter()
            .any(|g| (0..4).all(|k| (g[k] - r[k]).abs() <= tolerance));
        assert!(
            close,
            "{what}: no box within {tolerance} px of {r:?} in {got:?}"
        );
    }
}

fn boxes(ds: &[Detection]) -> Vec<[f32; 4]> {
    // Compare edges (x1, y1, x2, y2), not sizes: "within 2 px" is about where the mask goes.
    ds.iter()
        .map(|d| [d.bbox.x, d.bbox.y, d.bbox.x + d.bbox.w, d.bbox.y + d.bbox.h])
        .collect()
}

#[test]
fn detector_gives_the_same_boxes_for_every_format() {
    let Some(data) = support::shared_data() else {
        return;
    };
    for (image, class) in [
        ("faces-dlib/2008_002470.jpg", ObjectClass::Face),
        ("faces-dlib/2008_004176.jpg", ObjectClass::Face),
        ("plates-openalpr-eu/eu1.jpg", ObjectClass::LicensePlate),
    ] {
        let (w, h, rgb) = support::decode_rgb(&data.join(image));
        let mut det = detector(class);
        let reference = det
            .detect(&OwnedFrame::from_rgb(PixelFormat::Rgb, w, h, &rgb, YuvMatrix::BT601).view())
            .unwrap();
        assert!(
            !reference.is_empty(),
            "{image}: the reference path found nothing"
        );
        // GRAY8 has no colour: its reference is the RGB path on the same grey image.
        let grey: Vec<u8> = rgb
            .chunks_exact(3)
            .flat_map(|p| {
                let g =
                    (0.299 * p[0] as f32 + 0.587 * p[1] as f32 + 0.114 * p[2] as f32).round() as u8;
                [g, g, g]
            })
            .collect();
        let grey_reference = det
            .detect(&OwnedFrame::from_rgb(PixelFormat::Rgb, w, h, &grey, YuvMatrix::BT601).view())
            .unwrap();
        for format in PixelFormat::ALL {
            let frame = OwnedFrame::from_rgb(format, w, h, &rgb, YuvMatrix::BT709);
            let got = det.detect(&frame.view()).unwrap();
            let want = if format == PixelFormat::Gray8 {
                &grey_reference
            } else {
                &reference
            };
            assert_same_boxes(
                &format!("{image} as {format:?}"),
                &boxes(want),
                &boxes(&got),
                2.0,
            );
        }
    }
}

/// Runs `redactdetect` on an image negotiated to `format` and returns the ROI boxes, at
/// thresholds above the defaults (faces 0.3), where a colour conversion's rounding can tip
/// a box whose score sits at the threshold in or out: the test is about formats.
fn element_boxes(path: &std::path::Path, format: &str) -> Vec<[f32; 4]> {
    support::init();
    let pipeline = support::pipeline(&format!(
        "filesrc location=\"{}\" ! decodebin ! videoconvert ! video/x-raw,format={format} ! \
         redactdetect classes=face+license-plate face-threshold=0.4 plate-threshold=0.5 ! \
         appsink name=sink",
        path.display()
    ));
    let sink = support::appsink(&pipeline);
    pipeline.set_state(gst::State::Playing).unwrap();
    let sample = sink.pull_sample().expect("a frame with metas");
    let caps_format = sample
        .caps()
        .unwrap()
        .structure(0)
        .unwrap()
        .get::<String>("format")
        .unwrap();
    assert_eq!(
        caps_format, format,
        "the element negotiated the format itself"
    );
    let out: Vec<[f32; 4]> = sample
        .buffer()
        .unwrap()
        .iter_meta::<gst_video::VideoRegionOfInterestMeta>()
        .filter(|m| redact_elements::roi::candidate_class(m.roi_type()).is_none())
        .map(|m| {
            let (x, y, w, h) = m.rect();
            let param = m.param("detection").expect("a detection param structure");
            let confidence = param.get::<f64>("confidence").unwrap();
            assert!((0.0..=1.0).contains(&confidence));
            assert_eq!(param.get::<String>("class").unwrap(), m.roi_type());
            let points = if m.roi_type() == "face" {
                "landmarks"
            } else {
                "corners"
            };
            let n = param.get::<gst::Array>(points).unwrap().len();
            assert_eq!(n, if m.roi_type() == "face" { 10 } else { 8 });
            assert_eq!(m.id(), -1);
            [x as f32, y as f32, (x + w) as f32, (y + h) as f32]
        })
        .collect();
    pipeline.set_state(gst::State::Null).unwrap();
    out
}

#[test]
fn element_reads_every_format_itself() {
    let Some(data) = support::shared_data() else {
        return;
    };
    // An image with both faces and a plate, and one with odd dimensions (chroma rounding).
    for image in [
        "faces-dlib/2008_002470.jpg",
        "plates-openalpr-eu/eu1.jpg",
        "faces-dlib/2008_001009.jpg",
    ] {
        let path = data.join(image);
        let reference = element_boxes(&path, "RGB");
        assert!(!reference.is_empty(), "{image}: nothing found");
        for format in ["I420", "NV12", "BGR", "RGBA", "BGRA", "RGBx", "BGRx"] {
            // Rounded outwards to whole pixels: allow 3 px (2 px + rounding).
            assert_same_boxes(
                &format!("{image} as {format}"),
                &reference,
                &element_boxes(&path, format),
                3.0,
            );
        }
    }
}

#[test]
fn interval_leaves_frames_in_between_without_metas() {
    let Some(data) = support::shared_data() else {
        return;
    };
    support::init();
    let pipeline = support::pipeline(&format!(
        "filesrc location=\"{}\" ! decodebin ! videoconvert ! redactdetect classes=face interval=3 ! appsink name=sink",
        data.join("video/short_hamilton_clip.mp4").display()
    ));
    let sink = support::appsink(&pipeline);
    pipeline.set_state(gst::State::Playing).unwrap();
    let mut with_metas = Vec::new();
    for i in 0..12 {
        let sample = sink.pull_sample().unwrap();
        let n = sample
            .buffer()
            .unwrap()
            .iter_meta::<gst_video::VideoRegionOfInterestMeta>()
            .count();
        with_metas.push((i, n));
    }
    pipeline.set_state(gst::State::Null).unwrap();
    for (i, n) in with_metas {
        if i % 3 == 0 {
            assert!(n > 0, "frame {i} ran the detector and the stage has faces");
        } else {
            assert_eq!(n, 0, "frame {i} is between detector runs");
        }
    }
}
