//! `redactmask` in a pipeline, for every format: masks exactly the ROI metas it is told to
//! handle (type, track id, area), with the chosen method, and leaves the rest of the frame.

mod support;

use gst::prelude::*;
use redact_elements::algo::frame::{Frame, PixelFormat, YuvMatrix};

const FORMATS: [(&str, PixelFormat); 9] = [
    ("I420", PixelFormat::I420),
    ("NV12", PixelFormat::Nv12),
    ("RGB", PixelFormat::Rgb),
    ("BGR", PixelFormat::Bgr),
    ("RGBA", PixelFormat::Rgba),
    ("BGRA", PixelFormat::Bgra),
    ("RGBx", PixelFormat::Rgbx),
    ("BGRx", PixelFormat::Bgrx),
    ("GRAY8", PixelFormat::Gray8),
];

/// A region: rectangle x, y, w, h.
type Rect = (u32, u32, u32, u32);

/// One 64x48 test frame in `format` through `redactmask <props>`, with ROI metas
/// (type, id, rect) added on its sink pad. Returns the output as RGB rows.
fn mask_frame(format: &str, props: &str, rois: &[(&str, i32, Rect)]) -> Vec<[f32; 3]> {
    support::init();
    let pipeline = support::pipeline(&format!(
        "videotestsrc num-buffers=1 pattern=smpte ! video/x-raw,format={format},width=64,height=48 ! \
         redactmask name=mask {props} ! appsink name=sink"
    ));
    let rois: Vec<(String, i32, Rect)> = rois
        .iter()
        .map(|(t, i, r)| (t.to_string(), *i, *r))
        .collect();
    let mask = pipeline.by_name("mask").unwrap();
    mask.static_pad("sink")
        .unwrap()
        .add_probe(gst::PadProbeType::BUFFER, move |_, info| {
            if let Some(gst::PadProbeData::Buffer(buffer)) = info.data.as_mut() {
                let buffer = buffer.make_mut();
                for (t, id, rect) in &rois {
                    let mut meta = gst_video::VideoRegionOfInterestMeta::add(buffer, t, *rect);
                    meta.set_id(*id);
                }
            }
            gst::PadProbeReturn::Ok
        });
    let sink = support::appsink(&pipeline);
    pipeline.set_state(gst::State::Playing).unwrap();
    let sample = sink.pull_sample().unwrap();
    let info = gst_video::VideoInfo::from_caps(sample.caps().unwrap()).unwrap();
    let vframe =
        gst_video::VideoFrameRef::from_buffer_ref_readable(sample.buffer().unwrap(), &info)
            .unwrap();
    let pf = FORMATS.iter().find(|(n, _)| *n == format).unwrap().1;
    let n = pf.n_planes();
    let planes: Vec<&[u8]> = (0..n as u32)
        .map(|p| vframe.plane_data(p).unwrap())
        .collect();
    let strides: Vec<usize> = info.stride()[..n].iter().map(|&s| s as usize).collect();
    let matrix = if info.colorimetry().matrix() == gst_video::VideoColorMatrix::Bt709 {
        YuvMatrix::BT709
    } else {
        YuvMatrix::BT601
    };
    let frame = Frame::new(pf, 64, 48, &planes, &strides, matrix).unwrap();
    let mut out = Vec::new();
    let mut row = vec![0.0; 3 * 64];
    for y in 0..48 {
        frame.row_rgb(y, &mut row);
        out.extend(row.chunks_exact(3).map(|p| [p[0], p[1], p[2]]));
    }
    drop(vframe);
    pipeline.set_state(gst::State::Null).unwrap();
    out
}

fn at(img: &[[f32; 3]], x: usize, y: usize) -> [f32; 3] {
    img[y * 64 + x]
}

fn close(a: [f32; 3], b: [f32; 3], tolerance: f32) -> bool {
    (0..3).all(|c| (a[c] - b[c]).abs() <= tolerance)
}

#[test]
fn fill_masks_the_listed_types_in_every_format() {
    for (format, pf) in FORMATS {
        let original = mask_frame(format, "", &[]);
        // Red fill; no padding so the box is exact. Types not listed are left alone.
        let out = mask_frame(
            format,
            "method=fill color=0xffff0000 padding=0",
            &[("face", -1, (8, 8, 16, 16)), ("logo", -1, (40, 8, 16, 16))],
        );
        let red = if pf == PixelFormat::Gray8 {
            [76.0; 3]
        } else {
            [255.0, 0.0, 0.0]
        };
        for (x, y) in [(8, 8), (23, 23), (15, 15)] {
            assert!(
                close(at(&out, x, y), red, 4.0),
                "{format} ({x},{y}) {:?}",
                at(&out, x, y)
            );
        }
        for (x, y) in [(45, 12), (60, 40), (30, 30)] {
            assert_eq!(
                at(&out, x, y),
                at(&original, x, y),
                "{format} ({x},{y}) untouched"
            );
        }
    }
}

