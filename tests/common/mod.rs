//! Helpers shared by the end-to-end tests: where the shared media is, the built binaries.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// `../shared/data` beside the checkout (or `$REDACT_SHARED/data`); `None`, with a message,
/// when it is absent so the test can skip.
pub fn shared_data() -> Option<PathBuf> {
    let dir = std::env::var_os("REDACT_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared")))
        .join("data");
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!(
            "SKIPPED: {} is absent (the shared test media); nothing to test on",
            dir.display()
        );
        None
    }
}

pub fn redact(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_redact"))
        .args(args)
        .output()
        .expect("the redact binary runs")
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A fresh, empty temporary folder for one test.
pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("redact-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The folder cargo builds into for this test's profile (target/release or target/debug).
pub fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().and_then(Path::parent).unwrap().to_path_buf()
}

/// Builds the plugin's shared library (`cargo test` builds only its rlib) and returns the
/// folder to put in GST_PLUGIN_PATH.
pub fn plugin_dir() -> PathBuf {
    let dir = profile_dir();
    let mut cmd = Command::new(env!("CARGO"));
    cmd.args(["build", "-p", "gst-plugin-redact", "--lib"])
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    if dir.file_name().is_some_and(|n| n == "release") {
        cmd.arg("--release");
    }
    let out = cmd.output().expect("cargo runs");
    assert!(
        out.status.success(),
        "building the plugin failed: {}",
        stderr(&out)
    );
    assert!(
        dir.join("libgstredact.so").is_file(),
        "no libgstredact.so in {}",
        dir.display()
    );
    dir
}
