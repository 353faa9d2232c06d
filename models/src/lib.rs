//! Where the detector models and the ONNX Runtime library live, and how to load them.
//!
//! One manifest per model (`models/manifests/*.toml`, compiled in) names its family, file,
//! class and checksum; `models/install` puts the files into the project's cache. Everything
//! here resolves names to files through one search order and explains what is missing.

mod manifest;
mod runtime;

pub use manifest::{Manifest, ManifestError};
pub use runtime::{
    CudaProvider, ORT_GPU_VERSION, RuntimeError, SessionOptions, ensure_runtime, load_session, ort,
    release_session,
};

use std::fmt;
use std::path::{Path, PathBuf};

/// The command that installs the runtime and every model (quoted in error messages).
pub const INSTALL_COMMAND: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/install");

const MANIFEST_SOURCES: &[&str] = &[
    include_str!("../manifests/yunet-s.toml"),
    include_str!("../manifests/yunet-n.toml"),
    include_str!("../manifests/hyperlpr3-640.toml"),
    include_str!("../manifests/hyperlpr3-320.toml"),
    include_str!("../manifests/centerface.toml"),
];

/// Every model the project knows by name, in manifest order.
pub fn catalog() -> Vec<Manifest> {
    MANIFEST_SOURCES
        .iter()
        .map(|src| Manifest::parse(src).expect("built-in manifests are valid (unit-tested)"))
        .collect()
}

/// The manifest of a model by name (`yunet-s`, `hyperlpr3-640`, ...).
pub fn manifest(name: &str) -> Option<Manifest> {
    catalog().into_iter().find(|m| m.name == name)
}

/// The cache that `models/install` fills: `$REDACT_CACHE`, else `.cache` in the project.
pub fn cache_dir() -> PathBuf {
    match std::env::var_os("REDACT_CACHE") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => {
            let models_crate = Path::new(env!("CARGO_MANIFEST_DIR"));
            models_crate.parent().unwrap_or(models_crate).join(".cache")
        }
    }
}

/// Folders searched for model files, in order: the explicit directory (element property),
/// `$REDACT_MODEL_DIR`, the project cache, then the system-wide folder.
pub fn model_search_path(explicit: Option<&Path>) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(dir) = explicit {
        dirs.push(dir.to_path_buf());
    }
    if let Some(dir) = std::env::var_os("REDACT_MODEL_DIR").filter(|d| !d.is_empty()) {
        dirs.push(PathBuf::from(dir));
    }
    dirs.push(cache_dir().join("models"));
    dirs.push(PathBuf::from("/usr/local/share/gst-redact/models"));
    dirs.push(PathBuf::from("/usr/share/gst-redact/models"));
    dirs
}

/// A model to load: its file and the manifest that says how to drive it.
#[derive(Debug, Clone)]
pub struct ResolvedModel {
    pub path: PathBuf,
    pub manifest: Manifest,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ModelError {
    /// The name is neither a known model nor a path to an `.onnx` file.
    UnknownModel { name: String, known: Vec<String> },
    /// A known model whose file is in none of the searched folders.
    NotInstalled { name: String, tried: Vec<PathBuf> },
    /// A path was given but nothing is there.
    MissingFile { path: PathBuf },
    /// A path was given but the family can't be told from it.
    UnknownFamily { path: PathBuf },
}

impl fmt::Display for ModelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ModelError::UnknownModel { name, known } => write!(
                f,
                "unknown model '{name}': use one of {} or a path to an .onnx file whose name contains its family (yunet, hyperlpr3, centerface)",
                known.join(", ")
            ),
            ModelError::NotInstalled { name, tried } => write!(
                f,
                "model '{name}' is not installed (looked in {}); run {INSTALL_COMMAND}",
                tried
                    .iter()
                    .map(|p| format!("'{}'", p.display()))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            ModelError::MissingFile { path } => {
                write!(
                    f,
                    "model file '{}' not found; check the path or run {INSTALL_COMMAND}",
                    path.display()
                )
            }
            ModelError::UnknownFamily { path } => write!(
                f,
                "cannot tell the model family of '{}': its file name must contain yunet, hyperlpr3 (or y5fu) or centerface",
                path.display()
            ),
        }
    }
}

