// SPDX-License-Identifier: MIT OR Apache-2.0
//! Compiles the CUDA kernels (src/cuda/kernels.cu) to PTX with NVRTC, ahead of time, so
//! that the plugin carries them and users need no CUDA toolkit. NVRTC comes from the PyPI
//! wheel that `models/install` unpacks into the cache; no GPU or driver is needed here.
//! Without NVRTC the crate still builds, with no kernels: the CUDA path then refuses to
//! start and says how to get them.

#[path = "src/cuda/nvrtc.rs"]
#[allow(dead_code)] // the version query is for the crate's test
mod nvrtc;

use std::path::{Path, PathBuf};

fn main() {
    println!("cargo:rerun-if-changed=src/cuda/kernels.cu");
    println!("cargo:rerun-if-changed=src/cuda/nvrtc.rs");
    println!("cargo:rerun-if-env-changed=REDACT_NVRTC");
    println!("cargo:rerun-if-env-changed=REDACT_CACHE");
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let root = manifest.parent().unwrap_or(&manifest);
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets it"));
    let library = nvrtc::library_path(root);
    println!("cargo:rerun-if-changed={}", library.display());
    let source = std::fs::read_to_string(manifest.join("src/cuda/kernels.cu"))
        .expect("src/cuda/kernels.cu is part of the crate");

    let compiler = if library.is_file() {
        match nvrtc::Nvrtc::load(&library) {
            Ok(c) => Some(c),
            Err(e) => {
                println!("cargo:warning={e}; the CUDA kernels are not built");
                None
            }
        }
    } else {
        println!(
            "cargo:warning=NVRTC not found at {}: the plugin is built without CUDA kernels (run models/install, then build again)",
            library.display()
        );
        None
    };
    for arch in nvrtc::ARCHITECTURES {
        let ptx = match &compiler {
            Some(c) => match c.compile(&source, "kernels.cu", arch) {
                Ok(compiled) => {
                    if !compiled.log.is_empty() {
                        println!(
                            "cargo:warning=NVRTC ({arch}): {}",
                            compiled.log.replace('\n', " | ")
                        );
                    }
                    compiled.ptx
                }
                Err(e) => panic!("the CUDA kernels do not compile: {e}"),
            },
            None => String::new(),
        };
        write(&out.join(format!("kernels_{arch}.ptx")), &ptx);
    }
}

/// Writes only when the content changed, so that an unchanged PTX does not rebuild the crate.
fn write(path: &Path, content: &str) {
    if std::fs::read_to_string(path).ok().as_deref() != Some(content) {
        std::fs::write(path, content).expect("OUT_DIR is writable");
    }
}
