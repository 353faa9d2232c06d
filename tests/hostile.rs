//! Hostile input: archives and folders made to escape, loop, explode or confuse. Every case
//! ends with a clear outcome, writes nothing outside the output, and passes nothing through
//! unchecked.

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output};

use common::{stderr, temp_dir, zip_names};
use zip::write::SimpleFileOptions;

/// `redact ARGS` killed after `secs`: a hang fails the test instead of stalling it.
fn redact_within(secs: u32, args: &[&str]) -> Output {
    Command::new("timeout")
        .arg(secs.to_string())
        .arg(env!("CARGO_BIN_EXE_redact"))
        .args(args)
        .output()
        .unwrap()
}

/// Replaces every occurrence of `from` by `to` (same length) in a file: names in a ZIP's
/// local and central headers that its writer would refuse to write.
fn patch(path: &Path, from: &[u8], to: &[u8]) {
    assert_eq!(from.len(), to.len());
    let mut bytes = std::fs::read(path).unwrap();
    let mut n = 0;
    let mut i = 0;
    while i + from.len() <= bytes.len() {
        if &bytes[i..i + from.len()] == from {
            bytes[i..i + from.len()].copy_from_slice(to);
            n += 1;
        }
        i += 1;
    }
    assert!(
        n >= 2,
        "{:?} patched in both headers",
        String::from_utf8_lossy(from)
    );
    std::fs::write(path, bytes).unwrap();
}

/// Every file under `dir`, relative, sorted.
fn tree(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let t = e.file_type().unwrap();
            let rel = e.path().strip_prefix(dir).unwrap().display().to_string();
            if t.is_dir() {
                stack.push(e.path());
            }
            out.push(rel);
        }
    }
    out.sort();
    out
}

