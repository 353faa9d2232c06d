//! What the element tests share: static registration, the shared media, pipelines.
#![allow(dead_code)]

use std::path::PathBuf;

use gst::prelude::*;
use redact_elements::algo::frame::OwnedFrame;
use redact_elements::cuda::{Context, DeviceBuffer, DeviceFrame, Engine};

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

/// The primary context, or `None` (with a SKIPPED line) where there is no GPU.
pub fn gpu() -> Option<Context> {
    match redact_elements::cuda::driver() {
        Ok(()) => Some(Context::primary(0).expect("primary context").0),
        Err(e) => {
            eprintln!("SKIPPED: no GPU here ({e})");
            None
        }
    }
}

/// A frame uploaded with each row padded to a multiple of 512 bytes, as decoders pitch
/// them.
pub struct Uploaded {
    pub planes: Vec<DeviceBuffer>,
    pub frame: DeviceFrame,
}

pub fn upload(engine: &Engine, f: &OwnedFrame) -> Uploaded {
    let mut planes = Vec::new();
    let mut frame = DeviceFrame {
        format: f.format,
        width: f.width,
        height: f.height,
        planes: [0; 3],
        pitches: [0; 3],
        yuv: f.yuv,
    };
    for (i, data) in f.planes.iter().enumerate() {
        let (row, rows) = f.format.plane_extent(i, f.width, f.height);
        let pitch = row.div_ceil(512) * 512;
        let mut pitched = vec![0xA5u8; pitch * rows];
        for y in 0..rows {
            pitched[y * pitch..y * pitch + row]
                .copy_from_slice(&data[y * f.strides[i]..y * f.strides[i] + row]);
        }
        let buf = engine.upload(&pitched).unwrap();
        // The copy has landed before any kernel runs.
        let mut back = vec![0u8; pitched.len()];
        engine.download(&buf, &mut back).unwrap();
        assert!(back == pitched, "the upload came back changed");
        frame.planes[i] = buf.ptr();
        frame.pitches[i] = pitch;
        planes.push(buf);
    }
    Uploaded { planes, frame }
}

/// The planes back, tight (same layout as the `OwnedFrame`'s).
pub fn download(engine: &Engine, u: &Uploaded, like: &OwnedFrame) -> Vec<Vec<u8>> {
    u.planes
        .iter()
        .enumerate()
        .map(|(i, buf)| {
            let (row, rows) = like.format.plane_extent(i, like.width, like.height);
            let pitch = u.frame.pitches[i];
            let mut pitched = vec![0u8; pitch * rows];
            engine.download(buf, &mut pitched).unwrap();
            (0..rows)
                .flat_map(|y| pitched[y * pitch..y * pitch + row].iter().copied())
                .collect()
        })
        .collect()
}