#[test]
fn candidates_are_masked_only_when_asked_for() {
    let original = mask_frame("RGB", "", &[]);
    let rois = [("face-candidate", -1, (8, 8, 16, 16))];
    let props = "method=fill color=0xffff0000 padding=0";
    let out = mask_frame("RGB", props, &rois);
    assert_eq!(out, original, "a candidate is not a face to mask");
    let out = mask_frame("RGB", &format!("{props} roi-types=face-candidate"), &rois);
    assert!(close(at(&out, 15, 15), [255.0, 0.0, 0.0], 4.0));
}

#[test]
fn every_method_and_shape_changes_the_region_only() {
    for (format, _) in FORMATS {
        let original = mask_frame(format, "", &[]);
        for method in ["blur", "pixelate", "fill", "outline"] {
            for shape in ["rectangle", "ellipse"] {
                let out = mask_frame(
                    format,
                    &format!("method={method} shape={shape} padding=0"),
                    &[("face", -1, (16, 8, 32, 32))],
                );
                let changed_inside = (8..40)
                    .flat_map(|y| (16..48).map(move |x| (x, y)))
                    .filter(|&(x, y)| at(&out, x, y) != at(&original, x, y))
                    .count();
                assert!(
                    changed_inside > 20,
                    "{format} {method} {shape}: only {changed_inside} pixels changed"
                );
                // Two pixels away from the box (chroma blocks may touch it), nothing changes.
                for y in 0..48 {
                    for x in 0..64 {
                        if !(14..50).contains(&x) || !(6..42).contains(&y) {
                            assert_eq!(
                                at(&out, x, y),
                                at(&original, x, y),
                                "{format} {method} {shape} ({x},{y})"
                            );
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn track_ids_and_area_filter_regions() {
    let original = mask_frame("RGB", "", &[]);
    let rois = [
        ("face", 3, (4, 4, 8, 8)),
        ("face", 7, (40, 4, 8, 8)),
        ("face", -1, (4, 36, 8, 8)),
    ];
    let filled = |img: &[[f32; 3]], x, y| close(at(img, x, y), [255.0, 0.0, 0.0], 4.0);
    let base = "method=fill color=0xffff0000 padding=0";
    // Exclude 7: tracks 3 and untracked masked, 7 kept.
    let out = mask_frame(
        "RGB",
        &format!("{base} track-ids=7 track-scope=exclude"),
        &rois,
    );
    assert!(filled(&out, 8, 8) && filled(&out, 8, 40) && !filled(&out, 44, 8));
    // Include 7: only 7.
    let out = mask_frame(
        "RGB",
        &format!("{base} track-ids=7 track-scope=include"),
        &rois,
    );
    assert!(!filled(&out, 8, 8) && !filled(&out, 8, 40) && filled(&out, 44, 8));
    assert_eq!(at(&out, 8, 8), at(&original, 8, 8));
    // Right half only: the region at x 40..48 is masked, the one at 4..12 is not; a region
    // that only touches the area is masked whole.
    let out = mask_frame("RGB", &format!("{base} area-left=0.5"), &rois);
    assert!(!filled(&out, 8, 8) && filled(&out, 44, 8));
    let out = mask_frame(
        "RGB",
        &format!("{base} area-left=0.7"),
        &[("face", -1, (40, 4, 8, 8))],
    );
    assert!(
        filled(&out, 41, 5),
        "touching the area masks the whole region"
    );
    // 'all' masks any roi type.
    let out = mask_frame(
        "RGB",
        &format!("{base} roi-types=all"),
        &[("anything", -1, (4, 4, 8, 8))],
    );
    assert!(filled(&out, 8, 8));
}

#[test]
fn bad_settings_fail_the_pipeline_with_a_message() {
    support::init();
    for (props, expect) in [
        ("track-ids=a,b", "not a whole number"),
        ("area-top=0.8 area-bottom=0.2", "the area is empty"),
        ("roi-types=\"\"", "roi-types is empty"),
    ] {
        let pipeline = gst::parse::launch(&format!(
            "videotestsrc num-buffers=1 ! redactmask {props} ! fakesink"
        ))
        .unwrap();
        let bus = pipeline.bus().unwrap();
        let _ = pipeline.set_state(gst::State::Playing);
        let msg = bus
            .timed_pop_filtered(
                gst::ClockTime::from_seconds(5),
                &[gst::MessageType::Error, gst::MessageType::Eos],
            )
            .unwrap();
        let text = match msg.view() {
            gst::MessageView::Error(e) => e.error().to_string(),
            _ => panic!("{props}: expected an error, got end of stream"),
        };
        assert!(text.contains(expect), "{props}: {text}");
        pipeline.set_state(gst::State::Null).unwrap();
    }
}
