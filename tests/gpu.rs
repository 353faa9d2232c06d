//! Detection on the GPU: ONNX Runtime's CUDA execution provider reading the model input
//! that the preprocessing kernel wrote into device memory. Recall on the shared annotated
//! sets must equal the CPU's (the issue's ±0.5 %), and the boxes agree. Needs a GPU and
//! ONNX Runtime's GPU build (`models/install --gpu`, or gpu/check's carried one); elsewhere
//! it prints SKIPPED. Prints `GPU-CHECK` lines for the device report.

mod common;

use std::path::Path;

use redact::eval::{Dataset, iou, load, match_boxes};
use redact_elements::algo::detection::ObjectClass;
use redact_elements::algo::detector::{Detector, DetectorConfig};
use redact_elements::algo::frame::{OwnedFrame, PixelFormat, YuvMatrix};
use redact_elements::cuda::{self, Context, DeviceFrame, Engine};
use redact_models::CudaProvider;

/// An image decoded by GStreamer, as NV12 (what a decoder gives the elements).
fn nv12(path: &Path) -> OwnedFrame {
    gst::init().unwrap();
    let pipeline = gst::parse::launch(&format!(
        "filesrc location=\"{}\" ! decodebin ! videoconvert ! video/x-raw,format=RGB ! \
         appsink name=sink",
        path.display()
    ))
    .unwrap()
    .downcast::<gst::Pipeline>()
    .unwrap();
    let sink = pipeline
        .by_name("sink")
        .unwrap()
        .downcast::<gst_app::AppSink>()
        .unwrap();
    use gst::prelude::*;
    pipeline.set_state(gst::State::Playing).unwrap();
    let sample = sink.pull_sample().expect("a decoded image");
    let info = gst_video::VideoInfo::from_caps(sample.caps().unwrap()).unwrap();
    let frame = gst_video::VideoFrameRef::from_buffer_ref_readable(sample.buffer().unwrap(), &info)
        .unwrap();
    let (w, h, stride) = (
        info.width() as usize,
        info.height() as usize,
        info.stride()[0] as usize,
    );
    let data = frame.plane_data(0).unwrap();
    let rgb: Vec<u8> = (0..h)
        .flat_map(|y| data[y * stride..y * stride + 3 * w].iter().copied())
        .collect();
    drop(frame);
    pipeline.set_state(gst::State::Null).unwrap();
    OwnedFrame::from_rgb(PixelFormat::Nv12, w, h, &rgb, YuvMatrix::BT601)
}

/// The frame's planes on the device (tight pitches), kept alive with the frame.
fn upload(engine: &Engine, f: &OwnedFrame) -> (Vec<cuda::DeviceBuffer>, DeviceFrame) {
    let mut frame = DeviceFrame {
        format: f.format,
        width: f.width,
        height: f.height,
        planes: [0; 3],
        pitches: [0; 3],
        yuv: f.yuv,
    };
    let bufs: Vec<_> = f
        .planes
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let b = engine.upload(p).unwrap();
            frame.planes[i] = b.ptr();
            frame.pitches[i] = f.strides[i];
            b
        })
        .collect();
    (bufs, frame)
}

fn config(class: ObjectClass, cuda: Option<CudaProvider>) -> DetectorConfig {
    let face = class == ObjectClass::Face;
    DetectorConfig {
        class,
        model: if face { "yunet-n" } else { "hyperlpr3-640" }.into(),
        model_dir: None,
        // The element's defaults.
        threshold: if face { 0.4 } else { 0.5 },
        input_size: 0,
        input_scale: if face { 2.0 } else { 1.0 },
        threads: 0,
        cuda,
    }
}

fn boxes(found: &[redact_elements::algo::detection::Detection]) -> Vec<[f64; 4]> {
    found
        .iter()
        .map(|d| {
            [
                d.bbox.x as f64,
                d.bbox.y as f64,
                d.bbox.w as f64,
                d.bbox.h as f64,
            ]
        })
        .collect()
}

