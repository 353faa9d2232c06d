//! The picture motion `redacttrack` measures, frame by frame, for checking against a
//! video whose true motion is known (`bench/motion` compares it with the leak
//! benchmark's generated camera path).
//!
//!   ffmpeg -i video.mp4 -f rawvideo -pix_fmt yuv420p - | motion_reads WIDTH HEIGHT
//!
//! Reads I420 frames (BT.709) from stdin, takes the tracker's own luma sample of each
//! (`scene::luma_sample`) and prints one line a frame: `index scale dx dy` (the motion
//! from the frame before: a point p goes to scale · p + (dx, dy)), or `index none` where
//! nothing is measured (the first frame, flat or unmatched pictures). The estimator is
//! not reset at cuts: the comparison leaves those frames out.

use std::io::{BufWriter, Read, Write};

use redact_elements::algo::frame::{Frame, PixelFormat, YuvMatrix};
use redact_elements::algo::motion::MotionEstimator;
use redact_elements::algo::scene::luma_sample;

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let [width, height] = args[..] else {
        eprintln!(
            "usage: ffmpeg -i VIDEO -f rawvideo -pix_fmt yuv420p - | motion_reads WIDTH HEIGHT"
        );
        std::process::exit(2);
    };
    let (cw, ch) = (width.div_ceil(2), height.div_ceil(2));
    let mut input = std::io::stdin().lock();
    let mut out = BufWriter::new(std::io::stdout().lock());
    let mut buffer = vec![0u8; width * height + 2 * cw * ch];
    let mut estimator = MotionEstimator::new();
    for index in 0.. {
        if input.read_exact(&mut buffer).is_err() {
            break;
        }
        let (y, chroma) = buffer.split_at(width * height);
        let (u, v) = chroma.split_at(cw * ch);
        let frame = match Frame::new(
            PixelFormat::I420,
            width,
            height,
            &[y, u, v],
            &[width, cw, cw],
            YuvMatrix::BT709,
        ) {
            Ok(frame) => frame,
            Err(e) => {
                eprintln!("motion_reads: {e}");
                std::process::exit(1);
            }
        };
        let line = match estimator.next(&luma_sample(&frame), width.div_ceil(4)) {
            Some(m) => format!("{index} {} {} {}", m.scale, m.shift.0, m.shift.1),
            None => format!("{index} none"),
        };
        if writeln!(out, "{line}").is_err() {
            break;
        }
    }
}
