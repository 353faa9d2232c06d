//! The picture motion `redacttrack` measures, frame by frame, for checking against a
//! video whose true motion is known (`bench/motion` compares it with the leak
//! benchmark's generated camera path).
//!
//!   ffmpeg -i video.mp4 -f rawvideo -pix_fmt gray - | motion_reads WIDTH HEIGHT
//!
//! Reads 8-bit grey frames from stdin and prints one line a frame: `index scale dx dy`
//! (the motion from the frame before: a point p goes to scale · p + (dx, dy)), or
//! `index none` where nothing is measured (the first frame, flat or unmatched pictures).
//! The estimator is not reset at cuts: the comparison leaves those frames out.

use std::io::{BufWriter, Read, Write};

use redact_elements::algo::motion::MotionEstimator;

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let [width, height] = args[..] else {
        eprintln!("usage: ffmpeg -i VIDEO -f rawvideo -pix_fmt gray - | motion_reads WIDTH HEIGHT");
        std::process::exit(2);
    };
    let mut input = std::io::stdin().lock();
    let mut out = BufWriter::new(std::io::stdout().lock());
    let mut frame = vec![0u8; width * height];
    let mut estimator = MotionEstimator::new();
    let sample_width = width.div_ceil(4);
    for index in 0.. {
        if input.read_exact(&mut frame).is_err() {
            break;
        }
        // The tracker's sample (`scene::luma_sample`): every 4th pixel of every 8th row.
        let sample: Vec<u8> = frame
            .chunks_exact(width)
            .step_by(8)
            .flat_map(|row| row.iter().step_by(4).copied())
            .collect();
        let line = match estimator.next(&sample, sample_width) {
            Some(m) => format!("{index} {} {} {}", m.scale, m.shift.0, m.shift.1),
            None => format!("{index} none"),
        };
        if writeln!(out, "{line}").is_err() {
            break;
        }
    }
}
