// SPDX-License-Identifier: MIT OR Apache-2.0
//! The kernels of `kernels.cu`, loaded into one CUDA context and run on the engine's own
//! stream: masking regions of pitched planes, building a model's input tensor, and the
//! luma sample of the scene-cut detector. Each operation is the GPU twin of a CPU function
//! in `algo` and takes the same geometry from it (`PlaneWork`, `InputSpec::layout`), so the
//! two paths differ only in where the pixels are.
//!
//! Work is queued on the stream; call `synchronize` before the memory is handed on.

use std::ffi::{CString, c_void};

use cudarc::driver::result;
use cudarc::driver::sys;

use super::driver::{Context, CudaError, DeviceBuffer, check};
use crate::algo::frame::{PixelFormat, YuvMatrix, yuv_tables};
use crate::algo::mask::{
    MaskStyle, Method, PlaneLayout, PlaneWork, Region, RoundedDiv, plane_layouts,
};
use crate::algo::preprocess::{ChannelOrder, InputSpec, Mapping};

/// The PTX of `kernels.cu` per architecture, compiled by `build.rs` (empty when NVRTC was
/// not available to the build).
pub const PTX: [(&str, &str); 3] = [
    (
        "compute_75",
        include_str!(concat!(env!("OUT_DIR"), "/kernels_compute_75.ptx")),
    ),
    (
        "compute_80",
        include_str!(concat!(env!("OUT_DIR"), "/kernels_compute_80.ptx")),
    ),
    (
        "compute_90",
        include_str!(concat!(env!("OUT_DIR"), "/kernels_compute_90.ptx")),
    ),
];

/// Why the CUDA path cannot run on a build without kernels.
pub const NO_KERNELS: &str = "this build has no CUDA kernels: NVRTC was not found when it was built; run models/install, then build again";

/// Every kernel the engine launches (the test checks each is in the PTX).
pub const KERNELS: [&str; 9] = [
    "mask_load",
    "mask_fill",
    "mask_pixelate",
    "mask_box_h",
    "mask_box_v",
    "mask_blend",
    "mask_outline",
    "preprocess",
    "luma_sample",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kernel {
    MaskLoad,
    MaskFill,
    MaskPixelate,
    MaskBoxH,
    MaskBoxV,
    MaskBlend,
    MaskOutline,
    Preprocess,
    LumaSample,
}

/// Whether this build carries the kernels (`build.rs` found NVRTC).
pub fn kernels_built() -> bool {
    PTX.iter().all(|(_, ptx)| !ptx.is_empty())
}

/// The PTX for a device of compute capability `cc`: the newest architecture it runs.
fn ptx_for(cc: (i32, i32)) -> Result<&'static str, CudaError> {
    let version = cc.0 * 10 + cc.1;
    let (_, ptx) = PTX
        .iter()
        .rev()
        .find(|(arch, _)| {
            arch.trim_start_matches("compute_")
                .parse::<i32>()
                .is_ok_and(|a| a <= version)
        })
        .copied()
        .ok_or_else(|| {
            CudaError(format!(
                "this GPU (compute capability {}.{}) is older than the oldest the kernels are built for (7.5)",
                cc.0, cc.1
            ))
        })?;
    if !kernels_built() {
        return Err(CudaError(NO_KERNELS.into()));
    }
    Ok(ptx)
}

/// A frame in device memory: up to three pitched planes, in the layout of `format`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DeviceFrame {
    pub format: PixelFormat,
    pub width: usize,
    pub height: usize,
    pub planes: [u64; 3],
    pub pitches: [usize; 3],
    pub yuv: YuvMatrix,
}

/// The kernels' view of a frame (`struct Source` in kernels.cu, same layout).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
struct Source {
    p0: u64,
    p1: u64,
    p2: u64,
    pitch0: i32,
    pitch1: i32,
    pitch2: i32,
    format: i32,
    bpp: i32,
    r: i32,
    g: i32,
    b: i32,
    yuv: u64,
}

