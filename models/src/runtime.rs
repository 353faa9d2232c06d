//! Loading the ONNX Runtime shared library (once per process) and creating sessions.
//!
//! Sessions are kept in a small per-process pool keyed by model file and thread count, so
//! that a launcher that builds one pipeline per file does not pay for graph optimisation on
//! every file.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

pub use ort;
use ort::session::Session;
use ort::session::builder::GraphOptimizationLevel;

use crate::{INSTALL_COMMAND, cache_dir};

const ORT_FILE: &str = "libonnxruntime.so.1.32.0";
/// ONNX Runtime's CUDA 13 build (`models/install --gpu`, PyPI `onnxruntime-gpu`): the
/// newest release with a CUDA build. Preferred when installed: it runs the CPU provider
/// as well, and adds the CUDA one.
pub const ORT_GPU_VERSION: &str = "1.31.1";
const POOL_LIMIT_PER_KEY: usize = 4;

#[derive(Debug, Clone, PartialEq)]
pub enum RuntimeError {
    /// No ONNX Runtime library in any searched place.
    NotFound { tried: Vec<PathBuf> },
    /// A library was found but could not be loaded.
    Load { path: PathBuf, reason: String },
    /// The model file could not be turned into a session.
    Session { path: PathBuf, reason: String },
    /// ONNX Runtime's CUDA execution provider could not be registered.
    CudaProvider { reason: String },
}

impl fmt::Display for RuntimeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RuntimeError::NotFound { tried } => write!(
                f,
                "ONNX Runtime library not found (looked for {}); run {INSTALL_COMMAND} or set REDACT_ORT_LIB to the path of libonnxruntime.so",
                tried
                    .iter()
                    .map(|p| format!("'{}'", p.display()))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            RuntimeError::Load { path, reason } => write!(
                f,
                "could not load ONNX Runtime from '{}': {reason}; run {INSTALL_COMMAND} to install version 1.32.0",
                path.display()
            ),
            RuntimeError::Session { path, reason } => write!(
                f,
                "could not load model '{}' into ONNX Runtime: {reason}; reinstall it with {INSTALL_COMMAND}",
                path.display()
            ),
            RuntimeError::CudaProvider { reason } => write!(
                f,
                "ONNX Runtime's CUDA execution provider cannot be used: {reason}; install ONNX Runtime's GPU build with `{INSTALL_COMMAND} --gpu` (it needs an NVIDIA driver for CUDA 13)"
            ),
        }
    }
}

impl std::error::Error for RuntimeError {}

/// Places searched for the runtime library, in order.
pub fn runtime_search_path() -> Vec<PathBuf> {
    let mut paths = Vec::new();
    for var in ["REDACT_ORT_LIB", "ORT_DYLIB_PATH"] {
        if let Some(p) = std::env::var_os(var).filter(|p| !p.is_empty()) {
            paths.push(PathBuf::from(p));
        }
    }
    paths.push(
        cache_dir()
            .join("onnxruntime-gpu")
            .join(format!("libonnxruntime.so.{ORT_GPU_VERSION}")),
    );
    paths.push(cache_dir().join("onnxruntime").join(ORT_FILE));
    for dir in ["/usr/local/lib", "/usr/lib/x86_64-linux-gnu", "/usr/lib"] {
        paths.push(Path::new(dir).join("libonnxruntime.so"));
    }
    paths
}

static RUNTIME: OnceLock<Result<ort::environment::Environment, RuntimeError>> = OnceLock::new();

/// Loads ONNX Runtime once for the process. Later calls return the first call's outcome.
pub fn ensure_runtime() -> Result<(), RuntimeError> {
    environment().map(|_| ())
}

fn environment() -> Result<&'static ort::environment::Environment, RuntimeError> {
    let outcome =
        RUNTIME.get_or_init(|| {
            let tried = runtime_search_path();
            let path = tried.iter().find(|p| p.is_file()).cloned().ok_or_else(|| {
                RuntimeError::NotFound {
                    tried: tried.clone(),
                }
            })?;
            if let Some(dir) = path.parent() {
                preload_cuda_libraries(&dir.join("cuda"));
            }
            let builder = ort::init_from(&path).map_err(|e| RuntimeError::Load {
                path: path.clone(),
                reason: e.to_string(),
            })?;
            builder
                .with_name("gst-redact")
                .build()
                .map_err(|e| RuntimeError::Load {
                    path: path.clone(),
                    reason: e.to_string(),
                })
        });
    outcome.as_ref().map_err(Clone::clone)
}

