//! `redact detect` as a user runs it: real video, folders, bad input; and the plugin as
//! gst-inspect-1.0 and gst-launch-1.0 see it.

mod common;

use std::path::Path;
use std::process::Command;

use common::{redact, stderr, temp_dir};
use redact::detections::{DetectionRecord, DetectionsFile};

fn read_json(path: &Path) -> DetectionsFile {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

#[test]
fn video_gives_every_frame() {
    let Some(data) = common::shared_data() else {
        return;
    };
    let dir = temp_dir("video");
    let out = dir.join("hamilton.json");
    let run = redact(&[
        "detect",
        data.join("video/short_hamilton_clip.mp4").to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(run.status.success(), "{}", stderr(&run));
    let summary = String::from_utf8_lossy(&run.stdout);
    println!("{summary}");
    assert!(summary.contains("275 frame(s)"), "{summary}");

    let d = read_json(&out);
    assert_eq!(
        (d.version, d.width, d.height, d.frame_count),
        (1, 640, 360, 275)
    );
    assert_eq!(d.source, "short_hamilton_clip.mp4");
    assert!((d.fps.unwrap() - 29.97).abs() < 0.01);
    assert_eq!(d.frames.len(), 275);
    for (i, f) in d.frames.iter().enumerate() {
        assert_eq!(f.index, i as u64);
        if i > 0 {
            assert!(
                f.pts.unwrap() > d.frames[i - 1].pts.unwrap(),
                "pts increase"
            );
        }
        for det in &f.detections {
            assert!(
                [
                    "detected",
                    "predicted",
                    "interpolated",
                    "backfilled",
                    "verified"
                ]
                .contains(&det.origin.as_str()),
                "{}",
                det.origin
            );
            if !["detected", "verified"].contains(&det.origin.as_str()) {
                assert!(
                    det.track_id.is_some(),
                    "a box made by the tracker belongs to a track"
                );
            }
            assert!(det.score > 0.0 && det.score <= 1.0);
            let [x, y, w, h] = det.bbox;
            assert!(
                x >= 0.0 && y >= 0.0 && w >= 1.0 && h >= 1.0 && x + w <= 640.0 && y + h <= 360.0,
                "{:?}",
                det.bbox
            );
            match det.class.as_str() {
                "face" => assert!(det.landmarks.len() == 5 || det.origin != "detected"),
                "license-plate" => assert!(det.landmarks.len() == 4 || det.origin != "detected"),
                other => panic!("unexpected class {other}"),
            }
        }
    }
    // The video starts 0.852 s after its audio: timestamps keep that offset.
    assert!(
        (d.frames[0].pts.unwrap() - 0.852).abs() < 0.01,
        "first pts {:?}",
        d.frames[0].pts
    );
    // Faces are on stage in nearly every frame (measured: 265 of 275 frames).
    let with_faces = d
        .frames
        .iter()
        .filter(|f| f.detections.iter().any(|x| x.class == "face"))
        .count();
    assert!(with_faces >= 250, "faces on {with_faces} of 275 frames");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn folder_output_mirrors_the_tree() {
    let Some(data) = common::shared_data() else {
        return;
    };
    let dir = temp_dir("folder");
    let input = dir.join("in");
    std::fs::create_dir_all(input.join("a/b")).unwrap();
    std::fs::copy(
        data.join("faces-dlib/2008_002470.jpg"),
        input.join("a/b/group.jpg"),
    )
    .unwrap();
    std::fs::copy(
        data.join("faces-crowd/images/maksssksksss0.png"),
        input.join("street.PNG"),
    )
    .unwrap();
    std::fs::write(input.join("notes.txt"), "not media").unwrap();
    let out = dir.join("out");
    let run = redact(&[
        "detect",
        input.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(run.status.success(), "{}", stderr(&run));
    assert!(
        stderr(&run).contains("notes.txt"),
        "the skipped file is named: {}",
        stderr(&run)
    );
    let group = read_json(&out.join("a/b/group.jpg.json"));
    assert_eq!(
        (group.width, group.height, group.frame_count, group.fps),
        (500, 332, 1, None)
    );
    let first_pass = group.frames[0]
        .detections
        .iter()
        .filter(|d| d.class == "face" && d.origin != "verified")
        .count();
    assert_eq!(first_pass, 6, "six faces in the group photo");
    assert!(group.count("face") >= 6);
    let street = read_json(&out.join("street.PNG.json"));
    assert!(
        street.count("face") >= 3,
        "three annotated faces in the street photo"
    );
    assert!(!out.join("notes.txt.json").exists());
    std::fs::remove_dir_all(dir).unwrap();
}

/// Runs `redact detect` expecting failure; returns stderr. No output may appear.
fn fails(args: &[&str], out: &Path) -> String {
    let run = redact(args);
    let err = stderr(&run);
    assert!(!run.status.success(), "expected failure for {args:?}");
    assert!(!err.contains("panicked"), "no panic: {err}");
    assert!(!out.exists(), "no output left behind for {args:?}");
    err
}

#[test]
fn bad_input_is_a_clear_error() {
    let Some(data) = common::shared_data() else {
        return;
    };
    let dir = temp_dir("bad");
    let out = dir.join("out.json");
    let o = out.to_str().unwrap();

    let text = dir.join("notes.mp4");
    std::fs::write(&text, "this is a text file, not a video\n").unwrap();
    let err = fails(&["detect", text.to_str().unwrap(), "-o", o], &out);
    assert!(err.contains("not an image or video"), "{err}");

    // Truncated in the middle (the index is at the end): no playable stream.
    let video = std::fs::read(data.join("video/short_hamilton_clip.mp4")).unwrap();
    let truncated = dir.join("truncated.mp4");
    std::fs::write(&truncated, &video[..300_000]).unwrap();
    let err = fails(&["detect", truncated.to_str().unwrap(), "-o", o], &out);
    assert!(err.contains("damaged or truncated"), "{err}");

    // Index intact, coded frames garbled: decoding fails instead of skipping frames.
    let mut garbled = video.clone();
    for i in (100_000..500_000).step_by(3) {
        garbled[i] = garbled[i].wrapping_mul(31).wrapping_add(7);
    }
    let corrupt = dir.join("corrupt.mp4");
    std::fs::write(&corrupt, &garbled).unwrap();
    let err = fails(&["detect", corrupt.to_str().unwrap(), "-o", o], &out);
    assert!(err.contains("damaged"), "{err}");

    let image = data.join("faces-dlib/2008_002470.jpg");
    let image = image.to_str().unwrap();
    let err = fails(
        &[
            "detect",
            image,
            "-o",
            o,
            "--face-model",
            "/nonexistent/yunet_custom.onnx",
        ],
        &out,
    );
    assert!(
        err.contains("/nonexistent/yunet_custom.onnx") && err.contains("not found"),
        "{err}"
    );
    let err = fails(
        &["detect", image, "-o", o, "--face-model", "retinaface"],
        &out,
    );
    assert!(err.contains("unknown model 'retinaface'"), "{err}");
    let err = fails(
        &["detect", image, "-o", o, "--plate-model", "yunet-s"],
        &out,
    );
    assert!(err.contains("not license-plate"), "{err}");

    // Models not installed: the error names where it looked and the install command.
    let empty = dir.join("empty-cache");
    std::fs::create_dir_all(&empty).unwrap();
    let run = Command::new(env!("CARGO_BIN_EXE_redact"))
        .args(["detect", image, "-o", o])
        .env("REDACT_CACHE", &empty)
        .env(
            "REDACT_ORT_LIB",
            redact_models::cache_dir().join("onnxruntime/libonnxruntime.so.1.32.0"),
        )
        .output()
        .unwrap();
    assert!(!run.status.success());
    let err = stderr(&run);
    assert!(
        err.contains("not installed")
            && err.contains(empty.to_str().unwrap())
            && err.contains("models/install"),
        "{err}"
    );
    assert!(!out.exists());

    // Models present, runtime missing: the error names the places searched and the command.
    let run = Command::new(env!("CARGO_BIN_EXE_redact"))
        .args(["detect", image, "-o", o])
        .env("REDACT_CACHE", &empty)
        .env(
            "REDACT_MODEL_DIR",
            redact_models::cache_dir().join("models"),
        )
        .env_remove("REDACT_ORT_LIB")
        .env_remove("ORT_DYLIB_PATH")
        .output()
        .unwrap();
    assert!(!run.status.success());
    let err = stderr(&run);
    assert!(
        err.contains("ONNX Runtime library not found")
            && err.contains(empty.to_str().unwrap())
            && err.contains("models/install"),
        "{err}"
    );
    assert!(!out.exists());

    for bad in [
        ["--face-threshold", "2"],
        ["--interval", "0"],
        ["--face-input-scale", "abc"],
    ] {
        let mut args = vec!["detect", image, "-o", o];
        args.extend(bad);
        let run = redact(&args);
        assert_eq!(
            run.status.code(),
            Some(2),
            "bad option {bad:?} is a usage error"
        );
        assert!(stderr(&run).contains(bad[0]), "{}", stderr(&run));
    }
    let err = fails(&["detect", "/nonexistent/video.mp4", "-o", o], &out);
    assert!(err.contains("no such file"), "{err}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn gst_inspect_lists_every_property_with_its_default() {
    let plugins = common::plugin_dir();
    let run = Command::new("gst-inspect-1.0")
        .arg("redactdetect")
        .env("GST_PLUGIN_PATH", &plugins)
        .output()
        .expect("gst-inspect-1.0 is installed (./setup)");
    let text = String::from_utf8_lossy(&run.stdout);
    assert!(run.status.success(), "{text}{}", stderr(&run));
    for (property, default) in [
        ("classes", "\"license-plate+face\""),
        ("face-threshold", "Default:             0.3"),
        ("plate-threshold", "Default:             0.2"),
        ("face-model", "Default: \"yunet-n\""),
        ("plate-model", "Default: \"hyperlpr3-640\""),
        ("model-dir", "Default: null"),
        ("face-input-size", "Default: 0"),
        ("face-input-scale", "Default:               2"),
        ("face-extra-scale", "Default:               1"),
        ("interval", "Default: 1"),
        ("workers", "Default: 0"),
        ("threads", "Default: 0"),
        ("verify", "Default: false"),
        ("stats", "readable"),
    ] {
        let start = text
            .find(&format!("  {property} "))
            .unwrap_or_else(|| panic!("{property} not listed:\n{text}"));
        let block: String = text[start..].lines().take(6).collect::<Vec<_>>().join("\n");
        assert!(
            block.contains(default),
            "{property}: expected {default} in\n{block}"
        );
    }
    for format in [
        "I420", "NV12", "RGB", "BGR", "RGBA", "BGRA", "RGBx", "BGRx", "GRAY8",
    ] {
        assert!(
            text.contains(&format!("(string){format}")),
            "caps list {format}"
        );
    }
}

#[test]
fn gst_inspect_shows_both_memory_kinds_and_the_device_property() {
    // Also proves that the plugin loads and registers every element on a machine without
    // CUDA (this one, in CI).
    let plugins = common::plugin_dir();
    for element in ["redactdetect", "redacttrack", "redactmask"] {
        let run = Command::new("gst-inspect-1.0")
            .arg(element)
            .env("GST_PLUGIN_PATH", &plugins)
            .output()
            .expect("gst-inspect-1.0 is installed (./setup)");
        let text = String::from_utf8_lossy(&run.stdout);
        assert!(run.status.success(), "{element}: {text}{}", stderr(&run));
        let templates = &text[text.find("Pad Templates:").expect("templates")..];
        for pad in ["SINK template: 'sink'", "SRC template: 'src'"] {
            let start = templates
                .find(pad)
                .unwrap_or_else(|| panic!("{element}: {pad}"));
            let block = &templates[start + pad.len()..];
            let block = &block[..block.find(" template: ").unwrap_or(block.len())];
            assert!(
                block.contains("      video/x-raw\n"),
                "{element} {pad}: system memory caps:\n{block}"
            );
            assert!(
                block.contains("video/x-raw(memory:CUDAMemory)"),
                "{element} {pad}: CUDA memory caps:\n{block}"
            );
        }
        let start = text
            .find("  device ")
            .unwrap_or_else(|| panic!("{element}: no device property:\n{text}"));
        let block: String = text[start..].lines().take(8).collect::<Vec<_>>().join("\n");
        for value in ["Default: 0, \"auto\"", "(1): cpu", "(2): cuda"] {
            assert!(block.contains(value), "{element}: {value} in\n{block}");
        }
    }
}

#[test]
fn gst_launch_with_a_bad_model_fails_clearly() {
    let Some(data) = common::shared_data() else {
        return;
    };
    let plugins = common::plugin_dir();
    let run = Command::new("gst-launch-1.0")
        .args([
            "filesrc",
            &format!(
                "location={}",
                data.join("faces-dlib/2008_002470.jpg").display()
            ),
            "!",
            "decodebin",
            "!",
            "redactdetect",
            "face-model=nosuchmodel",
            "!",
            "fakesink",
        ])
        .env("GST_PLUGIN_PATH", &plugins)
        .output()
        .unwrap();
    let all = format!("{}{}", String::from_utf8_lossy(&run.stdout), stderr(&run));
    assert!(!run.status.success(), "{all}");
    assert!(all.contains("unknown model 'nosuchmodel'"), "{all}");
}

/// `redact detect PHOTO -o OUT --threads 1 EXTRA...`: the photo's detections.
fn detect_photo(photo: &Path, out: &Path, extra: &[&str]) -> Vec<DetectionRecord> {
    let mut args = vec![
        "detect",
        photo.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--threads",
        "1",
    ];
    args.extend(extra);
    let run = redact(&args);
    assert!(run.status.success(), "{}", stderr(&run));
    read_json(out).frames.remove(0).detections
}

/// A record's `[x, y, w, h]` as the elements' box.
fn bbox(b: [f64; 4]) -> redact_elements::algo::detection::BBox {
    let [x, y, w, h] = b.map(|v| v as f32);
    redact_elements::algo::detection::BBox::new(x, y, w, h)
}

/// The verification pass (on by default) keeps every region of the first pass and adds
/// only faces they do not cover, marked `verified`.
#[test]
fn verification_adds_only_uncovered_faces() {
    let Some(data) = common::shared_data() else {
        return;
    };
    let dir = temp_dir("detect-verify");
    let photo = data.join("faces-dlib/2008_002470.jpg");
    let detect = |name: &str, extra: &[&str]| detect_photo(&photo, &dir.join(name), extra);
    let plain = detect("plain.json", &["--no-verify"]);
    let verified = detect("verified.json", &[]);
    let (first, added): (Vec<_>, Vec<_>) = verified.iter().partition(|d| d.origin != "verified");
    assert_eq!(first.len(), plain.len(), "the first pass is unchanged");
    for (a, b) in first.iter().zip(&plain) {
        assert_eq!((&a.class, a.bbox), (&b.class, b.bbox));
    }
    assert!(!added.is_empty(), "CenterFace adds a face here");
    for d in &added {
        assert_eq!(d.class, "face");
        // Not (nearly) wholly inside a first-pass region.
        let b = bbox(d.bbox);
        for f in &first {
            assert!(
                b.intersection_area(&bbox(f.bbox)) < 0.9 * b.area(),
                "{d:?} inside {f:?}"
            );
        }
    }
    std::fs::remove_dir_all(dir).unwrap();
}

/// The second face pass (the frame at its own size, on by default) finds a face the
/// upscaled first pass finds only in part (cut by the photo's edge), and its finds are
/// merged with the first pass's: nothing is lost, no face gets two boxes.
#[test]
fn the_second_face_scale_adds_what_the_first_misses() {
    let Some(data) = common::shared_data() else {
        return;
    };
    let dir = temp_dir("detect-extra-scale");
    let photo = data.join("faces-crowd/images/maksssksksss843.png");
    let detect = |name: &str, extra: &[&str]| {
        let mut args = vec!["--no-verify", "--no-plates"];
        args.extend(extra);
        detect_photo(&photo, &dir.join(name), &args)
    };
    let one = detect("one.json", &["--face-extra-scale", "0"]);
    let two = detect("two.json", &[]);
    // The annotated face at the left edge (gt.json: [1, 132, 58, 83]).
    let edge = redact_elements::algo::detection::BBox::new(1.0, 132.0, 58.0, 83.0);
    let found = |ds: &[DetectionRecord]| ds.iter().any(|d| bbox(d.bbox).iou(&edge) >= 0.5);
    assert!(
        !found(&one),
        "one pass finds the edge face only in part: {one:?}"
    );
    assert!(found(&two), "the second scale finds it: {two:?}");
    for d in &one {
        assert!(
            two.iter().any(|e| bbox(e.bbox).iou(&bbox(d.bbox)) > 0.3),
            "{d:?} of the first pass kept"
        );
    }
    for (i, a) in two.iter().enumerate() {
        for b in &two[i + 1..] {
            assert!(
                bbox(a.bbox).iou(&bbox(b.bbox)) <= 0.3,
                "{a:?} and {b:?}: one face twice"
            );
        }
    }
    std::fs::remove_dir_all(dir).unwrap();
}