#[test]
fn gpu_detection_recall_equals_the_cpu_on_the_annotated_sets() {
    let Some(data) = common::shared_data() else {
        return;
    };
    if let Err(e) = cuda::driver() {
        eprintln!("SKIPPED: no GPU here ({e})");
        return;
    }
    let (ctx, _) = Context::primary(0).unwrap();
    let mut engine = Engine::new(ctx).unwrap();
    let provider = CudaProvider {
        device: 0,
        stream: engine.stream_address(),
    };
    for (dataset, dir, class) in [
        (Dataset::FacesDlib, "faces-dlib", ObjectClass::Face),
        (
            Dataset::Plates,
            "plates-openalpr-eu",
            ObjectClass::LicensePlate,
        ),
    ] {
        let mut gpu = match Detector::new(config(class, Some(provider))) {
            Ok(d) => d,
            Err(e) => {
                println!("GPU-CHECK recall {dir}: SKIPPED (CUDA provider): {e}");
                return;
            }
        };
        let mut cpu = Detector::new(config(class, None)).unwrap();
        let samples = load(dataset, &data.join(dir)).unwrap();
        let (mut truths, mut found_cpu, mut found_gpu) = (0, 0, 0);
        let (mut boxes_cpu, mut boxes_gpu, mut paired, mut worst_offset) = (0, 0, 0, 0.0f64);
        let (mut t_cpu, mut t_gpu) = (0.0, 0.0);
        for s in &samples {
            let frame = nv12(&s.file);
            let start = std::time::Instant::now();
            let a = boxes(&cpu.detect(&frame.view()).unwrap());
            t_cpu += start.elapsed().as_secs_f64();
            let (_bufs, device) = upload(&engine, &frame);
            let start = std::time::Instant::now();
            let b = boxes(&gpu.detect_on_device(&mut engine, &device).unwrap());
            t_gpu += start.elapsed().as_secs_f64();
            truths += s.boxes.len();
            found_cpu += match_boxes(&s.boxes, &a, 0.5)
                .iter()
                .filter(|m| **m)
                .count();
            found_gpu += match_boxes(&s.boxes, &b, 0.5)
                .iter()
                .filter(|m| **m)
                .count();
            boxes_cpu += a.len();
            boxes_gpu += b.len();
            // The same boxes, within a pixel or two.
            for x in &a {
                if let Some(y) = b.iter().max_by(|p, q| iou(x, p).total_cmp(&iou(x, q)))
                    && iou(x, y) >= 0.5
                {
                    paired += 1;
                    let offset = (0..4).map(|i| (x[i] - y[i]).abs()).fold(0.0, f64::max);
                    worst_offset = worst_offset.max(offset);
                }
            }
        }
        let (rc, rg) = (
            found_cpu as f64 / truths as f64,
            found_gpu as f64 / truths as f64,
        );
        println!(
            "GPU-CHECK recall {dir} (IoU 0.5, {} images, {truths} objects): CPU {rc:.3} ({found_cpu}), GPU {rg:.3} ({found_gpu}); boxes CPU {boxes_cpu}, GPU {boxes_gpu}, {paired} paired, worst corner offset {worst_offset:.2} px; {:.1} ms/image CPU vs {:.1} ms/image GPU (first images include CUDA start-up)",
            samples.len(),
            1000.0 * t_cpu / samples.len() as f64,
            1000.0 * t_gpu / samples.len() as f64
        );
        assert!(
            (rc - rg).abs() <= 0.005 || found_cpu.abs_diff(found_gpu) <= 1,
            "{dir}: recall CPU {rc} vs GPU {rg}"
        );
        let fewer = boxes_cpu.min(boxes_gpu);
        assert!(
            paired + 2 >= fewer || paired as f64 >= 0.98 * fewer as f64,
            "{dir}: boxes agree ({paired} of {fewer} paired)"
        );
        assert!(
            worst_offset <= 3.0,
            "{dir}: boxes within 3 px ({worst_offset})"
        );
    }
}