/// One kernel argument, kept alive until the launch has copied it.
enum Arg {
    I(i32),
    U(u64),
    F(f32),
    S(Source),
}

fn fill_args(fill: [Option<u8>; 4]) -> [Arg; 4] {
    fill.map(|f| Arg::I(f.map_or(-1, i32::from)))
}

fn grid(n: usize, block: u32) -> u32 {
    n.div_ceil(block as usize).max(1) as u32
}

pub struct Engine {
    ctx: Context,
    module: sys::CUmodule,
    functions: Vec<sys::CUfunction>,
    stream: sys::CUstream,
    /// Ping-pong buffers of u32 for the extent being masked.
    work: [Option<DeviceBuffer>; 2],
    /// YUV → RGB tables of the last matrix used.
    tables: Option<(YuvMatrix, DeviceBuffer)>,
    sample: Option<DeviceBuffer>,
}

// SAFETY: the module, functions and stream belong to `ctx`, which every call makes current.
unsafe impl Send for Engine {}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").field("ctx", &self.ctx).finish()
    }
}

impl Engine {
    /// Loads the kernels into `ctx` (the driver JIT-compiles the PTX for the device) and
    /// creates a stream that does not wait on the legacy default stream.
    pub fn new(ctx: Context) -> Result<Engine, CudaError> {
        let ptx = ptx_for(ctx.compute_capability()?)?;
        let _current = ctx.enter()?;
        let image = CString::new(ptx).map_err(|_| CudaError("PTX holds a NUL byte".into()))?;
        // SAFETY: a NUL-terminated PTX image.
        let module = unsafe { result::module::load_data(image.as_ptr().cast()) }.map_err(|e| {
            if e.0 == sys::CUresult::CUDA_ERROR_UNSUPPORTED_PTX_VERSION {
                CudaError(
                    "the NVIDIA driver is too old for the kernels' PTX (CUDA 12.9): update it to version 575 or newer".into(),
                )
            } else {
                check::<()>(Err(e), "loading the CUDA kernels").expect_err("an error")
            }
        })?;
        let mut functions = Vec::with_capacity(KERNELS.len());
        for name in KERNELS {
            // SAFETY: the module is loaded.
            let f = unsafe {
                result::module::get_function(module, CString::new(name).expect("no NUL"))
            };
            match check(f, &format!("kernel {name}")) {
                Ok(f) => functions.push(f),
                Err(e) => {
                    // SAFETY: loaded above, unloaded once.
                    unsafe { result::module::unload(module) }.ok();
                    return Err(e);
                }
            }
        }
        let stream = check(
            result::stream::create(result::stream::StreamKind::NonBlocking),
            "cuStreamCreate",
        )?;
        Ok(Engine {
            ctx,
            module,
            functions,
            stream,
            work: [None, None],
            tables: None,
            sample: None,
        })
    }

    pub fn context(&self) -> Context {
        self.ctx
    }

    /// The engine's stream, as an address (for ONNX Runtime's CUDA provider, which then
    /// computes in order with the engine's kernels).
    pub fn stream_address(&self) -> usize {
        self.stream as usize
    }

    /// Waits until everything queued on the engine's stream is done. Call it before the
    /// frame leaves the element: GStreamer 1.22's CUDA elements copy on the legacy stream
    /// and would not wait for ours.
    pub fn synchronize(&self) -> Result<(), CudaError> {
        let _current = self.ctx.enter()?;
        // SAFETY: our stream.
        check(
            unsafe { result::stream::synchronize(self.stream) },
            "cuStreamSynchronize",
        )
    }

    /// A device buffer holding `data`, copied on the engine's stream (so the kernels
    /// queued after it see it) and waited for. A plain synchronous copy is not enough: from
    /// pageable memory it returns once the data is staged, and on the H100 the transfer
    /// was seen landing after kernels of a non-blocking stream had run.
    pub fn upload(&self, data: &[u8]) -> Result<DeviceBuffer, CudaError> {
        let buf = DeviceBuffer::new(self.ctx, data.len())?;
        let _current = self.ctx.enter()?;
        // SAFETY: the buffer holds data.len() bytes; the copy is waited for below, while
        // `data` is borrowed.
        check(
            unsafe { result::memcpy_htod_async(buf.ptr(), data, self.stream) },
            "cuMemcpyHtoDAsync",
        )?;
        self.synchronize()?;
        Ok(buf)
    }

