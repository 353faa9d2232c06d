//! `redact run` as a user runs it: the Hamilton clip (timing, audio, re-detection), images
//! (formats, metadata), ZIPs, folders, manual boxes, detections files, and bad input.

mod common;

use std::path::{Path, PathBuf};

use common::{gst_launch, redact, stderr, temp_dir};
use redact::detections::DetectionsFile;

/// What a re-detection pass sees (`common::redetect`).
fn detect(path: &Path, extra: &[&str]) -> DetectionsFile {
    common::redetect(path, extra)
}

fn iou(a: &[f64; 4], b: &[f64; 4]) -> f64 {
    redact::eval::iou(a, b)
}

fn no_leftovers(dir: &Path) {
    for e in std::fs::read_dir(dir).unwrap() {
        let name = e.unwrap().file_name().to_string_lossy().into_owned();
        assert!(
            !name.contains(".part-"),
            "temporary file left behind: {name}"
        );
    }
}

#[test]
fn hamilton_clip_redacted_with_timing_and_audio_kept() {
    let Some(data) = common::shared_data() else {
        return;
    };
    let dir = temp_dir("hamilton");
    let input = data.join("video/short_hamilton_clip.mp4");
    let output = dir.join("hamilton.redacted.mp4");
    let run = redact(&[
        "run",
        input.to_str().unwrap(),
        "-o",
        output.to_str().unwrap(),
        "--timings",
    ]);
    assert!(run.status.success(), "{}", stderr(&run));
    println!("{}", String::from_utf8_lossy(&run.stdout));
    no_leftovers(&dir);

    // --timings: where the CPU time went, by element; detection dominates on this clip.
    let err = stderr(&run);
    let line = err
        .lines()
        .find(|l| l.contains("timings (CPU s):"))
        .unwrap_or_else(|| panic!("no timings line in {err}"));
    println!("{line}");
    let field = |name: &str| -> f64 {
        line.split_whitespace()
            .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
            .unwrap_or_else(|| panic!("{name} missing: {line}"))
            .parse()
            .unwrap()
    };
    let (process, detect_cpu) = (field("process"), field("detect"));
    assert!(process > 0.0 && detect_cpu > 0.0, "{line}");
    assert!(
        detect_cpu < process,
        "the elements' CPU is part of the process's: {line}"
    );
    assert!(
        field("face-inference") > field("face-preprocess"),
        "inference costs more than building its input: {line}"
    );
    assert!(field("mask") > 0.0 && field("track") > 0.0, "{line}");
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    assert_eq!(field("workers") as usize, cores.min(4), "{line}");

    // Decodes, same size, same frames, same timing (the video starts 0.852 s in).
    let before = detect(&input, &["--no-plates"]);
    let after = detect(&output, &["--no-plates"]);
    assert_eq!((after.width, after.height), (640, 360));
    assert!((after.fps.unwrap() - before.fps.unwrap()).abs() < 0.01);
    assert!(
        after.frame_count.abs_diff(before.frame_count) <= 1,
        "{} vs {} frames",
        after.frame_count,
        before.frame_count
    );
    let first = |d: &DetectionsFile| d.frames[0].pts.unwrap();
    let last = |d: &DetectionsFile| d.frames.last().unwrap().pts.unwrap();
    assert!(
        (first(&after) - first(&before)).abs() < 0.04,
        "start {} vs {}",
        first(&after),
        first(&before)
    );
    assert!(
        (last(&after) - last(&before)).abs() < 0.04,
        "end {} vs {}",
        last(&after),
        last(&before)
    );

    // Audio copied bit for bit, with its timestamps.
    let (a, b) = (
        common::audio_packets(&input),
        common::audio_packets(&output),
    );
    assert!(!a.is_empty());
    assert_eq!(a.len(), b.len(), "audio packet count");
    assert!(a == b, "audio packets differ");

    // Re-detection: of the faces found on the input, how many are still found where they were.
    let input_faces = before.count("face");
    let mut still_found = 0;
    for (fa, fb) in before.frames.iter().zip(&after.frames) {
        for d in fb.detections.iter().filter(|d| d.class == "face") {
            if fa
                .detections
                .iter()
                .any(|x| x.class == "face" && iou(&x.bbox, &d.bbox) > 0.1)
            {
                still_found += 1;
            }
        }
    }
    let all_after = after.count("face");
    println!(
        "re-detection: input {input_faces} faces; output {all_after} boxes, {still_found} of them on a masked face ({:.2} %)",
        100.0 * still_found as f64 / input_faces as f64
    );
    assert!(input_faces > 500);
    assert!(
        still_found * 100 <= input_faces,
        "{still_found} of {input_faces} masked faces still found"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn containers_keep_their_format_and_audio_is_optional() {
    let dir = temp_dir("containers");
    // Small clips with a moving pattern; mp4 and mkv with AAC audio.
    let video = "videotestsrc num-buffers=30 pattern=ball ! video/x-raw,width=320,height=240,framerate=30/1";
    let aac = "audiotestsrc num-buffers=40 ! avenc_aac";
    let clips = [
        (
            "mp4",
            format!(
                "{video} ! x264enc ! mp4mux name=m ! filesink location={} {aac} ! m.",
                dir.join("a.mp4").display()
            ),
        ),
        (
            "mov",
            format!(
                "{video} ! x264enc ! qtmux ! filesink location={}",
                dir.join("a.mov").display()
            ),
        ),
        (
            "mkv",
            format!(
                "{video} ! x264enc ! matroskamux name=m ! filesink location={} {aac} ! m.",
                dir.join("a.mkv").display()
            ),
        ),
        (
            "webm",
            format!(
                "{video} ! vp8enc ! webmmux ! filesink location={}",
                dir.join("a.webm").display()
            ),
        ),
        (
            "avi",
            format!(
                "{video} ! x264enc ! avimux ! filesink location={}",
                dir.join("a.avi").display()
            ),
        ),
    ];
    for (ext, pipeline) in &clips {
        gst_launch(pipeline);
        let input = dir.join(format!("a.{ext}"));
        // Without -o: NAME.redacted.EXT beside the input.
        let run = redact(&["run", input.to_str().unwrap(), "--quiet"]);
        assert!(run.status.success(), "{ext}: {}", stderr(&run));
        let output = dir.join(format!("a.redacted.{ext}"));
        assert!(output.is_file(), "{ext}: output written beside the input");
        let d = detect(&output, &["--no-plates"]);
        assert_eq!((d.width, d.height, d.frame_count), (320, 240, 30), "{ext}");
    }
    // Audio kept by default, dropped with --no-audio.
    let input = dir.join("a.mp4");
    assert!(!common::audio_packets(&dir.join("a.redacted.mp4")).is_empty());
    let silent = dir.join("silent.mp4");
    let run = redact(&[
        "run",
        input.to_str().unwrap(),
        "-o",
        silent.to_str().unwrap(),
        "--no-audio",
        "--quiet",
    ]);
    assert!(run.status.success(), "{}", stderr(&run));
    assert!(
        common::audio_packets(&silent).is_empty(),
        "--no-audio drops the audio"
    );
    // A CCTV-style AVI: MJPEG video, demuxed as image/jpeg (it used to be dropped as "not
    // video", and the run then waited for video forever); under a time limit so that a
    // hang fails the test. (AVI with audio is still open: #13.)
    let cctv = dir.join("cctv.avi");
    gst_launch(&format!(
        "{video} ! jpegenc ! avimux ! filesink location={}",
        cctv.display()
    ));
    let out = dir.join("cctv.redacted.avi");
    let run = std::process::Command::new("timeout")
        .arg("120")
        .arg(env!("CARGO_BIN_EXE_redact"))
        .args([
            "run",
            cctv.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
            "--quiet",
        ])
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "cctv.avi: {:?} {}",
        run.status,
        stderr(&run)
    );
    let d = detect(&out, &["--no-plates"]);
    assert_eq!(
        (d.width, d.height, d.frame_count),
        (320, 240, 30),
        "cctv.avi"
    );
    no_leftovers(&dir);
    std::fs::remove_dir_all(dir).unwrap();
}

/// Writes a copy of a photo in `ext` format, via GStreamer.
fn convert_image(src: &Path, dst: &Path) {
    let encoder = match dst.extension().unwrap().to_str().unwrap() {
        "png" => "pngenc",
        "webp" => "webpenc",
        _ => "jpegenc",
    };
    gst_launch(&format!(
        "filesrc location={} ! decodebin ! videoconvert ! {encoder} ! filesink location={}",
        src.display(),
        dst.display()
    ));
}

#[test]
fn images_keep_format_lose_metadata_and_faces() {
    let Some(data) = common::shared_data() else {
        return;
    };
    let dir = temp_dir("images");
    let photo = data.join("faces-dlib/2008_002470.jpg");
    // A JPEG with GPS and author in its EXIF.
    let tagged = dir.join("tagged.jpg");
    gst_launch(&format!(
        "filesrc location={} ! jpegdec ! jpegenc ! taginject tags=geo-location-latitude=(double)48.8566,geo-location-longitude=(double)2.3522,artist=secret-photographer ! jifmux ! filesink location={}",
        photo.display(),
        tagged.display()
    ));
    let bytes = std::fs::read(&tagged).unwrap();
    let has = |b: &[u8], s: &[u8]| b.windows(s.len()).any(|w| w == s);
    assert!(
        has(&bytes, b"Exif") && has(&bytes, b"secret-photographer"),
        "test image carries metadata"
    );
    convert_image(&photo, &dir.join("group.png"));
    convert_image(&photo, &dir.join("group.webp"));

    for name in ["tagged.jpg", "group.png", "group.webp"] {
        let input = dir.join(name);
        let before = detect(&input, &["--no-plates"]);
        // Six people; at the default threshold (0.3) the lossy WebP copy gives one more
        // box, of a score at the threshold.
        assert!(
            (6..=7).contains(&before.count("face")),
            "{name}: six faces before, found {}",
            before.count("face")
        );
        let run = redact(&["run", input.to_str().unwrap(), "--quiet"]);
        assert!(run.status.success(), "{name}: {}", stderr(&run));
        let stem = name.split('.').next().unwrap();
        let ext = name.split('.').nth(1).unwrap();
        let output = dir.join(format!("{stem}.redacted.{ext}"));
        let out = std::fs::read(&output).unwrap();
        let magic: &[u8] = match ext {
            "png" => b"\x89PNG",
            "webp" => b"RIFF",
            _ => b"\xff\xd8",
        };
        assert!(out.starts_with(magic), "{name}: same format out");
        assert!(
            !has(&out, b"Exif") && !has(&out, b"secret-photographer") && !has(&out, b"48.85"),
            "{name}: metadata stripped"
        );
        let after = detect(&output, &["--no-plates"]);
        assert_eq!((after.width, after.height), (500, 332));
        assert_eq!(
            after.count("face"),
            0,
            "{name}: no face found after redaction"
        );
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn zip_and_folder_keep_their_tree() {
    let Some(data) = common::shared_data() else {
        return;
    };
    let dir = temp_dir("zip");
    let tree = dir.join("tree");
    std::fs::create_dir_all(tree.join("a/b")).unwrap();
    std::fs::copy(
        data.join("faces-dlib/2008_002470.jpg"),
        tree.join("a/b/group.jpg"),
    )
    .unwrap();
    std::fs::copy(
        data.join("faces-crowd/images/maksssksksss0.png"),
        tree.join("street.png"),
    )
    .unwrap();
    std::fs::write(tree.join("a/readme.txt"), "notes").unwrap();

    // Folder: mirrored tree, unsupported file left out with a warning.
    let out = dir.join("tree-out");
    let run = redact(&[
        "run",
        tree.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--quiet",
    ]);
    assert!(run.status.success(), "{}", stderr(&run));
    assert!(stderr(&run).contains("readme.txt"), "{}", stderr(&run));
    assert!(out.join("a/b/group.jpg").is_file() && out.join("street.png").is_file());
    assert!(!out.join("a/readme.txt").exists());
    assert_eq!(
        detect(&out.join("a/b/group.jpg"), &["--no-plates"]).count("face"),
        0
    );

    // ZIP with the same tree.
    let zip_path = dir.join("photos.zip");
    {
        let mut w = zip::ZipWriter::new(std::fs::File::create(&zip_path).unwrap());
        for (name, path) in [
            ("a/b/group.jpg", tree.join("a/b/group.jpg")),
            ("street.png", tree.join("street.png")),
            ("a/readme.txt", tree.join("a/readme.txt")),
        ] {
            w.start_file(name, zip::write::SimpleFileOptions::default())
                .unwrap();
            std::io::copy(&mut std::fs::File::open(path).unwrap(), &mut w).unwrap();
        }
        w.finish().unwrap();
    }
    let run = redact(&["run", zip_path.to_str().unwrap(), "--quiet"]);
    assert!(run.status.success(), "{}", stderr(&run));
    assert!(
        stderr(&run).contains("a/readme.txt"),
        "the left-out file is named: {}",
        stderr(&run)
    );
    let out_zip = dir.join("photos.redacted.zip");
    assert_eq!(common::zip_names(&out_zip), ["a/b/group.jpg", "street.png"]);
    let mut archive = zip::ZipArchive::new(std::fs::File::open(&out_zip).unwrap()).unwrap();
    let extracted = dir.join("from-zip.jpg");
    std::io::copy(
        &mut archive.by_name("a/b/group.jpg").unwrap(),
        &mut std::fs::File::create(&extracted).unwrap(),
    )
    .unwrap();
    assert_eq!(
        detect(&extracted, &["--no-plates"]).count("face"),
        0,
        "the image inside the ZIP is redacted"
    );
    no_leftovers(&dir);
    std::fs::remove_dir_all(dir).unwrap();
}

/// Decodes an image to RGB rows with GStreamer.
fn rgb_pixels(path: &Path) -> (usize, Vec<u8>) {
    let raw = path.with_extension("rgb");
    gst_launch(&format!(
        "filesrc location={} ! decodebin ! videoconvert ! video/x-raw,format=RGB ! filesink location={}",
        path.display(),
        raw.display()
    ));
    let width = detect(path, &["--no-faces"]).width as usize;
    (width, std::fs::read(raw).unwrap())
}

#[test]
fn manual_boxes_and_detection_files() {
    let Some(data) = common::shared_data() else {
        return;
    };
    let dir = temp_dir("boxes");
    let input = data.join("plates-openalpr-eu/eu1.jpg");
    let boxes = dir.join("boxes.json");
    std::fs::write(
        &boxes,
        r#"[{"box": [10, 20, 50, 40]}, {"box": [900, 600, 50, 50], "from": 1}]"#,
    )
    .unwrap();
    let output = dir.join("out.png");
    // A PNG input keeps pixels exact: convert the photo first.
    let png = dir.join("eu1.png");
    convert_image(&input, &png);
    let run = redact(&[
        "run",
        png.to_str().unwrap(),
        "-o",
        output.to_str().unwrap(),
        "--no-faces",
        "--no-plates",
        "--method",
        "fill",
        "--color",
        "00ff00",
        "--padding",
        "0",
        "--boxes",
        boxes.to_str().unwrap(),
        "--quiet",
    ]);
    assert!(run.status.success(), "{}", stderr(&run));
    let (w, px) = rgb_pixels(&output);
    let at = |x: usize, y: usize| &px[3 * (y * w + x)..3 * (y * w + x) + 3];
    assert_eq!(at(10, 20), [0, 255, 0]);
    assert_eq!(at(59, 59), [0, 255, 0]);
    let (_, orig) = rgb_pixels(&png);
    assert_eq!(
        at(61, 61),
        &orig[3 * (61 * w + 61)..3 * (61 * w + 61) + 3],
        "outside the box untouched"
    );
    assert_eq!(
        at(920, 620),
        &orig[3 * (620 * w + 920)..3 * (620 * w + 920) + 3],
        "second box starts at frame 1"
    );

    // Detections from a file instead of the detector: the plate found by `redact detect`.
    let found = detect(&png, &["--no-faces"]);
    assert_eq!(found.count("license-plate"), 1);
    let json = png.with_extension("detections.json");
    std::fs::write(&json, serde_json::to_vec(&found).unwrap()).unwrap();
    let output = dir.join("from-json.png");
    let run = redact(&[
        "run",
        png.to_str().unwrap(),
        "-o",
        output.to_str().unwrap(),
        "--detections",
        json.to_str().unwrap(),
        "--method",
        "fill",
        "--padding",
        "0",
    ]);
    assert!(run.status.success(), "{}", stderr(&run));
    assert!(
        String::from_utf8_lossy(&run.stdout).contains("masked 1 license-plate"),
        "{}",
        String::from_utf8_lossy(&run.stdout)
    );
    let (_, px) = rgb_pixels(&output);
    let [x, y, bw, bh] = found.frames[0].detections[0].bbox.map(|v| v as usize);
    let c = 3 * ((y + bh / 2) * w + x + bw / 2);
    assert_eq!(&px[c..c + 3], [0, 0, 0], "the plate is filled black");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn bad_input_fails_cleanly() {
    let Some(data) = common::shared_data() else {
        return;
    };
    let dir = temp_dir("run-bad");
    let fails = |args: &[&str]| -> String {
        let run = redact(args);
        let err = stderr(&run);
        assert!(!run.status.success(), "expected failure: {args:?}");
        assert!(!err.contains("panicked"), "{err}");
        err
    };
    let text = dir.join("notes.mp4");
    std::fs::write(&text, "not a video").unwrap();
    let out = dir.join("out.mp4");
    let err = fails(&["run", text.to_str().unwrap(), "-o", out.to_str().unwrap()]);
    assert!(err.contains("not an image or video"), "{err}");
    assert!(!out.exists());
    no_leftovers(&dir);

    // Truncated video: nothing under the final name, no temporary left.
    let video = std::fs::read(data.join("video/short_hamilton_clip.mp4")).unwrap();
    let cut = dir.join("cut.mp4");
    std::fs::write(&cut, &video[..300_000]).unwrap();
    let err = fails(&["run", cut.to_str().unwrap()]);
    assert!(err.contains("damaged"), "{err}");
    assert!(!dir.join("cut.redacted.mp4").exists());
    no_leftovers(&dir);

    let doc = dir.join("doc.txt");
    std::fs::write(&doc, "x").unwrap();
    assert!(fails(&["run", doc.to_str().unwrap()]).contains("unsupported file type"));
    let image = data.join("faces-dlib/2008_002470.jpg");
    let image = image.to_str().unwrap();
    assert!(
        fails(&["run", image, "-o", dir.join("x.png").to_str().unwrap()])
            .contains("must end in .jpg")
    );
    assert!(
        fails(&["run", image, "-o", "/tmp/x.jpg", "--color", "purple-ish"])
            .contains("not a colour")
    );
    assert!(
        fails(&["run", image, "-o", "/tmp/x.jpg", "--area", "0.5,0,0.2,1"])
            .contains("TOP,LEFT,BOTTOM,RIGHT")
    );
    assert!(
        fails(&["run", image, "-o", "/tmp/x.jpg", "--track-ids", "a"]).contains("not a track id")
    );
    let bad_boxes = dir.join("boxes.json");
    std::fs::write(&bad_boxes, r#"[{"box": [1, 2]}]"#).unwrap();
    assert!(
        fails(&[
            "run",
            image,
            "-o",
            "/tmp/x.jpg",
            "--boxes",
            bad_boxes.to_str().unwrap()
        ])
        .contains("expected a JSON list")
    );
    assert!(
        fails(&[
            "run",
            image,
            "-o",
            "/tmp/x.jpg",
            "--interval",
            "3",
            "--no-track"
        ])
        .contains("would leave the frames between detector runs unmasked")
    );
    let folder: PathBuf = data.join("faces-dlib");
    assert!(
        fails(&[
            "run",
            folder.to_str().unwrap(),
            "-o",
            dir.join("o").to_str().unwrap(),
            "--detections",
            bad_boxes.to_str().unwrap()
        ])
        .contains("not a detections JSON")
    );
    std::fs::remove_dir_all(dir).unwrap();
}

/// `--device`: cpu works anywhere (and gives what auto gives without a GPU); cuda without
/// a usable GPU is a one-line error before any file is touched.
#[test]
fn device_choice() {
    let Some(data) = common::shared_data() else {
        return;
    };
    redact::pipeline::init().unwrap();
    let dir = temp_dir("run-device");
    let image = data.join("faces-dlib/2008_002470.jpg");
    let (auto, cpu) = (dir.join("auto.jpg"), dir.join("cpu.jpg"));
    for (out, device) in [(&auto, "auto"), (&cpu, "cpu")] {
        let run = redact(&[
            "run",
            image.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
            "--device",
            device,
            // One inference thread: ONNX Runtime's threads can move a box by a pixel.
            "--threads",
            "1",
        ]);
        assert!(run.status.success(), "{}", stderr(&run));
    }
    // Images stay on the CPU whatever the device: the same pixels.
    assert!(rgb_pixels(&auto) == rgb_pixels(&cpu), "auto and cpu differ");

    let Some(why) = redact::device::cuda_unusable() else {
        eprintln!("SKIPPED (the cuda half): a GPU is usable here; tests/gpu.rs covers it");
        return;
    };
    let video = data.join("video/short_hamilton_clip.mp4");
    let out = dir.join("cuda.mp4");
    for command in ["run", "detect"] {
        let run = redact(&[
            command,
            video.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
            "--device",
            "cuda",
        ]);
        let err = stderr(&run);
        assert!(!run.status.success());
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            err.starts_with("error: --device cuda: the GPU cannot be used here: ")
                && err.contains(&why)
                && err
                    .trim_end()
                    .ends_with("use --device auto or --device cpu"),
            "{err}"
        );
        assert!(!out.exists());
    }
    let run = redact(&["run", video.to_str().unwrap(), "--device", "gpu"]);
    assert!(!run.status.success());
    assert!(stderr(&run).contains("possible values: auto, cpu, cuda"));
    no_leftovers(&dir);
    std::fs::remove_dir_all(dir).unwrap();
}
