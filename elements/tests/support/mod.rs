//! What the element tests share: static registration, the shared media, pipelines.
#![allow(dead_code)]

use std::path::PathBuf;

use gst::prelude::*;

/// GStreamer with the elements registered statically, once per test process.
pub fn init() {
    gst::init().unwrap();
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| redact_elements::register(None).unwrap());
}

/// `../shared/data` beside the checkout (or `$REDACT_SHARED/data`); `None`, with a message,
/// when it is absent so the test can skip.
pub fn shared_data() -> Option<PathBuf> {
    let dir = std::env::var_os("REDACT_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared")))
        .join("data");
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!(
            "SKIPPED: {} is absent (the shared test media); nothing to test on",
            dir.display()
        );
        None
    }
}

/// A pipeline from a gst-launch description.
pub fn pipeline(description: &str) -> gst::Pipeline {
    init();
    gst::parse::launch(description)
        .unwrap()
        .downcast::<gst::Pipeline>()
        .unwrap()
}

/// The pipeline's appsink named `sink`.
pub fn appsink(pipeline: &gst::Pipeline) -> gst_app::AppSink {
    pipeline
        .by_name("sink")
        .unwrap()
        .downcast::<gst_app::AppSink>()
        .unwrap()
}

/// Plays a live pipeline description and returns its latency query's (live, minimum).
pub fn latency(description: &str) -> (bool, gst::ClockTime) {
    init();
    let pipeline = gst::parse::launch(description).unwrap();
    pipeline.set_state(gst::State::Playing).unwrap();
    let _ = pipeline.state(gst::ClockTime::from_seconds(10));
    let mut q = gst::query::Latency::new();
    assert!(pipeline.query(&mut q), "latency query answered");
    let (live, min, _) = q.result();
    pipeline.set_state(gst::State::Null).unwrap();
    (live, min)
}

/// Decodes an image file to packed RGB with GStreamer.
pub fn decode_rgb(path: &std::path::Path) -> (usize, usize, Vec<u8>) {
    init();
    let pipeline = pipeline(&format!(
        "filesrc location=\"{}\" ! decodebin ! videoconvert ! video/x-raw,format=RGB ! appsink name=sink",
        path.display()
    ));
    let sink = appsink(&pipeline);
    pipeline.set_state(gst::State::Playing).unwrap();
    let sample = sink.pull_sample().expect("one decoded frame");
    let info = gst_video::VideoInfo::from_caps(sample.caps().unwrap()).unwrap();
    let frame = gst_video::VideoFrameRef::from_buffer_ref_readable(sample.buffer().unwrap(), &info)
        .unwrap();
    let (w, h, stride) = (
        info.width() as usize,
        info.height() as usize,
        info.stride()[0] as usize,
    );
    let data = frame.plane_data(0).unwrap();
    let rgb = (0..h)
        .flat_map(|y| data[y * stride..y * stride + 3 * w].iter().copied())
        .collect();
    pipeline.set_state(gst::State::Null).unwrap();
    (w, h, rgb)
}
