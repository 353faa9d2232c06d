// SPDX-License-Identifier: MIT OR Apache-2.0
//! The CUDA driver, through `cudarc`'s raw layer: whether it is usable (checked once, before
//! any other CUDA call: without a driver, `cudarc` panics on the first call), contexts
//! made current for a scope, and device buffers.

use std::ffi::c_void;
use std::fmt;
use std::sync::OnceLock;

use cudarc::driver::result;
use cudarc::driver::sys;

/// A CUDA failure, with what was being done.
#[derive(Debug, Clone, PartialEq)]
pub struct CudaError(pub String);

impl fmt::Display for CudaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CudaError {}

/// Turns a driver error into a `CudaError` saying what failed.
pub(crate) fn check<T>(r: Result<T, result::DriverError>, what: &str) -> Result<T, CudaError> {
    r.map_err(|e| {
        let name = e
            .error_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|_| format!("{:?}", e.0));
        CudaError(format!("{what}: {name}"))
    })
}

/// Whether the CUDA driver is present and sees a device: the one check every CUDA call
/// sits behind. Made once per process; later calls return the first answer.
pub fn driver() -> Result<(), CudaError> {
    static DRIVER: OnceLock<Result<(), CudaError>> = OnceLock::new();
    DRIVER
        .get_or_init(|| {
            // SAFETY: only tries to dlopen libcuda.
            if !unsafe { sys::is_culib_present() } {
                return Err(CudaError(
                    "no CUDA driver: libcuda.so.1 was not found (an NVIDIA GPU and its driver are needed)".into(),
                ));
            }
            check(result::init(), "cuInit failed")?;
            let count = check(result::device::get_count(), "no CUDA device")?;
            if count < 1 {
                return Err(CudaError("the CUDA driver sees no device".into()));
            }
            Ok(())
        })
        .clone()
}

/// A CUDA context handle (`CUcontext`). Contexts are process-wide and may be used from any
/// thread once made current, which `Current` does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Context(pub(crate) sys::CUcontext);

// SAFETY: a CUcontext is a handle the driver lets any thread make current.
unsafe impl Send for Context {}
unsafe impl Sync for Context {}

impl Context {
    /// # Safety
    /// `raw` must be a live `CUcontext`.
    pub unsafe fn from_raw(raw: *mut c_void) -> Context {
        Context(raw as sys::CUcontext)
    }

    pub fn as_raw(self) -> *mut c_void {
        self.0 as *mut c_void
    }

    /// The primary context of device `ordinal` (the one ONNX Runtime and the CUDA runtime
    /// use), retained for the life of the process.
    pub fn primary(ordinal: i32) -> Result<(Context, i32), CudaError> {
        driver()?;
        let device = check(result::device::get(ordinal), "cuDeviceGet")?;
        // SAFETY: `device` comes from cuDeviceGet; the retain is never released, so the
        // context lives as long as the process.
        let ctx = check(
            unsafe { result::primary_ctx::retain(device) },
            "cuDevicePrimaryCtxRetain",
        )?;
        Ok((Context(ctx), device))
    }

    /// Makes this context current on the calling thread until the guard drops.
    pub fn enter(self) -> Result<Current, CudaError> {
        driver()?;
        // SAFETY: pushing a live context; the guard pops it.
        check(
            unsafe { sys::cuCtxPushCurrent_v2(self.0) }.result(),
            "cuCtxPushCurrent",
        )?;
        Ok(Current(()))
    }

    /// The device's compute capability, e.g. (9, 0).
    pub fn compute_capability(self) -> Result<(i32, i32), CudaError> {
        let _current = self.enter()?;
        let mut device = 0;
        // SAFETY: out-pointer; a context is current.
        check(
            unsafe { sys::cuCtxGetDevice(&mut device) }.result(),
            "cuCtxGetDevice",
        )?;
        let attr = |a| {
            // SAFETY: valid device and attribute.
            check(
                unsafe { result::device::get_attribute(device, a) },
                "cuDeviceGetAttribute",
            )
        };
        Ok((
            attr(sys::CUdevice_attribute::CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR)?,
            attr(sys::CUdevice_attribute::CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR)?,
        ))
    }
}

/// A context made current on this thread; pops it when dropped.
pub struct Current(());

impl Drop for Current {
    fn drop(&mut self) {
        let mut previous = std::ptr::null_mut();
        // SAFETY: pops what `Context::enter` pushed on this thread.
        unsafe { sys::cuCtxPopCurrent_v2(&mut previous) };
    }
}

/// Device memory owned by one context, freed when dropped.
#[derive(Debug)]
pub struct DeviceBuffer {
    ctx: Context,
    ptr: sys::CUdeviceptr,
    len: usize,
}

// SAFETY: device memory is addressable from any thread that makes its context current.
unsafe impl Send for DeviceBuffer {}

impl DeviceBuffer {
    /// `len` bytes, uninitialised.
    pub fn new(ctx: Context, len: usize) -> Result<DeviceBuffer, CudaError> {
        let _current = ctx.enter()?;
        // SAFETY: a plain allocation in the current context.
        let ptr = check(unsafe { result::malloc_sync(len.max(1)) }, "cuMemAlloc")?;
        Ok(DeviceBuffer { ctx, ptr, len })
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The device address.
    pub fn ptr(&self) -> u64 {
        self.ptr
    }
}

impl Drop for DeviceBuffer {
    fn drop(&mut self) {
        if let Ok(_current) = self.ctx.enter() {
            // SAFETY: allocated by cuMemAlloc in this context, freed once.
            unsafe { sys::cuMemFree_v2(self.ptr) };
        }
    }
}
