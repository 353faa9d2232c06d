// SPDX-License-Identifier: MIT OR Apache-2.0
//! What the three elements share on the GPU path: the `device` property, the caps of both
//! memory kinds, the choice of path from the negotiated caps, and the CUDA context that
//! they hand out and accept the way GStreamer's own CUDA elements do (context query on both
//! pads, `set_context`, need-context and have-context messages).

use std::sync::Mutex;

use gst::glib;
use gst::prelude::*;

use super::driver::CudaError;
use super::gst::{CAPS_FEATURE, CONTEXT_TYPE, CudaContext, usable};
use crate::algo::frame::PixelFormat;

/// Where an element processes frames.
#[derive(Debug, Eq, PartialEq, Ord, PartialOrd, Hash, Clone, Copy, Default, glib::Enum)]
#[repr(u32)]
#[enum_type(name = "GstRedactDevice")]
pub enum Device {
    /// Follow the negotiated caps: CUDA memory on the GPU, system memory on the CPU.
    #[default]
    #[enum_value(
        name = "Auto: CUDA memory on the GPU, system memory on the CPU",
        nick = "auto"
    )]
    Auto = 0,
    #[enum_value(name = "CPU: system memory only", nick = "cpu")]
    Cpu = 1,
    #[enum_value(
        name = "CUDA: CUDA memory only (an error at start without a usable GPU)",
        nick = "cuda"
    )]
    Cuda = 2,
}

/// The path one negotiated stream takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Path {
    System,
    Cuda,
}

/// Formats accepted in CUDA memory only to refuse them with a clear message: 10- and
/// 12-bit decoder output (the kernels read 8-bit samples).
pub const DEEP_FORMATS: [gst_video::VideoFormat; 2] = [
    gst_video::VideoFormat::P01010le,
    gst_video::VideoFormat::P016Le,
];

/// The caps in CUDA memory: the system formats, then the refused deep ones (last, so a
/// decoder that can give 8-bit does).
pub fn cuda_caps() -> gst::Caps {
    cuda_caps_of(crate::video::FORMATS.into_iter().chain(DEEP_FORMATS))
}

/// The formats the kernels read, in CUDA memory (what an application puts after
/// `cudaconvert` so that 10-bit decoder output is converted).
pub fn readable_cuda_caps() -> gst::Caps {
    cuda_caps_of(crate::video::FORMATS)
}

fn cuda_caps_of(formats: impl IntoIterator<Item = gst_video::VideoFormat>) -> gst::Caps {
    gst_video::VideoCapsBuilder::new()
        .features([CAPS_FEATURE])
        .format_list(formats)
        .build()
}

/// The caps an element set to `device` accepts.
pub fn device_caps(device: Device) -> gst::Caps {
    match device {
        Device::Auto => {
            let mut caps = crate::video::video_caps();
            caps.merge(cuda_caps());
            caps
        }
        Device::Cpu => crate::video::video_caps(),
        Device::Cuda => cuda_caps(),
    }
}

/// The message for a format the kernels do not read, if it is one of the deep formats.
pub fn deep_format_message(format: gst_video::VideoFormat) -> Option<String> {
    DEEP_FORMATS.contains(&format).then(|| {
        format!(
            "{} frames (more than 8 bits per sample) are not supported: convert them to 8-bit first, e.g. with `cudaconvert ! video/x-raw(memory:CUDAMemory),format=NV12`",
            format.to_str()
        )
    })
}

/// The path for negotiated caps, checking that CUDA is usable when they are CUDA memory.
pub fn path_for(caps: &gst::CapsRef) -> Result<Path, CudaError> {
    let cuda = caps.features(0).is_some_and(|f| f.contains(CAPS_FEATURE));
    if !cuda {
        return Ok(Path::System);
    }
    usable().map_err(|e| CudaError(format!("CUDA memory was negotiated, but {e}")))?;
    if !super::engine::kernels_built() {
        return Err(CudaError(format!(
            "CUDA memory was negotiated, but {}",
            super::engine::NO_KERNELS
        )));
    }
    Ok(Path::Cuda)
}

/// `device=cuda` at start: a clear error instead of a crash when CUDA is not usable.
pub fn check_device(device: Device) -> Result<(), gst::ErrorMessage> {
    if device == Device::Cuda
        && let Err(e) = usable()
    {
        return Err(gst::error_msg!(
            gst::ResourceError::NotFound,
            ("device=cuda, but CUDA cannot be used here: {e}; use device=auto or device=cpu")
        ));
    }
    Ok(())
}

/// Restricts in-place caps (the same on both pads) to what `device` allows.
pub fn transform_caps(device: Device, caps: &gst::Caps, filter: Option<&gst::Caps>) -> gst::Caps {
    let mut out = caps.intersect_with_mode(&device_caps(device), gst::CapsIntersectMode::First);
    if let Some(filter) = filter {
        out = filter.intersect_with_mode(&out, gst::CapsIntersectMode::First);
    }
    out
}

