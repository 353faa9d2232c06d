// SPDX-License-Identifier: MIT OR Apache-2.0
//! The GPU path: frames in CUDA memory (`video/x-raw(memory:CUDAMemory)`, e.g. from
//! `nvh264dec`) are masked and read where they are, with no copy to the host.
//!
//! * `driver`: the one "is CUDA usable" check (before it, no CUDA call is made: without a
//!   driver, `cudarc` panics and several `gst_cuda_*` calls abort), contexts, buffers.
//! * `gst`: the minimal FFI to GStreamer 1.22's CUDA library (contexts, memory, mapping).
//! * `engine`: the kernels of `kernels.cu` (PTX compiled ahead by `build.rs`), each the twin
//!   of a CPU function in `algo`.
//! * `element`: the `device` property, caps and context handling the elements share.
//! * `nvrtc`: compiling the kernels (used by `build.rs` and the kernel test).

mod driver;
pub mod element;
mod engine;
mod gst;
pub mod nvrtc;

pub use driver::{Context, CudaError, DeviceBuffer, driver};
pub use engine::{DeviceFrame, Engine, KERNELS, NO_KERNELS, PTX, kernels_built};
pub use gst::{CAPS_FEATURE, CONTEXT_TYPE, CudaContext, CudaFrameMap, memory_context, usable};

/// The kernel source, for the test that compiles it.
pub const KERNEL_SOURCE: &str = include_str!("kernels.cu");

/// The engine for `ctx`, kept in `slot` and made again when the frames come from another
/// context (each buffer is processed in the context its memory belongs to).
pub fn engine_for(slot: &mut Option<Engine>, ctx: Context) -> Result<&mut Engine, CudaError> {
    if slot.as_ref().is_none_or(|e| e.context() != ctx) {
        *slot = None;
        *slot = Some(Engine::new(ctx)?);
    }
    Ok(slot.as_mut().expect("just made"))
}
