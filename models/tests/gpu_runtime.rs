//! ONNX Runtime's CUDA build from `models/install --gpu`: its CUDA provider finds the CUDA,
//! cuBLAS, cuRAND and cuDNN libraries installed beside it, with no library path set. On a
//! machine with a GPU the provider registers; on one without, the only thing missing is the
//! driver (`libcuda.so.1`), which the provider asks for after the libraries it needs from
//! the cache. Skipped where the GPU runtime is not installed (CI installs the CPU one).

use redact_models::{CudaProvider, SessionOptions, cache_dir, load_session, resolve_model};

#[test]
fn the_cuda_provider_finds_its_libraries_in_the_cache() {
    let dir = cache_dir().join("onnxruntime-gpu");
    if !dir.join("VERSION").is_file() {
        eprintln!(
            "SKIPPED: {} is absent (models/install --gpu installs it)",
            dir.display()
        );
        return;
    }
    let model = resolve_model("yunet-n", None).expect("models/install ran");
    let result = load_session(
        &model.path,
        SessionOptions {
            threads: 1,
            cuda: Some(CudaProvider {
                device: 0,
                stream: 0,
            }),
        },
    );
    match result {
        Ok(_) => println!("the CUDA provider registered (a GPU is here)"),
        Err(e) => {
            let text = e.to_string();
            println!("{text}");
            for lib in ["libcudart", "libcublas", "libcurand", "libcudnn"] {
                assert!(!text.contains(lib), "{lib} was not found: {text}");
            }
            assert!(
                text.contains("libcuda.so.1") || text.contains("CUDA driver"),
                "the driver should be all that is missing: {text}"
            );
        }
    }
}
