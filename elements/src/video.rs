//! GStreamer glue shared by the elements: the raw formats they accept and how those map to
//! the plain-Rust frame types in `algo`.

use gst_video::VideoFormat;

use crate::algo::frame::{Frame, FrameError, PixelFormat, YuvMatrix};

pub const FORMATS: [VideoFormat; 9] = [
    VideoFormat::I420,
    VideoFormat::Nv12,
    VideoFormat::Rgb,
    VideoFormat::Bgr,
    VideoFormat::Rgba,
    VideoFormat::Bgra,
    VideoFormat::Rgbx,
    VideoFormat::Bgrx,
    VideoFormat::Gray8,
];

pub fn pixel_format(format: VideoFormat) -> Option<PixelFormat> {
    Some(match format {
        VideoFormat::I420 => PixelFormat::I420,
        VideoFormat::Nv12 => PixelFormat::Nv12,
        VideoFormat::Rgb => PixelFormat::Rgb,
        VideoFormat::Bgr => PixelFormat::Bgr,
        VideoFormat::Rgba => PixelFormat::Rgba,
        VideoFormat::Bgra => PixelFormat::Bgra,
        VideoFormat::Rgbx => PixelFormat::Rgbx,
        VideoFormat::Bgrx => PixelFormat::Bgrx,
        VideoFormat::Gray8 => PixelFormat::Gray8,
        _ => return None,
    })
}

pub fn yuv_matrix(info: &gst_video::VideoInfo) -> YuvMatrix {
    let c = info.colorimetry();
    let mut m = match c.matrix() {
        gst_video::VideoColorMatrix::Bt709 => YuvMatrix::BT709,
        gst_video::VideoColorMatrix::Bt2020 => YuvMatrix::BT2020,
        _ => YuvMatrix::BT601,
    };
    m.full_range = c.range() == gst_video::VideoColorRange::Range0_255;
    m
}

/// Caps of every format the elements read and write in place.
pub fn video_caps() -> gst::Caps {
    gst_video::VideoCapsBuilder::new()
        .format_list(FORMATS)
        .build()
}

/// The always-present src and sink templates of an element that works in place on
/// `video_caps()` in system memory and the same formats in CUDA memory.
pub fn in_place_templates() -> Vec<gst::PadTemplate> {
    let caps = crate::cuda::element::device_caps(crate::cuda::element::Device::Auto);
    [
        ("src", gst::PadDirection::Src),
        ("sink", gst::PadDirection::Sink),
    ]
    .into_iter()
    .map(|(name, dir)| {
        gst::PadTemplate::new(name, dir, gst::PadPresence::Always, &caps).expect("valid template")
    })
    .collect()
}

/// A readable mapped video frame as the plain `Frame` the algorithms take.
pub fn frame_of<'a>(
    vframe: &'a gst_video::VideoFrameRef<&gst::BufferRef>,
    format: PixelFormat,
) -> Result<Frame<'a>, FrameError> {
    use gst_video::prelude::*;
    let n = format.n_planes();
    let mut planes: Vec<&[u8]> = Vec::with_capacity(n);
    for p in 0..n as u32 {
        planes.push(
            vframe
                .plane_data(p)
                .map_err(|e| FrameError(format!("plane {p}: {e}")))?,
        );
    }
    let strides: Vec<usize> = vframe.plane_stride()[..n]
        .iter()
        .map(|&s| s as usize)
        .collect();
    let info = vframe.info();
    Frame::new(
        format,
        info.width() as usize,
        info.height() as usize,
        &planes,
        &strides,
        yuv_matrix(info),
    )
}
