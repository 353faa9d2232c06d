//! The GPU path.
//!
//! On every machine: NVRTC compiles every kernel without an error or a warning, and the
//! plugin carries exactly that PTX. On a machine without CUDA: the elements work on system
//! memory, answer no CUDA context query, and `device=cuda` is a clear error at start.
//! On a machine with a GPU (see gpu/check): every kernel gives its CPU twin's values on
//! real frames, and a pipeline from the decoder to `cudadownload` stays in CUDA memory and
//! gives the CPU pipeline's output. These print `GPU-CHECK` lines for the device report.

mod support;

use std::path::{Path, PathBuf};

use gst::prelude::*;
use redact_elements::algo::detection::{BBox, ObjectClass};
use redact_elements::algo::detector::{Detector, DetectorConfig};
use redact_elements::algo::families::family_for;
use redact_elements::algo::frame::{OwnedFrame, PixelFormat, YuvMatrix};
use redact_elements::algo::mask::{
    MaskStyle, Method, Region, Scratch, Shape, Strength, mask_region, planes_for,
};
use redact_elements::algo::preprocess::Preprocessor;
use redact_elements::algo::scene::luma_sample;
use redact_elements::cuda::{self, DeviceBuffer, Engine};

fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

#[test]
fn kernels_compile_with_nvrtc_without_warnings() {
    let library = cuda::nvrtc::library_path(&project_root());
    let nvrtc = cuda::nvrtc::Nvrtc::load(&library)
        .unwrap_or_else(|e| panic!("{e}: NVRTC is installed by models/install (./setup)"));
    let (major, minor) = nvrtc.version().unwrap();
    for (arch, embedded) in cuda::PTX {
        let compiled = nvrtc
            .compile(cuda::KERNEL_SOURCE, "kernels.cu", arch)
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(
            compiled.log.is_empty(),
            "NVRTC {major}.{minor} warns for {arch}:\n{}",
            compiled.log
        );
        for kernel in cuda::KERNELS {
            assert!(
                compiled.ptx.contains(&format!(".entry {kernel}(")),
                "{arch}: no kernel {kernel} in the PTX"
            );
        }
        assert!(
            compiled.ptx.contains(&format!(".target sm_{}", &arch[8..])),
            "{arch}: wrong target"
        );
        assert_eq!(
            embedded, compiled.ptx,
            "{arch}: the PTX built into the plugin is not what the source compiles to (rebuild)"
        );
        eprintln!(
            "NVRTC {major}.{minor}: {arch}: {} kernels, {} bytes of PTX",
            cuda::KERNELS.len(),
            compiled.ptx.len()
        );
    }
}

/// The text of the first error the pipeline posts (within 10 s).
fn error_text(pipeline: &gst::Pipeline) -> String {
    let msg = pipeline
        .bus()
        .unwrap()
        .timed_pop_filtered(gst::ClockTime::from_seconds(10), &[gst::MessageType::Error])
        .expect("an error");
    let gst::MessageView::Error(err) = msg.view() else {
        unreachable!()
    };
    err.error().to_string()
}

