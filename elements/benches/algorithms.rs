//! Per-frame cost of the plain-Rust algorithms on synthetic frames: building model inputs
//! (`Preprocessor::fill_tensor`), masking, and the tracker's look at the picture (the luma
//! sample, the cut detector, the picture's shift). Prints the median of repeated runs.
//!
//!     cargo bench -p redact-elements

use std::hint::black_box;
use std::time::{Duration, Instant};

use redact_elements::algo::families::{Family, HyperLpr3, YuNet};
use redact_elements::algo::frame::{OwnedFrame, PixelFormat, YuvMatrix};
use redact_elements::algo::mask::{
    MaskStyle, Method, Region, Scratch, Shape, Strength, mask_region, planes_for,
};
use redact_elements::algo::motion::MotionEstimator;
use redact_elements::algo::preprocess::{InputSpec, Preprocessor};
use redact_elements::algo::scene::{CutDetector, luma_sample};

fn median_of(runs: usize, mut f: impl FnMut()) -> Duration {
    f(); // warm-up: buffers sized, caches filled
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .collect();
    times.sort();
    times[runs / 2]
}

/// A frame with detail everywhere (a gradient plus a hash), so no branch is trivially
/// predictable.
fn frame(format: PixelFormat, w: usize, h: usize) -> OwnedFrame {
    let rgb: Vec<u8> = (0..h)
        .flat_map(|y| (0..w).map(move |x| (x, y)))
        .flat_map(|(x, y)| {
            let n = (x * 31 + y * 17) % 64;
            [(x % 256) as u8, (y % 256) as u8, (n * 4) as u8]
        })
        .collect();
    OwnedFrame::from_rgb(format, w, h, &rgb, YuvMatrix::BT709)
}

/// The model inputs the families build: YuNet at a long side, HyperLPR3 at its fixed size.
fn yunet(frame: &OwnedFrame, long_side: usize) -> InputSpec {
    YuNet.input_spec(frame.width, frame.height, long_side, None)
}

fn hyperlpr(size: usize) -> InputSpec {
    HyperLpr3.input_spec(0, 0, 0, Some((size, size)))
}

fn main() {
    let runs = 21;
    let mut pre = Preprocessor::new();
    let mut tensor = Vec::new();
    println!("| frame | model input | ms (median of {runs}) |");
    println!("|---|---|---|");
    // (frame, its format, the model input it is turned into)
    let cases = [
        (1920, 1080, PixelFormat::I420, "YuNet 1x", Some(1920)),
        (1280, 720, PixelFormat::I420, "YuNet 1.5x", Some(1920)),
        (640, 360, PixelFormat::I420, "YuNet 2x", Some(1280)),
        (1920, 1080, PixelFormat::I420, "HyperLPR3", None),
        (1920, 1080, PixelFormat::Rgb, "YuNet 1x", Some(1920)),
    ];
    for (w, h, format, model, long_side) in cases {
        let f = frame(format, w, h);
        let spec = long_side.map_or_else(|| hyperlpr(640), |l| yunet(&f, l));
        let view = f.view();
        let t = median_of(runs, || {
            black_box(pre.fill_tensor(black_box(&view), &spec, &mut tensor));
        });
        println!(
            "| {w}x{h} {format:?} | {model} {}x{} | {:.2} |",
            spec.width,
            spec.height,
            t.as_secs_f64() * 1e3
        );
    }

    // Masking: six faces of a 1080p frame (the Hamilton clip's stage, scaled), padded
    // by redactmask's default 0.3.
    println!();
    println!("| 1920x1080 I420, 6 regions ~200x260 | ms (median of {runs}) |");
    println!("|---|---|");
    let mut f = frame(PixelFormat::I420, 1920, 1080);
    let regions: Vec<Region> = (0..6)
        .map(|i| {
            Region {
                x: 150.0 + 280.0 * i as f32,
                y: 200.0 + 60.0 * (i % 3) as f32,
                w: 150.0,
                h: 200.0,
            }
            .padded(0.3)
        })
        .collect();
    let mut scratch = Scratch::default();
    for (name, method, shape) in [
        (
            "blur high, rectangle",
            Method::Blur(Strength::High),
            Shape::Rectangle,
        ),
        (
            "blur high, ellipse",
            Method::Blur(Strength::High),
            Shape::Ellipse,
        ),
        ("pixelate, rectangle", Method::Pixelate(0), Shape::Rectangle),
        ("fill, rectangle", Method::Fill, Shape::Rectangle),
    ] {
        let style = MaskStyle {
            method,
            shape,
            soft_edge: 0.0,
            color: [0, 0, 0],
        };
        let t = median_of(runs, || {
            let strides = f.strides.clone();
            let data: Vec<&mut [u8]> = f.planes.iter_mut().map(|p| p.as_mut_slice()).collect();
            let mut planes = planes_for(
                PixelFormat::I420,
                1920,
                1080,
                data,
                &strides,
                style.color,
                YuvMatrix::BT709,
            );
            for &r in &regions {
                mask_region(&mut planes, r, &style, &mut scratch);
            }
        });
        println!("| {name} | {:.2} |", t.as_secs_f64() * 1e3);
    }

    // The tracker's look at each frame: its luma sample, then the cut detector and the
    // picture's shift on it (a frame against the same frame 40 px to the side).
    println!();
    println!("| tracker, per frame | ms (median of {runs}) |");
    println!("|---|---|");
    for (w, h) in [(1920, 1080), (1280, 720), (640, 360)] {
        let f = frame(PixelFormat::I420, w, h);
        let view = f.view();
        let t = median_of(runs, || {
            black_box(luma_sample(black_box(&view)));
        });
        println!("| {w}x{h} luma sample | {:.3} |", t.as_secs_f64() * 1e3);
        let sample = luma_sample(&view);
        let width = w.div_ceil(4);
        // The picture moved by `columns` samples (4 px each).
        let moved = |columns: usize| -> Vec<u8> {
            sample
                .chunks_exact(width)
                .flat_map(|row| {
                    row[columns..]
                        .iter()
                        .chain(&row[..columns])
                        .copied()
                        .collect::<Vec<u8>>()
                })
                .collect()
        };
        let mut cuts = CutDetector::default();
        let t = median_of(runs, || {
            black_box(cuts.next(black_box(&sample), width));
        });
        println!("| {w}x{h} cut detector | {:.3} |", t.as_secs_f64() * 1e3);
        // A fast pan (40 px a frame: the zoom is decided on the coarsest grid) and a slow
        // one (8 px: on the finer grid too).
        for (columns, kind) in [(10, "fast pan"), (2, "slow pan")] {
            let moved = moved(columns);
            let mut motion = MotionEstimator::new();
            let mut flip = false;
            let t = median_of(runs, || {
                flip = !flip;
                black_box(motion.next(black_box(if flip { &sample } else { &moved }), width));
            });
            println!(
                "| {w}x{h} picture motion (shift, zoom), {kind} | {:.3} |",
                t.as_secs_f64() * 1e3
            );
        }
    }
}