impl std::error::Error for ModelError {}

/// Resolves a model given by name (searched in `model_search_path`) or by path to a file.
/// A path's manifest is taken from the known model of the same family (the file name says
/// which), with the model's own input size read when the session is created.
pub fn resolve_model(
    name_or_path: &str,
    model_dir: Option<&Path>,
) -> Result<ResolvedModel, ModelError> {
    if let Some(manifest) = manifest(name_or_path) {
        let dirs = model_search_path(model_dir);
        let tried: Vec<PathBuf> = dirs.iter().map(|d| d.join(&manifest.file)).collect();
        return match tried.iter().find(|p| p.is_file()) {
            Some(path) => Ok(ResolvedModel {
                path: path.clone(),
                manifest,
            }),
            None => Err(ModelError::NotInstalled {
                name: manifest.name,
                tried,
            }),
        };
    }
    let looks_like_path = name_or_path.ends_with(".onnx") || name_or_path.contains('/');
    if !looks_like_path {
        return Err(ModelError::UnknownModel {
            name: name_or_path.to_string(),
            known: catalog().into_iter().map(|m| m.name).collect(),
        });
    }
    let path = PathBuf::from(name_or_path);
    if !path.is_file() {
        return Err(ModelError::MissingFile { path });
    }
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    let family = if file_name.contains("yunet") {
        "yunet"
    } else if file_name.contains("hyperlpr3") || file_name.contains("y5fu") {
        "hyperlpr3"
    } else if file_name.contains("centerface") {
        "centerface"
    } else {
        return Err(ModelError::UnknownFamily { path });
    };
    let mut manifest = catalog()
        .into_iter()
        .find(|m| m.family == family)
        .expect("every family has a built-in model");
    manifest.name = file_name;
    manifest.file = path.to_string_lossy().into_owned();
    Ok(ResolvedModel { path, manifest })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_has_every_family() {
        let names: Vec<String> = catalog().into_iter().map(|m| m.name).collect();
        assert_eq!(
            names,
            [
                "yunet-s",
                "yunet-n",
                "hyperlpr3-640",
                "hyperlpr3-320",
                "centerface"
            ]
        );
        assert_eq!(manifest("hyperlpr3-320").unwrap().input_width, 320);
        assert_eq!(manifest("yunet-s").unwrap().class, "face");
    }

    #[test]
    fn unknown_name_lists_known_models() {
        let err = resolve_model("retinaface", None).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("unknown model 'retinaface'"), "{text}");
        assert!(text.contains("yunet-s"), "{text}");
    }

    #[test]
    fn missing_model_names_paths_and_install_command() {
        let dir = std::env::temp_dir().join("redact-models-empty-dir-test");
        std::fs::create_dir_all(&dir).unwrap();
        // SAFETY: tests in this crate do not read these variables concurrently.
        unsafe {
            std::env::set_var("REDACT_CACHE", &dir);
        }
        let err = resolve_model("yunet-s", Some(&dir)).unwrap_err();
        unsafe {
            std::env::remove_var("REDACT_CACHE");
        }
        let text = err.to_string();
        assert!(text.contains("yunet_s_dynamic.onnx"), "{text}");
        assert!(text.contains(&dir.display().to_string()), "{text}");
        assert!(text.contains("models/install"), "{text}");
    }

    #[test]
    fn missing_path_is_reported() {
        let err = resolve_model("/nonexistent/yunet.onnx", None).unwrap_err();
        assert_eq!(
            err,
            ModelError::MissingFile {
                path: "/nonexistent/yunet.onnx".into()
            }
        );
    }
}
