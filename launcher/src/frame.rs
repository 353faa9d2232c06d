//! `redact frame`: one frame of an image or video (or a region of it) as a JPEG, e.g. to
//! show whose track a box is when choosing what to mask (the job server's thumbnails).
//!
//! `filesrc ! decodebin ! the input chain (videoflip: rotation) ! RGB ! appsink`; frame N is
//! cropped in memory and encoded with GStreamer's JPEG encoder.

use std::path::Path;

use gst::prelude::*;

use crate::media;
use crate::pipeline::{file_element, init, make, make_decoders_strict};

/// `[x, y, w, h]` clamped to a `width` x `height` frame, in whole pixels; `None` if nothing
/// of it is inside.
pub fn clamp_crop(crop: [f64; 4], width: u32, height: u32) -> Option<[u32; 4]> {
    let x0 = crop[0].max(0.0).floor() as u32;
    let y0 = crop[1].max(0.0).floor() as u32;
    let x1 = ((crop[0] + crop[2]).ceil().max(0.0) as u32).min(width);
    let y1 = ((crop[1] + crop[3]).ceil().max(0.0) as u32).min(height);
    (x1 > x0 && y1 > y0).then(|| [x0, y0, x1 - x0, y1 - y0])
}

/// Writes frame `index` (0-based) of `input`, cropped to `crop` (`[x, y, w, h]` in pixels)
/// when given, to `output` as JPEG.
pub fn save_frame(
    input: &Path,
    index: u64,
    crop: Option<[f64; 4]>,
    output: &Path,
) -> Result<(), String> {
    init()?;
    if !input.is_file() {
        return Err(format!("{}: no such file", input.display()));
    }
    let pipeline = gst::Pipeline::new();
    let src = file_element("filesrc", input)?;
    let decode = make("decodebin")?;
    make_decoders_strict(&decode);
    // The same input chain as detection (rotation and EXIF orientation applied), so that
    // boxes from a detections JSON fall on the same pixels.
    let (chain_in, chain_last) =
        crate::device::add_input_chain(&pipeline, crate::device::VideoPath::System)?;
    let sink = gst_app::AppSink::builder()
        .caps(
            &gst_video::VideoCapsBuilder::new()
                .format(gst_video::VideoFormat::Rgb)
                .build(),
        )
        .sync(false)
        .build();
    pipeline
        .add_many([&src, &decode, sink.upcast_ref()])
        .map_err(|e| e.to_string())?;
    src.link(&decode).map_err(|e| e.to_string())?;
    chain_last.link(&sink).map_err(|e| e.to_string())?;
    let chain_weak = chain_in.downgrade();
    decode.connect_pad_added(move |_, pad| {
        let is_video = pad
            .current_caps()
            .and_then(|c| c.structure(0).map(|s| s.name().starts_with("video/")))
            .unwrap_or(false);
        if let Some(chain_in) = chain_weak.upgrade()
            && is_video
        {
            let sinkpad = chain_in
                .static_pad("sink")
                .expect("the input chain has a sink pad");
            if !sinkpad.is_linked() {
                crate::pipeline::link_late(pad, &sinkpad);
            }
        }
    });
    let stop = |e: String| {
        let _ = pipeline.set_state(gst::State::Null);
        e
    };
    pipeline
        .set_state(gst::State::Playing)
        .map_err(|_| format!("{}: cannot be decoded", input.display()))?;
    let mut sample = None;
    for _ in 0..=index {
        match sink.pull_sample() {
            Ok(s) => sample = Some(s),
            Err(_) => {
                sample = None;
                break;
            }
        }
    }
    let _ = pipeline.set_state(gst::State::Null);
    let Some(sample) = sample else {
        return Err(stop(format!(
            "{}: no frame {index} (the file has fewer frames, or cannot be decoded)",
            input.display()
        )));
    };
    let caps = sample.caps().ok_or("a frame without caps")?;
    let info = gst_video::VideoInfo::from_caps(caps).map_err(|e| e.to_string())?;
    let buffer = sample.buffer().ok_or("a frame without data")?;
    let map = buffer.map_readable().map_err(|e| e.to_string())?;
    let (width, height) = (info.width(), info.height());
    let [x, y, w, h] = match crop {
        Some(c) => clamp_crop(c, width, height)
            .ok_or_else(|| format!("the crop {c:?} lies outside the {width}x{height} frame"))?,
        None => [0, 0, width, height],
    };
    let stride = info.stride()[0] as usize;
    let mut pixels = Vec::with_capacity((w * h * 3) as usize);
    for row in y..y + h {
        let start = row as usize * stride + x as usize * 3;
        pixels.extend_from_slice(&map[start..start + w as usize * 3]);
    }
    drop(map);
    let out_info = gst_video::VideoInfo::builder(gst_video::VideoFormat::Rgb, w, h)
        .build()
        .map_err(|e| e.to_string())?;
    // RGB rows of GStreamer's default layout are padded to 4 bytes.
    let out_stride = out_info.stride()[0] as usize;
    let mut padded = vec![0u8; out_info.size()];
    for (row, chunk) in pixels.chunks(w as usize * 3).enumerate() {
        padded[row * out_stride..row * out_stride + chunk.len()].copy_from_slice(chunk);
    }
    let out_caps = out_info.to_caps().map_err(|e| e.to_string())?;
    let cropped = gst::Sample::builder()
        .buffer(&gst::Buffer::from_mut_slice(padded))
        .caps(&out_caps)
        .build();
    let jpeg = gst_video::convert_sample(
        &cropped,
        &gst::Caps::builder("image/jpeg").build(),
        Some(gst::ClockTime::from_seconds(10)),
    )
    .map_err(|e| format!("cannot encode the JPEG: {e}"))?;
    let jpeg = jpeg.buffer().ok_or("an empty JPEG")?;
    let bytes = jpeg.map_readable().map_err(|e| e.to_string())?;
    media::write_atomically(output, &bytes)
        .map_err(|e| format!("cannot write {}: {e}", output.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crops_are_clamped_to_the_frame() {
        assert_eq!(
            clamp_crop([10.2, 20.7, 30.0, 40.0], 640, 360),
            Some([10, 20, 31, 41])
        );
        assert_eq!(
            clamp_crop([-5.0, -5.0, 20.0, 20.0], 640, 360),
            Some([0, 0, 15, 15])
        );
        assert_eq!(
            clamp_crop([630.0, 350.0, 50.0, 50.0], 640, 360),
            Some([630, 350, 10, 10])
        );
        assert_eq!(clamp_crop([700.0, 0.0, 10.0, 10.0], 640, 360), None);
        assert_eq!(clamp_crop([0.0, 0.0, 0.0, 10.0], 640, 360), None);
    }
}
