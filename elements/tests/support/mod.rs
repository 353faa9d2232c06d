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