#[test]
fn without_cuda_the_elements_use_system_memory_and_refuse_device_cuda() {
    let Err(why) = cuda::usable() else {
        eprintln!("SKIPPED: CUDA is usable here; this test is for machines without it");
        return;
    };
    eprintln!("no CUDA here: {why}");
    support::init();
    for element in ["redactmask", "redacttrack"] {
        // Auto and cpu negotiate system memory and pass frames.
        for device in ["auto", "cpu"] {
            let pipeline = support::pipeline(&format!(
                "videotestsrc num-buffers=3 ! video/x-raw,format=NV12,width=64,height=48 ! \
                 {element} device={device} ! appsink name=sink sync=false"
            ));
            let sink = support::appsink(&pipeline);
            pipeline.set_state(gst::State::Playing).unwrap();
            for _ in 0..3 {
                let sample = sink.pull_sample().expect("a frame");
                let features = sample.caps().unwrap().features(0).unwrap().to_owned();
                assert!(!features.contains(cuda::CAPS_FEATURE), "{element} {device}");
            }
            pipeline.set_state(gst::State::Null).unwrap();
        }
        // device=cuda: an error message that says why, not a crash. (Linked to a source
        // of system memory it would not even link: its caps are CUDA memory only.)
        let pipeline = gst::Pipeline::new();
        let e = gst::ElementFactory::make(element)
            .property_from_str("device", "cuda")
            .build()
            .unwrap();
        pipeline.add(&e).unwrap();
        assert!(
            pipeline.set_state(gst::State::Paused).is_err(),
            "{element} starts"
        );
        let text = error_text(&pipeline);
        assert!(
            text.contains("device=cuda, but CUDA cannot be used here"),
            "{element}: {text}"
        );
        pipeline.set_state(gst::State::Null).unwrap();
    }
    // Nobody is handed a CUDA context by an element that cannot use one.
    let mask = gst::ElementFactory::make("redactmask").build().unwrap();
    let mut q = gst::query::Context::new(cuda::CONTEXT_TYPE);
    assert!(!mask.static_pad("src").unwrap().query(&mut q));
    assert!(q.context().is_none());
}

#[test]
fn deep_decoder_output_is_refused_with_a_clear_message() {
    support::init();
    for element in ["redactdetect", "redacttrack", "redactmask"] {
        // What nvh265dec gives for a 10-bit stream.
        let pipeline = support::pipeline(&format!(
            "appsrc name=src caps=\"video/x-raw(memory:CUDAMemory),format=P010_10LE,width=64,height=48,framerate=30/1\" ! \
             {element} ! fakesink"
        ));
        let src = pipeline
            .by_name("src")
            .unwrap()
            .downcast::<gst_app::AppSrc>()
            .unwrap();
        pipeline.set_state(gst::State::Playing).unwrap();
        let _ = src.push_buffer(gst::Buffer::with_size(64 * 48 * 3).unwrap());
        let text = error_text(&pipeline);
        assert!(
            text.contains("P010_10LE frames (more than 8 bits per sample) are not supported")
                && text.contains("cudaconvert"),
            "{element}: {text}"
        );
        pipeline.set_state(gst::State::Null).unwrap();
    }
}

// ---- on a GPU -------------------------------------------------------------------------

/// The frames the kernel tests use: group photos and a car, in each GPU format.
fn test_frames(data: &Path) -> Vec<(String, OwnedFrame)> {
    let mut frames = Vec::new();
    for name in [
        "faces-dlib/2008_002470.jpg",
        "faces-dlib/2009_004587.jpg",
        "plates-openalpr-eu/eu1.jpg",
    ] {
        let (w, h, rgb) = support::decode_rgb(&data.join(name));
        for format in [
            PixelFormat::Nv12,
            PixelFormat::I420,
            PixelFormat::Rgba,
            PixelFormat::Bgrx,
            PixelFormat::Rgb,
            PixelFormat::Gray8,
        ] {
            let frame = OwnedFrame::from_rgb(format, w, h, &rgb, YuvMatrix::BT709);
            frames.push((format!("{name} {format:?}"), frame));
        }
    }
    frames
}

/// Face boxes the CPU detector finds, padded as redactmask pads them, plus regions that
/// test the edges: partly outside the frame, tiny, overlapping, fractional.
fn regions_for(detector: &mut Detector, frame: &OwnedFrame) -> Vec<Region> {
    let mut regions: Vec<Region> = detector
        .detect(&frame.view())
        .unwrap()
        .iter()
        .map(|d| {
            Region {
                x: d.bbox.x,
                y: d.bbox.y,
                w: d.bbox.w,
                h: d.bbox.h,
            }
            .padded(0.3)
        })
        .collect();
    let (w, h) = (frame.width as f32, frame.height as f32);
    regions.extend([
        Region {
            x: -20.5,
            y: -10.0,
            w: 80.0,
            h: 60.3,
        },
        Region {
            x: w - 37.0,
            y: h - 25.5,
            w: 90.0,
            h: 70.0,
        },
        Region {
            x: w * 0.4,
            y: h * 0.3,
            w: 3.0,
            h: 2.0,
        },
        Region {
            x: w * 0.3 + 0.7,
            y: h * 0.5 + 0.3,
            w: 101.4,
            h: 77.7,
        },
        Region {
            x: w * 0.35,
            y: h * 0.45,
            w: 90.0,
            h: 120.0,
        },
    ]);
    regions
}

