//! Detection on the GPU: ONNX Runtime's CUDA execution provider reading the model input
//! that the preprocessing kernel wrote into device memory. Recall on the shared annotated
//! sets must equal the CPU's (the issue's ±0.5 %), and the boxes agree. Needs a GPU and
//! ONNX Runtime's GPU build (`models/install --gpu`, or gpu/check's carried one); elsewhere
//! it prints SKIPPED. Prints `GPU-CHECK` lines for the device report.

// The element tests' helpers: decoding a photo, the GPU, uploading pitched frames.
#[path = "../elements/tests/support/mod.rs"]
mod support;

use redact::eval::{Dataset, iou, load, match_boxes};
use redact_elements::algo::detection::ObjectClass;
use redact_elements::algo::detector::{Detector, DetectorConfig};
use redact_elements::algo::frame::{OwnedFrame, PixelFormat, YuvMatrix};
use redact_elements::cuda::Engine;
use redact_models::CudaProvider;

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
    let Some(data) = support::shared_data() else {
        return;
    };
    let Some(ctx) = support::gpu() else { return };
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
            // NV12, what a decoder gives the elements, pitched as a decoder pitches it.
            let (w, h, rgb) = support::decode_rgb(&s.file);
            let frame = OwnedFrame::from_rgb(PixelFormat::Nv12, w, h, &rgb, YuvMatrix::BT601);
            let start = std::time::Instant::now();
            let a = boxes(&cpu.detect(&frame.view()).unwrap());
            t_cpu += start.elapsed().as_secs_f64();
            let up = support::upload(&engine, &frame);
            let start = std::time::Instant::now();
            let b = boxes(&gpu.detect_on_device(&mut engine, &up.frame).unwrap());
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