    /// Copies the first `out.len()` bytes of `buf` to the host, after the work queued on
    /// the engine's stream.
    pub fn download(&self, buf: &DeviceBuffer, out: &mut [u8]) -> Result<(), CudaError> {
        assert!(out.len() <= buf.len(), "download larger than the buffer");
        let _current = self.ctx.enter()?;
        // SAFETY: the buffer holds at least out.len() bytes; waited for below.
        check(
            unsafe { result::memcpy_dtoh_async(out, buf.ptr(), self.stream) },
            "cuMemcpyDtoHAsync",
        )?;
        self.synchronize()
    }

    /// `download` of `count` f32 values.
    pub fn download_f32(&self, buf: &DeviceBuffer, count: usize) -> Result<Vec<f32>, CudaError> {
        let mut bytes = vec![0u8; count * 4];
        self.download(buf, &mut bytes)?;
        Ok(bytes
            .chunks_exact(4)
            .map(|b| f32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
            .collect())
    }

    fn launch(
        &self,
        kernel: Kernel,
        grid: (u32, u32, u32),
        block: (u32, u32, u32),
        mut args: Vec<Arg>,
    ) -> Result<(), CudaError> {
        let mut params: Vec<*mut c_void> = args
            .iter_mut()
            .map(|a| match a {
                Arg::I(v) => v as *mut i32 as *mut c_void,
                Arg::U(v) => v as *mut u64 as *mut c_void,
                Arg::F(v) => v as *mut f32 as *mut c_void,
                Arg::S(v) => v as *mut Source as *mut c_void,
            })
            .collect();
        let f = self.functions[kernel as usize];
        // SAFETY: the arguments match the kernel's signature in kernels.cu and live until
        // cuLaunchKernel returns (it copies them); the caller has made the context current.
        // The kernel's name says what failed (no message is built when nothing does).
        check(
            unsafe { result::launch_kernel(f, grid, block, 0, self.stream, &mut params) },
            KERNELS[kernel as usize],
        )
    }

    /// A work buffer of at least `len` bytes.
    fn work_buffer(&mut self, i: usize, len: usize) -> Result<u64, CudaError> {
        if self.work[i].as_ref().is_none_or(|b| b.len() < len) {
            // Queued work may still read the old buffer.
            self.synchronize()?;
            self.work[i] = Some(DeviceBuffer::new(self.ctx, len.next_power_of_two())?);
        }
        Ok(self.work[i].as_ref().expect("just made").ptr())
    }

    fn tables(&mut self, yuv: YuvMatrix) -> Result<u64, CudaError> {
        if self.tables.as_ref().is_none_or(|(m, _)| *m != yuv) {
            self.synchronize()?;
            let bytes: Vec<u8> = yuv_tables(&yuv)
                .iter()
                .flat_map(|v| v.to_ne_bytes())
                .collect();
            self.tables = Some((yuv, self.upload(&bytes)?));
        }
        Ok(self.tables.as_ref().expect("just made").1.ptr())
    }

    fn source(&mut self, frame: &DeviceFrame) -> Result<Source, CudaError> {
        let tables = self.tables(frame.yuv)?;
        let (bpp, [r, g, b]) = frame.format.packed_layout().unwrap_or((1, [0, 0, 0]));
        let index = PixelFormat::ALL
            .iter()
            .position(|f| *f == frame.format)
            .expect("every format is listed") as i32;
        Ok(Source {
            p0: frame.planes[0],
            p1: frame.planes[1],
            p2: frame.planes[2],
            pitch0: frame.pitches[0] as i32,
            pitch1: frame.pitches[1] as i32,
            pitch2: frame.pitches[2] as i32,
            format: index,
            bpp: bpp as i32,
            r: r as i32,
            g: g as i32,
            b: b as i32,
            yuv: tables,
        })
    }

    /// Masks regions (frame pixels, already padded), one after the other, in every plane of
    /// `frame`, as `algo::mask::mask_region` does on the CPU.
    pub fn mask_regions(
        &mut self,
        frame: &DeviceFrame,
        regions: &[Region],
        style: &MaskStyle,
    ) -> Result<(), CudaError> {
        let layouts = plane_layouts(
            frame.format,
            frame.width,
            frame.height,
            style.color,
            frame.yuv,
        );
        let _current = self.ctx.enter()?;
        for region in regions {
            for (i, layout) in layouts.iter().enumerate() {
                let Some(work) = PlaneWork::new(layout, *region, style) else {
                    continue;
                };
                self.mask_plane(frame.planes[i], frame.pitches[i], layout, &work, style)?;
            }
        }
        Ok(())
    }

    fn mask_plane(
        &mut self,
        plane: u64,
        pitch: usize,
        layout: &PlaneLayout,
        work: &PlaneWork,
        style: &MaskStyle,
    ) -> Result<(), CudaError> {
        let c = layout.channels;
        let e = work.extent;
        let s = work.shape;
        let (ew, eh) = (e.w as i32, e.h as i32);
        let tile = (16, 16, 1);
        let over_extent = (grid(e.w, 16), grid(e.h, 16), 1);
        let geometry = || {
            vec![
                Arg::U(plane),
                Arg::I(pitch as i32),
                Arg::I(c as i32),
                Arg::I(e.x0 as i32),
                Arg::I(e.y0 as i32),
                Arg::I(ew),
                Arg::I(eh),
            ]
        };
        let shape = || {
            vec![
                Arg::F(s.x0),
                Arg::F(s.y0),
                Arg::F(s.x1),
                Arg::F(s.y1),
                Arg::I(s.ellipse as i32),
            ]
        };
        if let Method::Outline(width) = style.method {
            let mut args = geometry();
            args.extend(shape());
            args.push(Arg::F(work.outline_depth(layout, width)));
            args.extend(fill_args(layout.fill));
            return self.launch(Kernel::MaskOutline, over_extent, tile, args);
        }
        let bytes = e.w * e.h * c * 4;
        let a = self.work_buffer(0, bytes)?;
        let b = self.work_buffer(1, bytes)?;
        let mut load = geometry();
        load.push(Arg::U(a));
        self.launch(
            Kernel::MaskLoad,
            (grid(e.w * c, 16), grid(e.h, 16), 1),
            tile,
            load,
        )?;
        let (wi, hi, ci) = (Arg::I(ew), Arg::I(eh), Arg::I(c as i32));
        match style.method {
            Method::Fill => {
                let mut args = vec![Arg::U(a), wi, hi, ci];
                args.extend(fill_args(layout.fill));
                self.launch(Kernel::MaskFill, over_extent, tile, args)?;
            }
            Method::Pixelate(block) => {
                let p = work.pixel_blocks(layout, block);
                let nx = (e.w as isize - p.first_x).max(0) as usize;
                let ny = (e.h as isize - p.first_y).max(0) as usize;
                self.launch(
                    Kernel::MaskPixelate,
                    (
                        grid(nx.div_ceil(p.width), 8),
                        grid(ny.div_ceil(p.height), 8),
                        c as u32,
                    ),
                    (8, 8, 1),
                    vec![
                        Arg::U(a),
                        wi,
                        hi,
                        ci,
                        Arg::I(p.first_x as i32),
                        Arg::I(p.first_y as i32),
                        Arg::I(p.width as i32),
                        Arg::I(p.height as i32),
                    ],
                )?;
            }
            Method::Blur(strength) => {
                let (rx, ry) = work.blur_radii(layout, strength);
                for _ in 0..3 {
                    for (kernel, r, src, dst, lines) in [
                        (Kernel::MaskBoxH, rx, a, b, e.h * c),
                        (Kernel::MaskBoxV, ry, b, a, e.w * c),
                    ] {
                        let m = RoundedDiv::new(2 * r as u32 + 1).multiplier();
                        self.launch(
                            kernel,
                            (grid(lines, 128), 1, 1),
                            (128, 1, 1),
                            vec![
                                Arg::U(src),
                                Arg::U(dst),
                                Arg::I(ew),
                                Arg::I(eh),
                                Arg::I(c as i32),
                                Arg::I(r as i32),
                                Arg::U(m),
                            ],
                        )?;
                    }
                }
            }
            Method::Outline(_) => unreachable!("handled above"),
        }
        let mut args = geometry();
        args.push(Arg::U(a));
        args.extend(shape());
        args.push(Arg::F(work.feather));
        self.launch(Kernel::MaskBlend, over_extent, tile, args)
    }

    /// Writes the model input for `frame` into `out` (3 × H × W f32, planar), as
    /// `algo::preprocess::Preprocessor::fill_tensor` does on the CPU; returns how to map the
    /// model's coordinates back to the frame.
    pub fn preprocess(
        &mut self,
        frame: &DeviceFrame,
        spec: &InputSpec,
        out: &DeviceBuffer,
    ) -> Result<Mapping, CudaError> {
        let (w, h) = (spec.width, spec.height);
        if out.len() < 3 * w * h * 4 {
            return Err(CudaError(format!(
                "the input buffer holds {} bytes; a {w}x{h} input needs {}",
                out.len(),
                3 * w * h * 4
            )));
        }
        let (left, top, cw, ch, mapping) = spec.layout(frame.width, frame.height);
        let source = self.source(frame)?;
        let _current = self.ctx.enter()?;
        self.launch(
            Kernel::Preprocess,
            (grid(w, 16), grid(h, 16), 1),
            (16, 16, 1),
            vec![
                Arg::S(source),
                Arg::I(frame.width as i32),
                Arg::I(frame.height as i32),
                Arg::U(out.ptr()),
                Arg::I(w as i32),
                Arg::I(h as i32),
                Arg::I(left as i32),
                Arg::I(top as i32),
                Arg::I(cw as i32),
                Arg::I(ch as i32),
                Arg::F(mapping.scale_x),
                Arg::F(mapping.scale_y),
                Arg::I((spec.order == ChannelOrder::Bgr) as i32),
                Arg::F(spec.scale),
                Arg::F(spec.pad),
            ],
        )?;
        Ok(mapping)
    }

    /// The luma sample of `algo::scene::luma_sample` (every 4th pixel of every 8th row),
    /// computed on the device; only the sample comes back to the host. Synchronises.
    pub fn luma_sample(&mut self, frame: &DeviceFrame) -> Result<Vec<u8>, CudaError> {
        let (sw, sh) = (frame.width.div_ceil(4), frame.height.div_ceil(8));
        let source = self.source(frame)?;
        if self.sample.as_ref().is_none_or(|b| b.len() < sw * sh) {
            self.synchronize()?;
            self.sample = Some(DeviceBuffer::new(self.ctx, (sw * sh).next_power_of_two())?);
        }
        let out = self.sample.as_ref().expect("just made").ptr();
        {
            let _current = self.ctx.enter()?;
            self.launch(
                Kernel::LumaSample,
                (grid(sw, 16), grid(sh, 16), 1),
                (16, 16, 1),
                vec![
                    Arg::S(source),
                    Arg::I(frame.width as i32),
                    Arg::I(frame.height as i32),
                    Arg::U(out),
                    Arg::I(sw as i32),
                    Arg::I(sh as i32),
                ],
            )?;
        }
        let mut sample = vec![0u8; sw * sh];
        self.download(self.sample.as_ref().expect("just made"), &mut sample)?;
        Ok(sample)
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        self.work = [None, None];
        self.tables = None;
        self.sample = None;
        if let Ok(_current) = self.ctx.enter() {
            // SAFETY: created in `new` in this context, destroyed once.
            unsafe {
                result::stream::synchronize(self.stream).ok();
                result::stream::destroy(self.stream).ok();
                result::module::unload(self.module).ok();
            }
        }
    }
}