fn styles() -> Vec<(String, MaskStyle)> {
    let mut styles = Vec::new();
    for (name, method) in [
        ("blur-low", Method::Blur(Strength::Low)),
        ("blur-high", Method::Blur(Strength::High)),
        ("pixelate-auto", Method::Pixelate(0)),
        ("pixelate-7", Method::Pixelate(7)),
        ("fill", Method::Fill),
        ("outline-3", Method::Outline(3)),
    ] {
        for shape in [Shape::Rectangle, Shape::Ellipse] {
            for soft_edge in [0.0, 0.2] {
                styles.push((
                    format!("{name} {shape:?} soft-edge {soft_edge}"),
                    MaskStyle {
                        method,
                        shape,
                        soft_edge,
                        color: [200, 30, 60],
                    },
                ));
            }
        }
    }
    styles
}

fn face_detector() -> Detector {
    Detector::new(DetectorConfig {
        class: ObjectClass::Face,
        model: "yunet-n".into(),
        model_dir: None,
        threshold: 0.4,
        input_size: 0,
        input_scale: 2.0,
        threads: 0,
        cuda: None,
    })
    .expect("the face model is installed (models/install)")
}

#[test]
fn gpu_mask_kernels_match_the_cpu_on_real_frames() {
    let Some(data) = support::shared_data() else {
        return;
    };
    let Some(ctx) = support::gpu() else { return };
    let mut engine = Engine::new(ctx).unwrap();
    let mut detector = face_detector();
    let mut scratch = Scratch::default();
    let mut worst_per_style = std::collections::BTreeMap::new();
    let (mut compared, mut changed) = (0usize, 0usize);
    for (name, original) in test_frames(&data) {
        let regions = regions_for(&mut detector, &original);
        for (style_name, style) in styles() {
            // The CPU twin.
            let mut cpu = original.clone();
            {
                let planes: Vec<&mut [u8]> =
                    cpu.planes.iter_mut().map(|p| p.as_mut_slice()).collect();
                let mut planes = planes_for(
                    cpu.format,
                    cpu.width,
                    cpu.height,
                    planes,
                    &original.strides,
                    style.color,
                    cpu.yuv,
                );
                for r in &regions {
                    mask_region(&mut planes, *r, &style, &mut scratch);
                }
            }
            // The kernels, on a pitched copy.
            let up = support::upload(&engine, &original);
            engine.mask_regions(&up.frame, &regions, &style).unwrap();
            engine.synchronize().unwrap();
            let gpu = support::download(&engine, &up, &original);
            let mut worst = 0u8;
            for (p, gpu_plane) in gpu.iter().enumerate() {
                for ((&g, &c), &o) in gpu_plane
                    .iter()
                    .zip(&cpu.planes[p])
                    .zip(&original.planes[p])
                {
                    worst = worst.max(g.abs_diff(c));
                    compared += 1;
                    changed += usize::from(c != o);
                    // What the CPU left untouched, the GPU left untouched too.
                    assert!(
                        c != o || g == o,
                        "{name} {style_name}: plane {p}: the GPU changed a pixel outside the masks"
                    );
                }
            }
            assert!(
                worst <= 1,
                "{name} {style_name}: GPU and CPU differ by {worst} levels"
            );
            let w = worst_per_style.entry(style_name).or_insert(0u8);
            *w = (*w).max(worst);
        }
    }
    assert!(changed > 0, "the masks changed pixels");
    for (style, worst) in &worst_per_style {
        println!("GPU-CHECK mask {style}: max |GPU - CPU| = {worst} level(s)");
    }
    println!(
        "GPU-CHECK mask: {} styles x {} frames, {compared} samples compared, {changed} masked by the CPU, outside the masks untouched",
        worst_per_style.len(),
        test_frames(&data).len()
    );
}

