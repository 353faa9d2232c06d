//! The scripts in examples/ run exactly as written and make what they say.

mod common;

use std::path::Path;
use std::process::Command;

use common::{stderr, temp_dir};

fn run_example(script: &str, args: &[&Path], env: &[(&str, &Path)]) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    // The scripts use the plugin from target/release.
    common::plugin_dir();
    let mut cmd = Command::new(root.join("examples").join(script));
    cmd.args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("the example runs");
    assert!(
        out.status.success(),
        "{script}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        stderr(&out)
    );
}

fn detections(path: &Path) -> redact::detections::DetectionsFile {
    common::plain_faces(path)
}

#[test]
fn gst_launch_examples() {
    let Some(data) = common::shared_data() else {
        return;
    };
    if !common::profile_dir().ends_with("release") {
        eprintln!("SKIPPED: the examples use target/release; run the tests with --release");
        return;
    }
    let dir = temp_dir("examples");
    let clip = data.join("video/short_hamilton_clip.mp4");

    let video = dir.join("redacted.mp4");
    run_example("redact-video.sh", &[&clip, &video], &[]);
    let d = detections(&video);
    assert_eq!(d.frame_count, 275);
    assert!(
        d.count("face") < 100,
        "faces masked: {} found after",
        d.count("face")
    );
    assert_eq!(
        common::audio_packets(&clip),
        common::audio_packets(&video),
        "audio copied as it is"
    );

    let review = dir.join("review.mp4");
    run_example("review-outline.sh", &[&clip, &review], &[]);
    assert_eq!(detections(&review).frame_count, 275);

    let tracked = dir.join("tracked.mp4");
    run_example("track-interval.sh", &[&clip, &tracked], &[]);
    let d = detections(&tracked);
    assert_eq!(d.frame_count, 275);
    assert!(
        d.count("face") < 100,
        "faces masked with interval 3: {} found after",
        d.count("face")
    );

    let photo = data.join("faces-dlib/2008_002470.jpg");
    let image = dir.join("redacted.jpg");
    run_example("redact-image.sh", &[&photo, &image], &[]);
    assert_eq!(detections(&image).count("face"), 0);

    let verified = dir.join("verified.jpg");
    run_example("verify.sh", &[&photo, &verified], &[]);
    assert_eq!(detections(&verified).count("face"), 0);

    let out = dir.join("launcher");
    run_example("launcher.sh", &[], &[("OUT_DIR", &out)]);
    assert!(
        out.join("hamilton.redacted.mp4").is_file() && out.join("group.redacted.jpg").is_file()
    );
    assert!(out.join("faces-dlib.redacted/2008_002470.jpg").is_file());
    std::fs::remove_dir_all(dir).unwrap();
}
