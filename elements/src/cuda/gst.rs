// SPDX-License-Identifier: MIT OR Apache-2.0
//! The minimal FFI to GStreamer 1.22's CUDA library (`libgstcuda-1.0`, public but without
//! a Rust binding): wrapping a CUDA context as a `GstCudaContext`, the context query and
//! `set_context` helpers, checking that memory is CUDA memory, and mapping a frame with the
//! CUDA map flag to get each plane's device pointer and pitch.
//!
//! The library is opened at run time, after the driver check, so the plugin loads and
//! works on machines without it or without CUDA (several `gst_cuda_*` calls abort when no
//! driver is present).

use std::ffi::{c_int, c_void};
use std::ptr::NonNull;
use std::sync::OnceLock;

use gst::glib::translate::ToGlibPtr;

use super::driver::{self, Context, CudaError};
use super::engine::DeviceFrame;
use crate::algo::frame::{PixelFormat, YuvMatrix};

/// `GST_CUDA_CONTEXT_TYPE`: the context type name of the query and messages.
pub const CONTEXT_TYPE: &str = "gst.cuda.context";
/// `GST_CAPS_FEATURE_MEMORY_CUDA_MEMORY`.
pub const CAPS_FEATURE: &str = "memory:CUDAMemory";
/// `GST_MAP_CUDA` = `GST_MAP_FLAG_LAST << 1`: map for device access.
const MAP_CUDA: u32 = gst::ffi::GST_MAP_FLAG_LAST << 1;

type Gboolean = gst::glib::ffi::gboolean;

/// The functions of libgstcuda-1.0 that we call.
struct Library {
    _lib: libloading::Library,
    load_library: unsafe extern "C" fn() -> Gboolean,
    context_new_wrapped: unsafe extern "C" fn(*mut c_void, c_int) -> *mut c_void,
    context_get_handle: unsafe extern "C" fn(*mut c_void) -> *mut c_void,
    handle_set_context: unsafe extern "C" fn(
        *mut gst::ffi::GstElement,
        *mut gst::ffi::GstContext,
        c_int,
        *mut *mut c_void,
    ) -> Gboolean,
    handle_context_query: unsafe extern "C" fn(
        *mut gst::ffi::GstElement,
        *mut gst::ffi::GstQuery,
        *mut c_void,
    ) -> Gboolean,
    context_new_cuda_context: unsafe extern "C" fn(*mut c_void) -> *mut gst::ffi::GstContext,
    is_cuda_memory: unsafe extern "C" fn(*mut gst::ffi::GstMemory) -> Gboolean,
}