#[test]
fn gpu_preprocessing_matches_the_cpu_on_real_frames() {
    let Some(data) = support::shared_data() else {
        return;
    };
    let Some(ctx) = support::gpu() else { return };
    let mut engine = Engine::new(ctx).unwrap();
    let mut pre = Preprocessor::new();
    let mut cpu_tensor = Vec::new();
    let mut worst_per_model = std::collections::BTreeMap::new();
    for (name, frame) in test_frames(&data) {
        let (fw, fh) = (frame.width, frame.height);
        // The inputs the detector builds: YuNet at 2x (and at 1x, the direct path),
        // CenterFace at 2x, HyperLPR3 letterboxed into 640x640.
        for (model, family, long, fixed) in [
            ("yunet 2x", "yunet", 2 * fw.max(fh), None),
            ("yunet 1x", "yunet", fw.max(fh), None),
            ("centerface 2x", "centerface", 2 * fw.max(fh), None),
            ("hyperlpr3-640", "hyperlpr3", 640, Some((640, 640))),
        ] {
            let spec = family_for(family).unwrap().input_spec(fw, fh, long, fixed);
            let cpu_mapping = pre.fill_tensor(&frame.view(), &spec, &mut cpu_tensor);
            let up = support::upload(&engine, &frame);
            let out = DeviceBuffer::new(ctx, 3 * spec.width * spec.height * 4).unwrap();
            let mapping = engine.preprocess(&up.frame, &spec, &out).unwrap();
            engine.synchronize().unwrap();
            let gpu_tensor = engine
                .download_f32(&out, 3 * spec.width * spec.height)
                .unwrap();
            assert_eq!(mapping, cpu_mapping, "{name} {model}");
            let worst = gpu_tensor
                .iter()
                .zip(&cpu_tensor)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0f32, f32::max);
            assert!(
                worst <= 1e-3,
                "{name} {model}: GPU and CPU differ by {worst}"
            );
            let w = worst_per_model.entry(model).or_insert(0.0f32);
            *w = w.max(worst);
        }
    }
    for (model, worst) in worst_per_model {
        println!("GPU-CHECK preprocess {model}: max |GPU - CPU| = {worst:e}");
    }
}

#[test]
fn gpu_luma_sample_matches_the_cpu_on_real_frames() {
    let Some(data) = support::shared_data() else {
        return;
    };
    let Some(ctx) = support::gpu() else { return };
    let mut engine = Engine::new(ctx).unwrap();
    let mut worst = 0u8;
    for (name, frame) in test_frames(&data) {
        let up = support::upload(&engine, &frame);
        let gpu = engine.luma_sample(&up.frame).unwrap();
        let cpu = luma_sample(&frame.view());
        assert_eq!(gpu.len(), cpu.len(), "{name}");
        let sw = frame.width.div_ceil(4);
        for (i, (g, c)) in gpu.iter().zip(&cpu).enumerate() {
            assert!(
                g.abs_diff(*c) <= 1,
                "{name}: sample {i} (pixel {}, {}): GPU {g}, CPU {c}",
                4 * (i % sw),
                8 * (i / sw)
            );
            worst = worst.max(g.abs_diff(*c));
        }
    }
    println!("GPU-CHECK scene-cut luma sample: max |GPU - CPU| = {worst} level(s)");
}

// ---- the zero-copy pipeline -----------------------------------------------------------

/// The regions redactmask saw on one frame: type, track id, rectangle.
type FrameRegions = Vec<(String, i32, (u32, u32, u32, u32))>;

