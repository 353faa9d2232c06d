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

/// Runs a gst-launch-1.0 pipeline (to make test media); panics with its output on failure.
pub fn gst_launch(pipeline: &str) {
    let args: Vec<&str> = pipeline.split_whitespace().collect();
    let out = Command::new("gst-launch-1.0")
        .arg("-q")
        .args(&args)
        .output()
        .expect("gst-launch-1.0 is installed (./setup)");
    assert!(
        out.status.success(),
        "gst-launch-1.0 {pipeline}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        stderr(&out)
    );
}

/// Every buffer of the first audio stream of a file, as the demuxer gives it (compressed).
pub fn audio_packets(path: &Path) -> Vec<(Option<u64>, Vec<u8>)> {
    use gst::prelude::*;
    gst::init().unwrap();
    let pipeline = gst::parse::launch(&format!(
        "filesrc location=\"{}\" ! parsebin name=p p. ! audio/mpeg ! appsink name=a sync=false",
        path.display()
    ))
    .unwrap()
    .downcast::<gst::Pipeline>()
    .unwrap();
    let sink = pipeline
        .by_name("a")
        .unwrap()
        .downcast::<gst_app::AppSink>()
        .unwrap();
    pipeline.set_state(gst::State::Playing).unwrap();
    let mut packets = Vec::new();
    let bus = pipeline.bus().unwrap();
    // A file without audio never feeds the appsink: stop at the end of stream or an error.
    loop {
        if let Some(sample) = sink.try_pull_sample(gst::ClockTime::from_mseconds(100)) {
            let buffer = sample.buffer().unwrap();
            let map = buffer.map_readable().unwrap();
            packets.push((buffer.pts().map(|t| t.nseconds()), map.to_vec()));
            continue;
        }
        if sink.is_eos()
            || bus
                .pop_filtered(&[gst::MessageType::Error, gst::MessageType::Eos])
                .is_some()
        {
            break;
        }
    }
    pipeline.set_state(gst::State::Null).unwrap();
    packets
}

/// Files inside a ZIP, sorted.
pub fn zip_names(path: &Path) -> Vec<String> {
    let mut archive = zip::ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap();
    let mut names: Vec<String> = (0..archive.len())
        .map(|i| archive.by_index(i).unwrap().name().unwrap().to_string())
        .collect();
    names.sort();
    names
}

/// `redact ARGS` killed after `secs`: a hang fails the test instead of stalling it.
pub fn redact_within(secs: u32, args: &[&str]) -> Output {
    Command::new("timeout")
        .arg(secs.to_string())
        .arg(env!("CARGO_BIN_EXE_redact"))
        .args(args)
        .output()
        .unwrap()
}

/// `redact run INPUT -o OUTPUT EXTRA…` killed after `secs` ([`redact_within`]).
pub fn run_within(secs: u32, input: &Path, output: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "run",
        input.to_str().unwrap(),
        "-o",
        output.to_str().unwrap(),
    ];
    args.extend(extra);
    redact_within(secs, &args)
}

/// Runs ffmpeg quietly with `args`, writing `out` (test media from real footage).
pub fn ffmpeg(args: &[&str], out: &Path) {
    let run = Command::new("ffmpeg")
        .args(["-loglevel", "error", "-y"])
        .args(args)
        .arg(out)
        .output()
        .expect("ffmpeg is installed (./setup)");
    assert!(run.status.success(), "ffmpeg {args:?}: {}", stderr(&run));
}

/// What a re-detection pass sees on a file: the plain detector on every frame (no
/// tracking, no second model: CenterFace at 0.2 also takes blurred heads for faces), with
/// `extra` options (`--no-plates`, `--no-faces`), under a 300 s limit. It stays the
/// one-scale detector these tests' figures were set against (YuNet-n on the 2x frame):
/// the measuring instrument does not change with the defaults. With the second face scale
/// it also fires on a pixelated face (0.40, `redact-image.sh`) and on a guitar's logo in
/// the faces-dlib group photo (0.32-0.38).
pub fn redetect(path: &Path, extra: &[&str]) -> redact::detections::DetectionsFile {
    let json = path.with_extension("redetected.json");
    let mut args = vec![
        "detect",
        path.to_str().unwrap(),
        "-o",
        json.to_str().unwrap(),
        "--no-track",
        "--no-verify",
        "--face-extra-scale",
        "0",
    ];
    args.extend(extra);
    let run = redact_within(300, &args);
    assert!(run.status.success(), "{}", stderr(&run));
    let d = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    std::fs::remove_file(json).unwrap();
    d
}

/// The faces a re-detection pass ([`redetect`]) finds in a file.
pub fn plain_faces(path: &Path) -> redact::detections::DetectionsFile {
    redetect(path, &["--no-plates"])
}