fn library() -> Result<&'static Library, CudaError> {
    static LIBRARY: OnceLock<Result<Library, CudaError>> = OnceLock::new();
    LIBRARY
        .get_or_init(|| {
            driver::driver()?;
            let name = "libgstcuda-1.0.so.0";
            // SAFETY: GStreamer's CUDA library; its initialisers need nothing from us.
            let lib = unsafe { libloading::Library::new(name) }.map_err(|e| {
                CudaError(format!(
                    "cannot load {name} (GStreamer's CUDA library, in gst-plugins-bad 1.22): {e}"
                ))
            })?;
            macro_rules! sym {
                ($name:literal) => {
                    // SAFETY: the type at each use is the function's C signature from the
                    // 1.22 headers (gst/cuda/gstcuda*.h).
                    *unsafe { lib.get(concat!($name, "\0").as_bytes()) }
                        .map_err(|e| CudaError(format!("{name} has no {}: {e}", $name)))?
                };
            }
            let library = Library {
                load_library: sym!("gst_cuda_load_library"),
                context_new_wrapped: sym!("gst_cuda_context_new_wrapped"),
                context_get_handle: sym!("gst_cuda_context_get_handle"),
                handle_set_context: sym!("gst_cuda_handle_set_context"),
                handle_context_query: sym!("gst_cuda_handle_context_query"),
                context_new_cuda_context: sym!("gst_context_new_cuda_context"),
                is_cuda_memory: sym!("gst_is_cuda_memory"),
                _lib: lib,
            };
            // SAFETY: the driver is present (checked above).
            if unsafe { (library.load_library)() } == 0 {
                return Err(CudaError(
                    "GStreamer's CUDA library could not load the CUDA driver".into(),
                ));
            }
            Ok(library)
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// Whether the GStreamer CUDA path can run here: a driver with a device, and GStreamer's
/// CUDA library. Checked once; every CUDA call of the elements sits behind it.
pub fn usable() -> Result<(), CudaError> {
    library().map(|_| ())
}

/// A reference to a `GstCudaContext` (a `GstObject`).
#[derive(Debug)]
pub struct CudaContext(NonNull<c_void>);

// SAFETY: GstObjects are reference-counted thread-safely; the CUDA context inside may be
// used from any thread that makes it current.
unsafe impl Send for CudaContext {}
unsafe impl Sync for CudaContext {}

impl Clone for CudaContext {
    fn clone(&self) -> Self {
        // SAFETY: a live GstObject.
        unsafe { gst::ffi::gst_object_ref(self.0.as_ptr().cast()) };
        CudaContext(self.0)
    }
}

impl Drop for CudaContext {
    fn drop(&mut self) {
        // SAFETY: we hold one reference.
        unsafe { gst::ffi::gst_object_unref(self.0.as_ptr().cast()) };
    }
}

impl CudaContext {
    /// Takes ownership of one reference.
    fn from_full(ptr: *mut c_void) -> Option<CudaContext> {
        NonNull::new(ptr).map(CudaContext)
    }

    /// The process-wide `GstCudaContext` wrapping the primary context of device 0, which
    /// ONNX Runtime's CUDA provider and `cudarc` also use: one context for the decoder, the
    /// kernels and inference, so their memory is shared. Made once.
    pub fn primary() -> Result<CudaContext, CudaError> {
        static PRIMARY: OnceLock<Result<CudaContext, CudaError>> = OnceLock::new();
        PRIMARY
            .get_or_init(|| {
                let lib = library()?;
                let (ctx, device) = Context::primary(0)?;
                // SAFETY: a live primary context (retained for the process) and its device.
                let wrapped = unsafe { (lib.context_new_wrapped)(ctx.as_raw(), device) };
                CudaContext::from_full(wrapped)
                    .ok_or_else(|| CudaError("gst_cuda_context_new_wrapped failed".into()))
            })
            .clone()
    }

    /// The CUDA context it holds.
    pub fn handle(&self) -> Context {
        let lib = library().expect("a CudaContext exists only when the library loaded");
        // SAFETY: a live GstCudaContext; the handle lives as long as it does.
        unsafe { Context::from_raw((lib.context_get_handle)(self.0.as_ptr())) }
    }

    /// A `gst.cuda.context` GstContext holding this context (for have-context messages).
    pub fn to_gst_context(&self) -> Result<gst::Context, CudaError> {
        let lib = library()?;
        // SAFETY: a live GstCudaContext; the call returns a new GstContext (full transfer).
        let ptr = unsafe { (lib.context_new_cuda_context)(self.0.as_ptr()) };
        if ptr.is_null() {
            return Err(CudaError("gst_context_new_cuda_context failed".into()));
        }
        // SAFETY: a new GstContext we own.
        Ok(unsafe { gst::glib::translate::from_glib_full(ptr) })
    }

    /// Answers a `gst.cuda.context` context query with this context; false for any other
    /// query.
    pub fn answer_query(&self, element: &gst::Element, query: &mut gst::QueryRef) -> bool {
        let Ok(lib) = library() else { return false };
        // SAFETY: live element, query and context; the helper checks the query's type.
        unsafe {
            (lib.handle_context_query)(
                element.to_glib_none().0,
                query.as_mut_ptr(),
                self.0.as_ptr(),
            ) != 0
        }
    }

    /// The CUDA context in a GstContext that an application or a neighbour set, if it is a
    /// `gst.cuda.context` one.
    pub fn from_gst_context(element: &gst::Element, context: &gst::Context) -> Option<CudaContext> {
        let lib = library().ok()?;
        let mut found: *mut c_void = std::ptr::null_mut();
        // SAFETY: live element and context; on success `found` holds a new reference.
        let ok = unsafe {
            (lib.handle_set_context)(
                element.to_glib_none().0,
                context.as_ptr() as *mut _,
                -1,
                &mut found,
            )
        };
        if ok == 0 {
            return None;
        }
        CudaContext::from_full(found)
    }
}

/// The head of `GstCudaMemory` (gst/cuda/gstcudamemory.h): the public fields we read.
#[repr(C)]
struct CudaMemoryHead {
    mem: gst::ffi::GstMemory,
    context: *mut c_void,
}

/// The CUDA context of a buffer's memory when every memory of it is CUDA memory; `None`
/// when any is not (then the caps lied, and the frame is treated as system memory).
pub fn memory_context(buffer: &gst::BufferRef) -> Option<Context> {
    let lib = library().ok()?;
    let n = buffer.n_memory();
    if n == 0 {
        return None;
    }
    for i in 0..n {
        // SAFETY: a memory of a live buffer; the check only reads it.
        if unsafe { (lib.is_cuda_memory)(buffer.peek_memory(i).as_mut_ptr()) } == 0 {
            return None;
        }
    }
    let mem = buffer.peek_memory(0).as_mut_ptr() as *const CudaMemoryHead;
    // SAFETY: gst_is_cuda_memory said this is a GstCudaMemory, whose public `context`
    // field follows the GstMemory.
    let context = unsafe { (*mem).context };
    if context.is_null() {
        return None;
    }
    // SAFETY: the memory holds a reference to its live GstCudaContext.
    Some(unsafe { Context::from_raw((lib.context_get_handle)(context)) })
}

/// A video frame mapped for device access (`GST_MAP_CUDA`): each plane's device pointer
/// and pitch. With `write`, GStreamer marks the memory as changed on the device, so a later
/// host map downloads it again. Unmapped when dropped.
pub struct CudaFrameMap {
    frame: gst_video::ffi::GstVideoFrame,
}

impl CudaFrameMap {
    fn map(
        buffer: *mut gst::ffi::GstBuffer,
        info: &gst_video::VideoInfo,
        write: bool,
    ) -> Result<CudaFrameMap, CudaError> {
        let mut flags = gst::ffi::GST_MAP_READ | MAP_CUDA;
        if write {
            flags |= gst::ffi::GST_MAP_WRITE;
        }
        let mut frame = std::mem::MaybeUninit::<gst_video::ffi::GstVideoFrame>::zeroed();
        // SAFETY: a live buffer and info; on success the frame is unmapped in Drop.
        let ok = unsafe {
            gst_video::ffi::gst_video_frame_map(
                frame.as_mut_ptr(),
                info.to_glib_none().0 as *mut _,
                buffer,
                flags,
            )
        };
        if ok == 0 {
            return Err(CudaError(
                "could not map the CUDA frame for device access".into(),
            ));
        }
        // SAFETY: initialised by a successful map.
        Ok(CudaFrameMap {
            frame: unsafe { frame.assume_init() },
        })
    }

    /// Maps for reading on the device.
    pub fn readable(
        buffer: &gst::BufferRef,
        info: &gst_video::VideoInfo,
    ) -> Result<CudaFrameMap, CudaError> {
        Self::map(buffer.as_mut_ptr(), info, false)
    }

    /// Maps for reading and writing on the device (the buffer must be writable).
    pub fn writable(
        buffer: &mut gst::BufferRef,
        info: &gst_video::VideoInfo,
    ) -> Result<CudaFrameMap, CudaError> {
        Self::map(buffer.as_mut_ptr(), info, true)
    }

    /// The mapped frame as the kernels take it.
    pub fn device_frame(&self, format: PixelFormat, yuv: YuvMatrix) -> DeviceFrame {
        let info = &self.frame.info;
        let mut planes = [0u64; 3];
        let mut pitches = [0usize; 3];
        for i in 0..format.n_planes() {
            planes[i] = self.frame.data[i] as u64;
            pitches[i] = info.stride[i] as usize;
        }
        DeviceFrame {
            format,
            width: info.width as usize,
            height: info.height as usize,
            planes,
            pitches,
            yuv,
        }
    }
}

impl Drop for CudaFrameMap {
    fn drop(&mut self) {
        // SAFETY: mapped in `map`, unmapped once.
        unsafe { gst_video::ffi::gst_video_frame_unmap(&mut self.frame) };
    }
}