/// What one pipeline run gives: per frame the masked NV12 picture (tight), the regions
/// redactmask saw, and how many buffers in the CUDA part were (and were not) CUDA memory.
#[derive(Default)]
struct Run {
    frames: Vec<Vec<u8>>,
    /// What redactdetect found (at redacttrack's sink) and what redactmask masked.
    detections: Vec<FrameRegions>,
    regions: Vec<FrameRegions>,
    cuda_buffers: usize,
    other_buffers: usize,
    /// Frames whose models ran on the GPU (redactdetect's stats).
    gpu_frames: u64,
    seconds: f64,
}

fn run_pipeline(description: &str, probed: &[&str]) -> Run {
    let pipeline = support::pipeline(description);
    let counts = std::sync::Arc::new(std::sync::Mutex::new((0usize, 0usize)));
    for name in probed {
        let (element, pad) = name.split_once('.').unwrap();
        let c = counts.clone();
        pipeline
            .by_name(element)
            .unwrap_or_else(|| panic!("no element {element}"))
            .static_pad(pad)
            .unwrap()
            .add_probe(gst::PadProbeType::BUFFER, move |pad, info| {
                if let Some(gst::PadProbeData::Buffer(b)) = &info.data {
                    let caps_cuda = pad
                        .current_caps()
                        .and_then(|c| c.features(0).map(|f| f.contains(cuda::CAPS_FEATURE)))
                        .unwrap_or(false);
                    let mut c = c.lock().unwrap();
                    if caps_cuda && cuda::memory_context(b).is_some() {
                        c.0 += 1;
                    } else {
                        c.1 += 1;
                    }
                }
                gst::PadProbeReturn::Ok
            });
    }
    let collect = |element: &str| {
        let found = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let r = found.clone();
        pipeline
            .by_name(element)
            .unwrap()
            .static_pad("sink")
            .unwrap()
            .add_probe(gst::PadProbeType::BUFFER, move |_, info| {
                if let Some(gst::PadProbeData::Buffer(b)) = &info.data {
                    // Candidates (found below the threshold) are left out: near the
                    // threshold GPU and CPU inference may well differ.
                    let mut rois: Vec<_> = b
                        .iter_meta::<gst_video::VideoRegionOfInterestMeta>()
                        .filter(|m| redact_elements::roi::candidate_class(m.roi_type()).is_none())
                        .map(|m| (m.roi_type().to_string(), m.id(), m.rect()))
                        .collect();
                    rois.sort();
                    r.lock().unwrap().push(rois);
                }
                gst::PadProbeReturn::Ok
            });
        found
    };
    let detections = collect("track");
    let regions = collect("mask");
    let sink = support::appsink(&pipeline);
    let start = std::time::Instant::now();
    pipeline.set_state(gst::State::Playing).unwrap();
    let mut run = Run::default();
    while let Ok(sample) = sink.pull_sample() {
        let info = gst_video::VideoInfo::from_caps(sample.caps().unwrap()).unwrap();
        assert_eq!(info.format(), gst_video::VideoFormat::Nv12);
        let frame =
            gst_video::VideoFrameRef::from_buffer_ref_readable(sample.buffer().unwrap(), &info)
                .unwrap();
        let mut tight = Vec::new();
        for p in 0..2u32 {
            let (row, rows) = PixelFormat::Nv12.plane_extent(
                p as usize,
                info.width() as usize,
                info.height() as usize,
            );
            let stride = info.stride()[p as usize] as usize;
            let data = frame.plane_data(p).unwrap();
            for y in 0..rows {
                tight.extend_from_slice(&data[y * stride..y * stride + row]);
            }
        }
        run.frames.push(tight);
    }
    run.seconds = start.elapsed().as_secs_f64();
    let bus = pipeline.bus().unwrap();
    if let Some(msg) = bus.pop_filtered(&[gst::MessageType::Error]) {
        panic!("{description}: {msg:?}");
    }
    run.gpu_frames = pipeline
        .by_name("detect")
        .unwrap()
        .property::<gst::Structure>("stats")
        .get::<u64>("gpu-frames")
        .unwrap();
    pipeline.set_state(gst::State::Null).unwrap();
    run.regions = std::mem::take(&mut *regions.lock().unwrap());
    run.detections = std::mem::take(&mut *detections.lock().unwrap());
    let c = *counts.lock().unwrap();
    (run.cuda_buffers, run.other_buffers) = c;
    run
}