#[test]
fn hostile_zips_are_contained() {
    let Some(data) = common::shared_data() else {
        return;
    };
    let dir = temp_dir("hostile-zip");
    let photo = std::fs::read(data.join("faces-dlib/2008_002470.jpg")).unwrap();
    let stored = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);

    // 1. Paths that escape, a symlink, a duplicate, a nested ZIP, odd names; and one
    //    ordinary photo. The run succeeds with the safe entries and names every other one.
    let zip_path = dir.join("tricks.zip");
    {
        let mut w = zip::ZipWriter::new(std::fs::File::create(&zip_path).unwrap());
        for name in [
            "ok.jpg",
            "../escape.jpg",
            "/tmp/absolute.jpg",
            "dupA.jpg",
            "dupB.jpg",
            "new\nline.jpg",
            "nonutf8x.jpg",
        ] {
            w.start_file(name, stored).unwrap();
            w.write_all(&photo).unwrap();
        }
        w.add_symlink("link.jpg", "/etc/passwd", stored).unwrap();
        w.start_file("inner.zip", stored).unwrap();
        w.write_all(b"PK\x05\x06").unwrap();
        w.write_all(&[0u8; 18]).unwrap();
        w.finish().unwrap();
    }
    patch(&zip_path, b"dupB.jpg", b"dupA.jpg");
    patch(&zip_path, b"nonutf8x.jpg", b"nonutf8\xff.jpg");
    let out = dir.join("out.zip");
    let run = redact_within(
        300,
        &[
            "run",
            zip_path.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
            "--no-plates",
        ],
    );
    let err = stderr(&run);
    assert!(run.status.success(), "{err}");
    for said in [
        "left out '../escape.jpg': unsafe path",
        "left out '/tmp/absolute.jpg': unsafe path",
        "left out 'link.jpg': a symbolic link",
        "lists some names more than once",
        "'new\\nline.jpg': control characters in its name",
        "inner.zip",
    ] {
        assert!(err.contains(said), "said: {said}\n{err}");
    }
    let names = zip_names(&out);
    assert_eq!(names.len(), 4, "{names:?}");
    assert!(
        names
            .iter()
            .all(|n| !n.starts_with('/') && !n.contains("..")),
        "{names:?}"
    );
    for n in ["ok.jpg", "dupA.jpg", "new\\nline.jpg"] {
        assert!(names.iter().any(|x| x == n), "{n} in {names:?}");
    }
    assert!(names.iter().any(|x| x.starts_with("nonutf8")), "{names:?}");
    assert!(!dir.parent().unwrap().join("escape.jpg").exists());
    assert!(!Path::new("/tmp/absolute.jpg").exists());
    // Every photo that came out is redacted: no face left for the detector.
    let mut archive = zip::ZipArchive::new(std::fs::File::open(&out).unwrap()).unwrap();
    for i in 0..archive.len() {
        let mut e = archive.by_index(i).unwrap();
        let one = dir.join(format!("check{i}.jpg"));
        std::io::copy(&mut e, &mut std::fs::File::create(&one).unwrap()).unwrap();
        let d = dir.join(format!("check{i}.json"));
        let det = redact_within(
            120,
            // The plain detector, as a re-detection pass sees the output (the second model
            // at 0.2 also takes blurred heads for faces).
            &[
                "detect",
                one.to_str().unwrap(),
                "-o",
                d.to_str().unwrap(),
                "--no-plates",
                "--no-track",
                "--no-verify",
            ],
        );
        assert!(det.status.success(), "{}", stderr(&det));
        let json = std::fs::read_to_string(&d).unwrap();
        assert!(!json.contains("\"face\""), "entry {i} still has a face");
    }

    // 2. An encrypted entry cannot be checked: the run fails and names it; no output.
    let enc = dir.join("locked.zip");
    {
        use zip::unstable::write::FileOptionsExt;
        let mut w = zip::ZipWriter::new(std::fs::File::create(&enc).unwrap());
        w.start_file("open.jpg", stored).unwrap();
        w.write_all(&photo).unwrap();
        w.start_file(
            "secret.jpg",
            stored.with_deprecated_encryption(b"pw").unwrap(),
        )
        .unwrap();
        w.write_all(&photo).unwrap();
        w.finish().unwrap();
    }
    let out2 = dir.join("locked.out.zip");
    let run = redact_within(
        300,
        &[
            "run",
            enc.to_str().unwrap(),
            "-o",
            out2.to_str().unwrap(),
            "--no-plates",
        ],
    );
    let err = stderr(&run);
    assert_eq!(run.status.code(), Some(1), "{err}");
    assert!(err.contains("'secret.jpg' is encrypted"), "{err}");
    assert!(err.contains("1 file(s) inside failed: secret.jpg"), "{err}");
    assert!(!out2.exists());

    // 3. A bomb: 300 MB of zeros deflated to ~300 kB, named like a video. Refused before
    //    it is inflated (the ratio), without filling the disk.
    let bomb = dir.join("bomb.zip");
    {
        let mut w = zip::ZipWriter::new(std::fs::File::create(&bomb).unwrap());
        w.start_file("clip.mp4", SimpleFileOptions::default())
            .unwrap();
        let zeros = vec![0u8; 1 << 20];
        for _ in 0..300 {
            w.write_all(&zeros).unwrap();
        }
        w.finish().unwrap();
    }
    assert!(std::fs::metadata(&bomb).unwrap().len() < 2 << 20);
    let out3 = dir.join("bomb.out.zip");
    let started = std::time::Instant::now();
    let run = redact_within(
        60,
        &["run", bomb.to_str().unwrap(), "-o", out3.to_str().unwrap()],
    );
    let err = stderr(&run);
    assert_eq!(run.status.code(), Some(1), "{err}");
    assert!(err.contains("decompression bomb"), "{err}");
    assert!(started.elapsed().as_secs() < 30);
    assert!(!out3.exists());

    // Nothing but the inputs, the one output and the checks is left in the folder.
    let left: Vec<String> = tree(&dir)
        .into_iter()
        .filter(|n| !n.starts_with("check"))
        .collect();
    assert_eq!(
        left,
        ["bomb.zip", "locked.zip", "out.zip", "tricks.zip"],
        "{left:?}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn hostile_folders_are_contained() {
    let Some(data) = common::shared_data() else {
        return;
    };
    let dir = temp_dir("hostile-folder");
    let input = dir.join("in");
    std::fs::create_dir_all(input.join("sub")).unwrap();
    std::fs::copy(
        data.join("faces-dlib/2008_002470.jpg"),
        input.join("sub/a.jpg"),
    )
    .unwrap();
    // A symlink loop and a link to a folder outside the input.
    std::os::unix::fs::symlink("..", input.join("sub/loop")).unwrap();
    std::os::unix::fs::symlink("/etc", input.join("etc")).unwrap();
    // An unreadable photo (root reads anything: then it is simply redacted).
    let locked = input.join("locked.jpg");
    std::fs::copy(data.join("faces-dlib/2008_002470.jpg"), &locked).unwrap();
    std::fs::set_permissions(&locked, std::os::unix::fs::PermissionsExt::from_mode(0o000)).unwrap();
    let root = std::fs::File::open(&locked).is_ok();

    let out = dir.join("out");
    let run = redact_within(
        300,
        &[
            "run",
            input.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
            "--no-plates",
        ],
    );
    let err = stderr(&run);
    assert!(err.contains("symbolic link"), "links named: {err}");
    if root {
        assert!(run.status.success(), "{err}");
        assert!(out.join("locked.jpg").is_file());
    } else {
        assert_eq!(run.status.code(), Some(1), "{err}");
        assert!(err.contains("locked.jpg"), "{err}");
    }
    assert!(out.join("sub/a.jpg").is_file(), "{err}");
    assert!(!out.join("etc").exists() && !out.join("sub/loop").exists());

    // The output folder inside the input folder is refused before anything is written.
    let inner = input.join("redacted");
    let run = redact_within(
        60,
        &[
            "run",
            input.to_str().unwrap(),
            "-o",
            inner.to_str().unwrap(),
        ],
    );
    assert_eq!(run.status.code(), Some(1));
    assert!(
        stderr(&run).contains("must not be inside the input folder"),
        "{}",
        stderr(&run)
    );
    assert!(!inner.exists());
    std::fs::set_permissions(&locked, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    std::fs::remove_dir_all(dir).unwrap();
}
