// SPDX-License-Identifier: MIT OR Apache-2.0
//! Compiling the CUDA kernels to PTX with NVRTC, loaded from an explicit path (the PyPI
//! wheel `nvidia-cuda-nvrtc-cu12` that `models/install` unpacks into the cache). Used by
//! `build.rs`, which embeds the PTX in the plugin so that users need no CUDA toolkit, and
//! by the test that compiles every kernel and fails on any error or warning.
//!
//! This file is included by `build.rs` with `#[path]`: it depends on nothing else in the
//! crate.

use std::ffi::{CStr, CString, c_char, c_int, c_void};
use std::path::{Path, PathBuf};

/// The GPU architectures the PTX is made for: Turing (T4), Ampere (A100, A10) and Hopper
/// (H100). The engine loads the newest one the card runs, and the driver
/// JIT-compiles it.
pub const ARCHITECTURES: [&str; 3] = ["compute_75", "compute_80", "compute_90"];

/// Options for every kernel: exact float rounding (no fused multiply-add, IEEE division and
/// square root) so the GPU gives the CPU's values; every warning reported.
pub const OPTIONS: [&str; 4] = [
    "--fmad=false",
    "--prec-div=true",
    "--prec-sqrt=true",
    "--std=c++17",
];

/// Where NVRTC is looked for: `$REDACT_NVRTC` (the library file), else
/// `<cache>/nvrtc/libnvrtc.so.12`, the cache being `$REDACT_CACHE` or `.cache` in the
/// project.
pub fn library_path(project_root: &Path) -> PathBuf {
    if let Some(p) = std::env::var_os("REDACT_NVRTC").filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    let cache = std::env::var_os("REDACT_CACHE")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| project_root.join(".cache"));
    cache.join("nvrtc").join("libnvrtc.so.12")
}

/// PTX for one architecture, with NVRTC's log (empty when it had nothing to say).
pub struct Compiled {
    pub ptx: String,
    pub log: String,
}

type Program = *mut c_void;
type CreateFn = unsafe extern "C" fn(
    *mut Program,
    *const c_char,
    *const c_char,
    c_int,
    *const *const c_char,
    *const *const c_char,
) -> c_int;
type CompileFn = unsafe extern "C" fn(Program, c_int, *const *const c_char) -> c_int;
type SizeFn = unsafe extern "C" fn(Program, *mut usize) -> c_int;
type GetFn = unsafe extern "C" fn(Program, *mut c_char) -> c_int;
type DestroyFn = unsafe extern "C" fn(*mut Program) -> c_int;
type VersionFn = unsafe extern "C" fn(*mut c_int, *mut c_int) -> c_int;
type ErrorFn = unsafe extern "C" fn(c_int) -> *const c_char;

pub struct Nvrtc {
    lib: libloading::Library,
}

impl Nvrtc {
    pub fn load(path: &Path) -> Result<Nvrtc, String> {
        // SAFETY: loading NVRTC runs no initialisers with preconditions.
        let lib = unsafe { libloading::Library::new(path) }
            .map_err(|e| format!("cannot load NVRTC from '{}': {e}", path.display()))?;
        Ok(Nvrtc { lib })
    }

    fn sym<T: Copy>(&self, name: &[u8]) -> Result<T, String> {
        // SAFETY: each name is paired with its C signature from nvrtc.h.
        unsafe { self.lib.get::<T>(name) }
            .map(|s| *s)
            .map_err(|e| format!("NVRTC has no {}: {e}", String::from_utf8_lossy(name)))
    }

    /// NVRTC's version, e.g. (12, 9).
    pub fn version(&self) -> Result<(i32, i32), String> {
        let f: VersionFn = self.sym(b"nvrtcVersion\0")?;
        let (mut major, mut minor) = (0, 0);
        // SAFETY: two valid out-pointers.
        unsafe { f(&mut major, &mut minor) };
        Ok((major, minor))
    }

    fn error(&self, code: c_int) -> String {
        match self.sym::<ErrorFn>(b"nvrtcGetErrorString\0") {
            // SAFETY: NVRTC returns a static string for any code.
            Ok(f) => unsafe { CStr::from_ptr(f(code)) }
                .to_string_lossy()
                .into_owned(),
            Err(_) => format!("NVRTC error {code}"),
        }
    }

    /// Compiles `source` for `arch` (e.g. `compute_80`) with `OPTIONS`.
    pub fn compile(&self, source: &str, name: &str, arch: &str) -> Result<Compiled, String> {
        let create: CreateFn = self.sym(b"nvrtcCreateProgram\0")?;
        let compile: CompileFn = self.sym(b"nvrtcCompileProgram\0")?;
        let log_size: SizeFn = self.sym(b"nvrtcGetProgramLogSize\0")?;
        let get_log: GetFn = self.sym(b"nvrtcGetProgramLog\0")?;
        let ptx_size: SizeFn = self.sym(b"nvrtcGetPTXSize\0")?;
        let get_ptx: GetFn = self.sym(b"nvrtcGetPTX\0")?;
        let destroy: DestroyFn = self.sym(b"nvrtcDestroyProgram\0")?;

        let src = CString::new(source).map_err(|_| "kernel source holds a NUL byte")?;
        let file = CString::new(name).map_err(|_| "kernel name holds a NUL byte")?;
        let options: Vec<CString> = std::iter::once(format!("--gpu-architecture={arch}"))
            .chain(OPTIONS.iter().map(|s| s.to_string()))
            .map(|o| CString::new(o).expect("options have no NUL"))
            .collect();
        let option_ptrs: Vec<*const c_char> = options.iter().map(|o| o.as_ptr()).collect();
        let mut program: Program = std::ptr::null_mut();
        // SAFETY: valid C strings that outlive the calls; the program is destroyed below.
        unsafe {
            let rc = create(
                &mut program,
                src.as_ptr(),
                file.as_ptr(),
                0,
                std::ptr::null(),
                std::ptr::null(),
            );
            if rc != 0 {
                return Err(format!("nvrtcCreateProgram: {}", self.error(rc)));
            }
            let rc = compile(program, option_ptrs.len() as c_int, option_ptrs.as_ptr());
            let mut n = 0usize;
            log_size(program, &mut n);
            let mut log = vec![0u8; n.max(1)];
            get_log(program, log.as_mut_ptr().cast());
            let log = CStr::from_bytes_until_nul(&log)
                .map(|c| c.to_string_lossy().trim().to_string())
                .unwrap_or_default();
            let result = if rc != 0 {
                Err(format!("{name} ({arch}): {}\n{log}", self.error(rc)))
            } else {
                let mut n = 0usize;
                ptx_size(program, &mut n);
                let mut ptx = vec![0u8; n.max(1)];
                get_ptx(program, ptx.as_mut_ptr().cast());
                let ptx = CStr::from_bytes_until_nul(&ptx)
                    .map(|c| c.to_string_lossy().into_owned())
                    .unwrap_or_default();
                Ok(Compiled { ptx, log })
            };
            destroy(&mut program);
            result
        }
    }
}