fn bbox((x, y, w, h): (u32, u32, u32, u32)) -> BBox {
    BBox::new(x as f32, y as f32, w as f32, h as f32)
}

/// Regions of two runs paired frame by frame (same type, IoU >= 0.5): how many are left
/// unpaired, and the largest corner offset of a pair, in pixels.
fn pair_regions(a: &[FrameRegions], b: &[FrameRegions]) -> (usize, u32) {
    let (mut unpaired, mut worst) = (0usize, 0u32);
    for (fa, fb) in a.iter().zip(b) {
        let mut used = vec![false; fb.len()];
        for (ta, _, ra) in fa {
            let best = fb
                .iter()
                .enumerate()
                .filter(|(i, (tb, _, _))| !used[*i] && tb == ta)
                .map(|(i, (_, _, rb))| (i, bbox(*ra).iou(&bbox(*rb)), *rb))
                .max_by(|x, y| x.1.total_cmp(&y.1));
            match best {
                Some((i, v, rb)) if v >= 0.5 => {
                    used[i] = true;
                    let d = [
                        ra.0.abs_diff(rb.0),
                        ra.1.abs_diff(rb.1),
                        (ra.0 + ra.2).abs_diff(rb.0 + rb.2),
                        (ra.1 + ra.3).abs_diff(rb.1 + rb.3),
                    ];
                    worst = worst.max(d.into_iter().max().unwrap());
                }
                _ => unpaired += 1,
            }
        }
        unpaired += used.iter().filter(|u| !**u).count();
    }
    (unpaired, worst)
}

/// With the models on the CPU in both runs, the outputs must be identical; with them on
/// the GPU in the CUDA run (ONNX Runtime's CUDA provider: slightly different arithmetic),
/// the regions must pair up within a few pixels.
fn compare(label: &str, cuda_run: &Run, cpu_run: &Run) {
    assert!(!cpu_run.frames.is_empty(), "{label}: frames came out");
    assert_eq!(
        cuda_run.frames.len(),
        cpu_run.frames.len(),
        "{label}: frame count"
    );
    assert_eq!(
        cuda_run.other_buffers, 0,
        "{label}: every buffer between decoder and download is CUDA memory"
    );
    assert!(
        cuda_run.cuda_buffers >= 3 * cuda_run.frames.len(),
        "{label}: probes saw the frames"
    );
    let masked: usize = cpu_run.regions.iter().map(Vec::len).sum();
    assert!(masked > 0, "{label}: regions were masked");
    let (mut worst, mut differing) = (0u8, 0usize);
    for (a, b) in cuda_run.frames.iter().zip(&cpu_run.frames) {
        for (x, y) in a.iter().zip(b) {
            worst = worst.max(x.abs_diff(*y));
            differing += usize::from(x != y);
        }
    }
    let inference = if cuda_run.gpu_frames > 0 {
        // ONNX Runtime's CUDA provider computes slightly differently: a detection near the
        // threshold may come or go, and the tracker then adds or drops a track's boxes.
        let found: usize = cpu_run.detections.iter().map(Vec::len).sum();
        let (unpaired, offset) = pair_regions(&cuda_run.detections, &cpu_run.detections);
        let (unpaired_masked, offset_masked) = pair_regions(&cuda_run.regions, &cpu_run.regions);
        let text = format!(
            "models on the GPU in the CUDA run ({} frames): detections vs CPU: {unpaired} of {found} unpaired, paired ones within {offset} px; masked regions (after tracking) vs CPU: {unpaired_masked} of {masked} unpaired, paired ones within {offset_masked} px",
            cuda_run.gpu_frames
        );
        println!("GPU-CHECK pipeline {label}: {text}");
        assert_eq!(
            cuda_run.gpu_frames as usize,
            cuda_run.frames.len(),
            "{label}: every frame detected on the GPU"
        );
        assert!(
            unpaired * 33 <= found,
            "{label}: {unpaired} of {found} detections differ between GPU and CPU inference"
        );
        assert!(offset <= 2, "{label}: detections differ by {offset} px");
        assert!(
            unpaired_masked * 7 <= masked,
            "{label}: {unpaired_masked} of {masked} masked regions differ"
        );
        text
    } else {
        assert_eq!(
            cuda_run.regions, cpu_run.regions,
            "{label}: the same regions (tracks, boxes)"
        );
        assert!(
            worst <= 1,
            "{label}: outputs differ by up to {worst} levels"
        );
        "models on the CPU in both runs: the same regions and track ids".to_string()
    };
    println!(
        "GPU-CHECK pipeline {label}: {} frames, {masked} regions masked, {} buffers probed, all CUDA memory; {inference}; output vs CPU pipeline: max diff {worst}, {differing} bytes differ; wall {:.2} s (CUDA) vs {:.2} s (CPU)",
        cpu_run.frames.len(),
        cuda_run.cuda_buffers,
        cuda_run.seconds,
        cpu_run.seconds
    );
}