/// Loads the CUDA libraries that `models/install --gpu` put beside ONNX Runtime's CUDA
/// build (`cuda/`), so that its CUDA provider finds them without a library path: once a
/// library with a soname is loaded, the dynamic linker reuses it. Dependencies among them
/// are met by loading in rounds until none more loads; what does not load (e.g. on a
/// machine without the driver) is left for the provider's registration to report.
fn preload_cuda_libraries(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut pending: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
    pending.sort();
    loop {
        let before = pending.len();
        pending.retain(|lib| {
            // SAFETY: libraries from the sha256-checked NVIDIA wheels; RTLD_GLOBAL so the
            // provider's own dlopen of them by soname finds them.
            match unsafe {
                libloading::os::unix::Library::open(
                    Some(lib),
                    libloading::os::unix::RTLD_NOW | libloading::os::unix::RTLD_GLOBAL,
                )
            } {
                Ok(loaded) => {
                    // Kept for the life of the process.
                    std::mem::forget(loaded);
                    false
                }
                Err(_) => true,
            }
        });
        if pending.is_empty() || pending.len() == before {
            break;
        }
    }
}

/// How a session is built. `threads` = 0 lets ONNX Runtime pick (one per core).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SessionOptions {
    pub threads: usize,
    /// Run on the GPU with ONNX Runtime's CUDA execution provider; registration failing is
    /// an error (the caller decides, and says, whether to fall back to the CPU).
    pub cuda: Option<CudaProvider>,
}

/// The CUDA execution provider's settings: the device, and the stream it computes on (the
/// caller's, so that its own kernels and the model run in order with no device-wide wait).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CudaProvider {
    pub device: i32,
    /// A `CUstream`, as an address; 0: ONNX Runtime's own stream.
    pub stream: usize,
}

type PoolKey = (PathBuf, SessionOptions);

fn pool() -> &'static Mutex<HashMap<PoolKey, Vec<Session>>> {
    static POOL: OnceLock<Mutex<HashMap<PoolKey, Vec<Session>>>> = OnceLock::new();
    POOL.get_or_init(Default::default)
}

/// A session for the model at `path`: a pooled one if a previous user released it.
pub fn load_session(path: &Path, options: SessionOptions) -> Result<Session, RuntimeError> {
    let env = environment()?;
    let key = (path.to_path_buf(), options);
    if let Some(session) = pool()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get_mut(&key)
        .and_then(Vec::pop)
    {
        return Ok(session);
    }
    let fail = |e: &dyn fmt::Display| RuntimeError::Session {
        path: path.to_path_buf(),
        reason: e.to_string(),
    };
    let mut builder = Session::builder(env)
        .map_err(|e| fail(&e))?
        .with_optimization_level(GraphOptimizationLevel::All)
        .map_err(|e| fail(&e))?;
    if options.threads > 0 {
        builder = builder
            .with_intra_threads(options.threads)
            .map_err(|e| fail(&e))?;
    }
    builder = builder.with_inter_threads(1).map_err(|e| fail(&e))?;
    if let Some(cuda) = options.cuda {
        use ort::ep::ExecutionProvider as _;
        // SAFETY: the stream is a live CUstream of the caller's, who keeps it for as long as
        // the session (the pool key holds its address, so a session never meets another).
        // cuDNN's heuristic choice of convolution algorithm: the default, an exhaustive
        // benchmark of every algorithm, runs again for every new input shape (each photo of
        // another size), which took about a second per image on the H100.
        let mut provider = ort::ep::CUDA::default()
            .with_device_id(cuda.device)
            .with_conv_algorithm_search(ort::ep::cuda::ConvAlgorithmSearch::Heuristic);
        if cuda.stream != 0 {
            provider = unsafe { provider.with_compute_stream(cuda.stream as *mut ()) };
        }
        provider
            .register(&mut builder)
            .map_err(|e| RuntimeError::CudaProvider {
                reason: e.to_string(),
            })?;
    }
    builder.commit_from_file(path).map_err(|e| fail(&e))
}

/// Hands a session back for reuse by the next `load_session` of the same model and options.
pub fn release_session(path: &Path, options: SessionOptions, session: Session) {
    // A CUDA session computes on its owner's stream, which goes with the owner.
    if options.cuda.is_some() {
        return;
    }
    let mut pool = pool().lock().unwrap_or_else(|e| e.into_inner());
    let sessions = pool.entry((path.to_path_buf(), options)).or_default();
    if sessions.len() < POOL_LIMIT_PER_KEY {
        sessions.push(session);
    }
}
