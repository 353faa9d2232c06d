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
        threshold: if face {
            redact_elements::detect::DEFAULT_FACE_THRESHOLD
        } else {
            redact_elements::detect::DEFAULT_PLATE_THRESHOLD
        } as f32,
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

/// A quiet reporter that keeps the warnings.
#[derive(Default)]
struct Warnings(std::sync::Mutex<Vec<String>>);

impl redact::run::Reporter for Warnings {
    fn start(&self, _: &std::path::Path) {}
    fn total(&self, _: u64) {}
    fn frame(&self, _: u64) {}
    fn finish(&self, _: &redact::run::FileReport) {}
    fn warn(&self, message: &str) {
        self.0.lock().unwrap().push(message.to_string());
    }
}

/// Per frame, CPU boxes paired (IoU >= 0.5, same class) with GPU boxes: (CPU boxes, GPU
/// boxes, paired, worst corner offset of a pair).
fn compare_detections(
    cpu: &redact::detections::DetectionsFile,
    gpu: &redact::detections::DetectionsFile,
) -> (usize, usize, usize, f64) {
    let (mut n_cpu, mut n_gpu, mut paired, mut worst) = (0, 0, 0, 0.0f64);
    for (a, b) in cpu.frames.iter().zip(&gpu.frames) {
        n_cpu += a.detections.len();
        n_gpu += b.detections.len();
        let mut taken = vec![false; b.detections.len()];
        for d in &a.detections {
            let best = b
                .detections
                .iter()
                .enumerate()
                .filter(|(i, e)| !taken[*i] && e.class == d.class)
                .map(|(i, e)| (i, iou(&d.bbox, &e.bbox)))
                .max_by(|x, y| x.1.total_cmp(&y.1));
            if let Some((i, v)) = best
                && v >= 0.5
            {
                taken[i] = true;
                paired += 1;
                let e = &b.detections[i].bbox;
                let corners = [
                    d.bbox[0],
                    d.bbox[1],
                    d.bbox[0] + d.bbox[2],
                    d.bbox[1] + d.bbox[3],
                ];
                let other = [e[0], e[1], e[0] + e[2], e[1] + e[3]];
                let offset = (0..4)
                    .map(|k| (corners[k] - other[k]).abs())
                    .fold(0.0, f64::max);
                worst = worst.max(offset);
            }
        }
    }
    (n_cpu, n_gpu, paired, worst)
}

/// `redact detect` and `redact run` with `--device auto` on a GPU machine take the CUDA
/// path (NVDEC, kernels, the models on the GPU where ONNX Runtime's CUDA build is loaded):
/// the same frames, the same detections and tracks within a few pixels, the same number of
/// masked regions, and re-detection on the output finds no more than on the CPU's.
#[test]
fn gpu_launcher_cuda_path_agrees_with_the_cpu_path() {
    use redact::device::{Device, VideoPath};
    use redact::pipeline::{DetectOptions, detect_file, init};
    let Some(data) = support::shared_data() else {
        return;
    };
    init().unwrap();
    match redact::device::video_path(Device::Auto).unwrap() {
        (VideoPath::Cuda, _) => {}
        (_, note) => {
            eprintln!("SKIPPED: no GPU path here ({note:?})");
            return;
        }
    }
    let clip = data.join("video/short_hamilton_clip.mp4");
    let options = |device| DetectOptions {
        device,
        ..DetectOptions::default()
    };
    let warnings = std::sync::Arc::new(Warnings::default());
    let warn = |w: &str| warnings.0.lock().unwrap().push(w.to_string());
    let t = std::time::Instant::now();
    let cpu = detect_file(&clip, &options(Device::Cpu), |_, _| {}, warn).unwrap();
    let t_cpu = t.elapsed().as_secs_f64();
    let t = std::time::Instant::now();
    let gpu = detect_file(&clip, &options(Device::Auto), |_, _| {}, warn).unwrap();
    let t_gpu = t.elapsed().as_secs_f64();
    let models_on_cpu = warnings
        .0
        .lock()
        .unwrap()
        .iter()
        .any(|w| w.contains("inference runs on the CPU"));
    let (n_cpu, n_gpu, paired, worst) = compare_detections(&cpu, &gpu);
    println!(
        "GPU-CHECK launcher detect: {} frames CPU, {} GPU path (models on the {}); boxes CPU {n_cpu}, GPU {n_gpu}, {paired} paired, worst corner offset {worst:.1} px; tracks CPU {}, GPU {}; {t_cpu:.1} s vs {t_gpu:.1} s",
        cpu.frame_count,
        gpu.frame_count,
        if models_on_cpu { "CPU" } else { "GPU" },
        cpu.tracks.len(),
        gpu.tracks.len()
    );
    assert_eq!(cpu.frame_count, gpu.frame_count);
    assert!(
        paired as f64 >= 0.97 * n_cpu.min(n_gpu) as f64,
        "detections agree: {paired} of {n_cpu}/{n_gpu} paired"
    );
    assert!(
        n_cpu.abs_diff(n_gpu) as f64 <= 0.03 * n_cpu as f64 + 2.0,
        "as many boxes: {n_cpu} vs {n_gpu}"
    );
    assert!(
        cpu.tracks.len().abs_diff(gpu.tracks.len()) <= 2,
        "tracks {} vs {}",
        cpu.tracks.len(),
        gpu.tracks.len()
    );

    let dir = std::env::temp_dir().join(format!("redact-gpu-run-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let reporter: std::sync::Arc<dyn redact::run::Reporter> = warnings.clone();
    let mut redacted = Vec::new();
    for (device, name) in [(Device::Cpu, "cpu.mp4"), (Device::Auto, "gpu.mp4")] {
        let run_options = redact::run::RunOptions {
            detect: options(device),
            ..Default::default()
        };
        let out = dir.join(name);
        let report = redact::run::run(&clip, Some(&out), &run_options, &reporter)
            .unwrap()
            .remove(0);
        // What is left to find on the output, by the CPU detector.
        let again = detect_file(&out, &options(Device::Cpu), |_, _| {}, warn).unwrap();
        redacted.push((report, again));
    }
    let [(r_cpu, a_cpu), (r_gpu, a_gpu)] = [redacted.remove(0), redacted.remove(0)];
    let masked = |r: &redact::run::FileReport| r.masked.iter().map(|(_, n)| n).sum::<u64>();
    println!(
        "GPU-CHECK launcher run: {} frames CPU, {} GPU; masked regions CPU {}, GPU {}; faces re-detected on the output CPU {}, GPU {}; {:.1} s vs {:.1} s",
        r_cpu.frames,
        r_gpu.frames,
        masked(&r_cpu),
        masked(&r_gpu),
        a_cpu.count("face"),
        a_gpu.count("face"),
        r_cpu.seconds,
        r_gpu.seconds
    );
    assert_eq!(r_cpu.frames, r_gpu.frames);
    assert_eq!(a_gpu.frame_count, r_gpu.frames, "the output decodes whole");
    assert!(masked(&r_cpu).abs_diff(masked(&r_gpu)) as f64 <= 0.03 * masked(&r_cpu) as f64 + 2.0);
    assert!(a_gpu.count("face") <= a_cpu.count("face") + 3);
    let _ = std::fs::remove_dir_all(&dir);
}