const PROBED: [&str; 4] = ["detect.sink", "track.sink", "mask.sink", "download.sink"];
const ELEMENTS: &str = "redactdetect name=detect ! redacttrack name=track lookahead=15 ! \
                        redactmask name=mask";

#[test]
fn gpu_pipeline_from_nvdec_stays_in_cuda_memory_and_matches_the_cpu() {
    let Some(data) = support::shared_data() else {
        return;
    };
    if let Err(e) = cuda::usable() {
        eprintln!("SKIPPED: no usable CUDA here ({e})");
        return;
    }
    support::init();
    if gst::ElementFactory::find("nvh264dec").is_none() {
        println!(
            "GPU-CHECK pipeline nvh264dec: SKIPPED: no nvh264dec (NVDEC, libnvcuvid, is not available); see the cudaupload pipeline"
        );
        return;
    }
    let clip = data.join("video/short_hamilton_clip.mp4");
    let head = format!(
        "filesrc location=\"{}\" ! qtdemux ! h264parse ! nvh264dec",
        clip.display()
    );
    let cuda_run = run_pipeline(
        &format!(
            "{head} ! {ELEMENTS} ! cudadownload name=download ! video/x-raw,format=NV12 ! \
             appsink name=sink sync=false"
        ),
        &PROBED,
    );
    let cpu_run = run_pipeline(
        &format!(
            "{head} ! cudadownload name=download ! video/x-raw,format=NV12 ! {ELEMENTS} ! \
             appsink name=sink sync=false"
        ),
        &[],
    );
    compare("nvh264dec (Hamilton clip, 640x360)", &cuda_run, &cpu_run);
}

#[test]
fn gpu_pipeline_from_cudaupload_stays_in_cuda_memory_and_matches_the_cpu() {
    let Some(data) = support::shared_data() else {
        return;
    };
    if let Err(e) = cuda::usable() {
        eprintln!("SKIPPED: no usable CUDA here ({e})");
        return;
    }
    // A group photo held for 30 frames, uploaded (needs only libcuda, not NVDEC).
    let head = format!(
        "filesrc location=\"{}\" ! jpegdec ! videoconvert ! \
         video/x-raw,format=NV12 ! imagefreeze num-buffers=30 ! \
         video/x-raw,framerate=30/1",
        data.join("faces-dlib/2008_002470.jpg").display()
    );
    // Without the caps filter cudaupload would pass system memory through: our elements
    // take both.
    let cuda_run = run_pipeline(
        &format!(
            "{head} ! cudaupload ! video/x-raw(memory:CUDAMemory) ! {ELEMENTS} ! \
             cudadownload name=download ! video/x-raw,format=NV12 ! appsink name=sink sync=false"
        ),
        &PROBED,
    );
    let cpu_run = run_pipeline(
        &format!("{head} ! {ELEMENTS} ! appsink name=sink sync=false"),
        &[],
    );
    compare("cudaupload (group photo, 30 frames)", &cuda_run, &cpu_run);
}