/// The CUDA context an element uses and hands out. GStreamer's decoders create a context
/// of their own unless a neighbour answers their `gst.cuda.context` query: our elements
/// answer with the primary context (see `CudaContext::primary`), so decoder, kernels and
/// inference share one context. A context set by the application (need-context message or
/// `gst_element_set_context`) wins over it.
#[derive(Debug, Default)]
pub struct ContextHandler {
    context: Mutex<Option<CudaContext>>,
}

impl ContextHandler {
    /// `GstElement::set_context`: keeps a `gst.cuda.context` context.
    pub fn set_context(&self, element: &gst::Element, device: Device, context: &gst::Context) {
        if device == Device::Cpu || context.context_type() != CONTEXT_TYPE || usable().is_err() {
            return;
        }
        if let Some(ctx) = CudaContext::from_gst_context(element, context) {
            *self.context.lock().unwrap() = Some(ctx);
        }
    }

    /// Answers a `gst.cuda.context` query (on either pad) with our context, made from the
    /// primary context if we have none yet. False when not such a query, with
    /// `device=cpu`, or without CUDA.
    pub fn query(&self, element: &gst::Element, device: Device, query: &mut gst::QueryRef) -> bool {
        let gst::QueryViewMut::Context(q) = query.view_mut() else {
            return false;
        };
        if q.context_type() != CONTEXT_TYPE || device == Device::Cpu || usable().is_err() {
            return false;
        }
        let ctx = {
            let mut guard = self.context.lock().unwrap();
            match guard.as_ref() {
                Some(ctx) => ctx.clone(),
                None => match CudaContext::primary() {
                    Ok(ctx) => guard.insert(ctx).clone(),
                    Err(_) => return false,
                },
            }
        };
        ctx.answer_query(element, query)
    }

    /// Makes sure the element has a context, as `gst_cuda_ensure_element_context` does:
    /// ask the neighbours, then the application (need-context), and else use the primary
    /// context and tell the pipeline (have-context).
    pub fn ensure(&self, element: &gst::Element) -> Result<CudaContext, CudaError> {
        if let Some(ctx) = self.context.lock().unwrap().clone() {
            return Ok(ctx);
        }
        usable()?;
        for pads in [element.src_pads(), element.sink_pads()] {
            for pad in pads {
                let mut q = gst::query::Context::new(CONTEXT_TYPE);
                if pad.peer_query(&mut q)
                    && let Some(context) = q.context_owned()
                {
                    element.set_context(&context);
                    if let Some(ctx) = self.context.lock().unwrap().clone() {
                        return Ok(ctx);
                    }
                }
            }
        }
        let _ = element.post_message(
            gst::message::NeedContext::builder(CONTEXT_TYPE)
                .src(element)
                .build(),
        );
        if let Some(ctx) = self.context.lock().unwrap().clone() {
            return Ok(ctx);
        }
        let ctx = CudaContext::primary()?;
        *self.context.lock().unwrap() = Some(ctx.clone());
        let context = ctx.to_gst_context()?;
        let _ = element.post_message(
            gst::message::HaveContext::builder(context)
                .src(element)
                .build(),
        );
        Ok(ctx)
    }

    /// Forgets the context (the element went back to NULL).
    pub fn reset(&self) {
        *self.context.lock().unwrap() = None;
    }
}

/// The `device` property every element has.
pub fn device_spec() -> glib::ParamSpec {
    glib::ParamSpecEnum::builder_with_default("device", Device::Auto)
        .nick("Device")
        .blurb("Where frames are processed: auto follows the negotiated caps (CUDA memory on the GPU, system memory on the CPU); cpu accepts system memory only; cuda accepts CUDA memory only and fails at start without a usable GPU")
        .mutable_ready()
        .build()
}

/// What `set_caps` of an in-place element needs from its caps: the video info, the format
/// as the algorithms know it, and the path; with CUDA memory, the element's context is
/// made sure of. Errors are messages for the user.
pub fn negotiated(
    element: &gst::Element,
    handler: &ContextHandler,
    caps: &gst::CapsRef,
) -> Result<(gst_video::VideoInfo, PixelFormat, Path), String> {
    let info =
        gst_video::VideoInfo::from_caps(caps).map_err(|_| format!("invalid video caps {caps}"))?;
    if let Some(message) = deep_format_message(info.format()) {
        return Err(message);
    }
    let format = crate::video::pixel_format(info.format())
        .ok_or_else(|| format!("unsupported format {}", info.format().to_str()))?;
    let path = path_for(caps).map_err(|e| e.to_string())?;
    if path == Path::Cuda {
        handler.ensure(element).map_err(|e| e.to_string())?;
    }
    Ok((info, format, path))
}
