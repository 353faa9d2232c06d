//! Hostile input: archives and folders made to escape, loop, explode or confuse. Every case
//! ends with a clear outcome, writes nothing outside the output, and passes nothing through
//! unchecked.

mod common;

use std::io::Write;
use std::path::Path;
use std::process::Command;

use common::{ffmpeg, redact_within, run_within, stderr, temp_dir, zip_names};
use zip::write::SimpleFileOptions;

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
    let run = run_within(300, &zip_path, &out, &["--no-plates"]);
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
        let faces: usize = common::plain_faces(&one)
            .frames
            .iter()
            .map(|f| f.detections.len())
            .sum();
        assert_eq!(faces, 0, "entry {i} still has a face");
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
    let run = run_within(300, &enc, &out2, &["--no-plates"]);
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
    let run = run_within(60, &bomb, &out3, &[]);
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
    let run = run_within(300, &input, &out, &["--no-plates"]);
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
    let run = run_within(60, &input, &inner, &[]);
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

/// A small deterministic generator (xorshift64*): the corpus is the same on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// The boxes of an MP4/MOV (offset, size), containers walked into.
fn mp4_boxes(data: &[u8], start: usize, end: usize, out: &mut Vec<(usize, usize)>) {
    let mut pos = start;
    while pos + 8 <= end {
        let size = u32::from_be_bytes(data[pos..pos + 4].try_into().unwrap()) as usize;
        if size < 8 || pos + size > end {
            return;
        }
        out.push((pos, size));
        let kind = &data[pos + 4..pos + 8];
        if [
            b"moov", b"trak", b"mdia", b"minf", b"stbl", b"edts", b"dinf", b"udta",
        ]
        .iter()
        .any(|k| kind == *k)
        {
            mp4_boxes(data, pos + 8, pos + size, out);
        }
        pos += size;
    }
}

fn find(data: &[u8], what: &[u8]) -> Option<usize> {
    data.windows(what.len()).position(|w| w == what)
}

/// A PNG of `w`x`h` 8-bit grey pixels, all zero (a decompression bomb when large), with
/// correct CRCs.
fn png(w: u32, h: u32) -> Vec<u8> {
    fn chunk(out: &mut Vec<u8>, kind: &[u8], body: &[u8]) {
        out.extend((body.len() as u32).to_be_bytes());
        let mut c = crc32fast::Hasher::new();
        c.update(kind);
        c.update(body);
        out.extend(kind);
        out.extend(body);
        out.extend(c.finalize().to_be_bytes());
    }
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = w.to_be_bytes().to_vec();
    ihdr.extend(h.to_be_bytes());
    ihdr.extend([8, 0, 0, 0, 0]);
    chunk(&mut out, b"IHDR", &ihdr);
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
    let row = vec![0u8; w as usize + 1];
    for _ in 0..h {
        z.write_all(&row).unwrap();
    }
    chunk(&mut out, b"IDAT", &z.finish().unwrap());
    chunk(&mut out, b"IEND", &[]);
    out
}

/// Sets a PNG's IHDR width and/or height, with the CRC fixed or not.
fn png_dims(data: &[u8], w: Option<u32>, h: Option<u32>, fix_crc: bool) -> Vec<u8> {
    let mut d = data.to_vec();
    if let Some(w) = w {
        d[16..20].copy_from_slice(&w.to_be_bytes());
    }
    if let Some(h) = h {
        d[20..24].copy_from_slice(&h.to_be_bytes());
    }
    if fix_crc {
        let crc = crc32fast::hash(&d[12..29]);
        d[29..33].copy_from_slice(&crc.to_be_bytes());
    }
    d
}

/// Sets a JPEG's frame header (SOF0/SOF2) height and/or width.
fn jpeg_dims(data: &[u8], w: Option<u16>, h: Option<u16>) -> Vec<u8> {
    let mut d = data.to_vec();
    let at = find(&d, &[0xff, 0xc0])
        .or_else(|| find(&d, &[0xff, 0xc2]))
        .unwrap();
    if let Some(h) = h {
        d[at + 5..at + 7].copy_from_slice(&h.to_be_bytes());
    }
    if let Some(w) = w {
        d[at + 7..at + 9].copy_from_slice(&w.to_be_bytes());
    }
    d
}

/// The damaged corpus: (class, file name, bytes), made from real media.
fn corpus(sources: &[(String, Vec<u8>)]) -> Vec<(&'static str, String, Vec<u8>)> {
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let mut out = Vec::new();
    let exts = [
        "mp4", "mov", "mkv", "webm", "avi", "ts", "jpg", "png", "webp", "zip",
    ];
    for (si, (name, data)) in sources.iter().enumerate() {
        let ext = name.rsplit_once('.').unwrap().1;
        let stem = &name.replace('.', "_");
        let n = data.len();
        for k in 1..=20 {
            out.push((
                "truncated",
                format!("{stem}-cut{k}.{ext}"),
                data[..n * k / 21].to_vec(),
            ));
        }
        // Bit flips in the headers: the first 4 kB, and the last 4 kB (an MP4's moov).
        for k in 0..12 {
            let mut d = data.clone();
            for _ in 0..1 + rng.below(8) {
                let at = if k % 2 == 0 {
                    rng.below(n.min(4096))
                } else {
                    n - 1 - rng.below(n.min(4096))
                };
                d[at] ^= 1 << rng.below(8);
            }
            out.push(("header bit flips", format!("{stem}-hflip{k}.{ext}"), d));
        }
        // Bit flips in the frame data.
        for k in 0..12 {
            let mut d = data.clone();
            for _ in 0..4 + rng.below(60) {
                let at = n / 10 + rng.below(n * 8 / 10);
                d[at] ^= 1 << rng.below(8);
            }
            out.push(("data bit flips", format!("{stem}-dflip{k}.{ext}"), d));
        }
        // Runs of random bytes written over the file.
        for k in 0..6 {
            let mut d = data.clone();
            for _ in 0..1 + rng.below(4) {
                let len = 16 + rng.below(500);
                let at = rng.below(n.saturating_sub(len));
                for b in &mut d[at..at + len.min(n - at)] {
                    *b = rng.next() as u8;
                }
            }
            out.push(("overwritten runs", format!("{stem}-garbage{k}.{ext}"), d));
        }
        // The same bytes under other extensions.
        for k in 1..=2 {
            let other = exts[(si + 3 * k) % exts.len()];
            let other = if other == ext { "avi" } else { other };
            out.push((
                "wrong extension",
                format!("{stem}-as.{other}"),
                data.clone(),
            ));
        }
        // MP4/MOV: each box's contents zeroed.
        if ext == "mp4" || ext == "mov" {
            let mut boxes = Vec::new();
            mp4_boxes(data, 0, n, &mut boxes);
            for (k, (at, size)) in boxes.into_iter().enumerate() {
                let mut d = data.clone();
                let body = (at + 8)..(at + size).min(at + 8 + 65536);
                d[body].fill(0);
                out.push(("zeroed boxes", format!("{stem}-zbox{k}.{ext}"), d));
            }
        }
        if ext == "png" {
            for (k, (w, h, fix)) in [
                (Some(65535), None, true),
                (None, Some(65535), true),
                (Some(65535), Some(65535), true),
                (Some(65535), Some(65535), false),
                (Some(0), None, true),
            ]
            .into_iter()
            .enumerate()
            {
                out.push((
                    "dimensions 65535",
                    format!("{stem}-dims{k}.png"),
                    png_dims(data, w, h, fix),
                ));
            }
        }
        if ext == "jpg" {
            for (k, (w, h)) in [
                (Some(65535), None),
                (None, Some(65535)),
                (Some(65535), Some(65535)),
                (Some(0), Some(0)),
            ]
            .into_iter()
            .enumerate()
            {
                out.push((
                    "dimensions 65535",
                    format!("{stem}-dims{k}.jpg"),
                    jpeg_dims(data, w, h),
                ));
            }
        }
        if ext == "mp4" {
            // tkhd's width and height (16.16 fixed point) and avc1's, set to 65535.
            for (k, (kind, off, len)) in [(b"tkhd", 76usize, 4usize), (b"avc1", 24, 2)]
                .into_iter()
                .enumerate()
            {
                // avc1 after stsd (the name is also a brand in ftyp).
                let from = if kind == b"avc1" {
                    find(data, b"stsd").unwrap_or(0)
                } else {
                    0
                };
                if let Some(at) = find(&data[from..], kind).map(|a| a + from) {
                    let mut d = data.clone();
                    let f = at - 4 + off + 8;
                    d[f..f + 2 * len].fill(0xff);
                    out.push(("dimensions 65535", format!("{stem}-vdims{k}.mp4"), d));
                }
            }
        }
    }
    for ext in exts {
        out.push(("zero-length", format!("empty.{ext}"), Vec::new()));
    }
    out.push(("tiny", "one-pixel.png".into(), png(1, 1)));
    out.push((
        "decompression bomb",
        "bomb-20000.png".into(),
        png(20000, 20000),
    ));
    out.push((
        "decompression bomb",
        "bomb-20000-as.mp4".into(),
        png(20000, 20000),
    ));
    let small = png(64, 64);
    out.push((
        "decompression bomb",
        "bomb-65535-short.png".into(),
        png_dims(&small, Some(65535), Some(65535), true),
    ));
    out
}

/// How one damaged file ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Outcome {
    Succeeded,
    Refused,
}

/// Frames `redact run` reported ("IN -> OUT: N frame(s), …").
fn reported_frames(stdout: &str) -> Option<u64> {
    stdout.split(": ").nth(1)?.split(' ').next()?.parse().ok()
}

/// Video frames ffprobe reads back from a finished output.
fn probed_frames(path: &Path) -> Option<u64> {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "v:0", "-count_packets"])
        .args(["-show_entries", "stream=nb_read_packets", "-of", "csv=p=0"])
        .arg(path)
        .output()
        .ok()?;
    // A transport stream lists its programs too: the first number is the stream's count.
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.trim().trim_end_matches(',').parse().ok())
}

/// Runs one damaged file; the outcome and seconds, or what went wrong.
fn run_damaged(file: &Path, out_dir: &Path) -> Result<(Outcome, f64), String> {
    let name = file.file_name().unwrap().to_string_lossy().to_string();
    let output = out_dir.join(format!("out-{name}"));
    let started = std::time::Instant::now();
    let run = run_within(LIMIT_S, file, &output, &["--no-verify"]);
    let secs = started.elapsed().as_secs_f64();
    let err = stderr(&run);
    let stdout = String::from_utf8_lossy(&run.stdout).to_string();
    let leftovers: Vec<_> = std::fs::read_dir(out_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|n| n.contains(".part-"))
        .collect();
    if !leftovers.is_empty() {
        // Cleared, so that one problem is not blamed on every later file.
        for l in &leftovers {
            let _ = std::fs::remove_file(out_dir.join(l));
        }
        return Err(format!(
            "{name}: temporary files left: {leftovers:?} (exit {:?}, {secs:.1} s): {err}",
            run.status
        ));
    }
    match run.status.code() {
        Some(0) => {
            if !output.is_file() {
                return Err(format!("{name}: success without an output"));
            }
            // Complete and readable: every frame the run reported is in the output.
            let is_video = !["jpg", "png", "webp"].iter().any(|e| name.ends_with(e));
            if is_video && reported_frames(&stdout) != probed_frames(&output) {
                return Err(format!(
                    "{name}: reported {:?} frames, the output has {:?}",
                    reported_frames(&stdout),
                    probed_frames(&output)
                ));
            }
            let _ = std::fs::remove_file(&output);
            Ok((Outcome::Succeeded, secs))
        }
        Some(1) => {
            let last = err.trim_end().lines().last().unwrap_or_default();
            let errors = err.lines().filter(|l| l.starts_with("error:")).count();
            if !last.starts_with("error: ") || errors != 1 || err.contains("panicked") {
                return Err(format!("{name}: not one clear error line: {err}"));
            }
            if output.exists() {
                return Err(format!("{name}: refused but wrote {}", output.display()));
            }
            Ok((Outcome::Refused, secs))
        }
        Some(124) => Err(format!("{name}: still running after {LIMIT_S} s (hang)")),
        code => Err(format!("{name}: ended with {code:?} (crash): {err}")),
    }
}

/// ffmpeg's input arguments for the damaged-media sources: the first second of `clip`, at
/// 320×180.
fn first_second(clip: &str) -> [&str; 6] {
    ["-t", "1", "-i", clip, "-vf", "scale=320:180"]
}

/// The time limit per damaged file.
const LIMIT_S: u32 = 60;

/// An MP4 whose audio track's sample description is zeroed (the format code and what
/// follows it; its size kept, so GStreamer's demuxer reads on): redacted without that
/// track, with a warning that names it, and the output opens (copied verbatim, as every
/// MP4 audio track is, the damaged track went into the output without a word; with its
/// size zeroed as well, the damaged-media corpus's `clip_mp4-zbox36.mp4`, ffmpeg could not
/// open the output at all: "invalid STSD entries").
#[test]
fn a_damaged_audio_track_is_left_out_with_a_warning() {
    let Some(data) = common::shared_data() else {
        return;
    };
    let dir = temp_dir("damaged-audio");
    let clip = data.join("video/short_hamilton_clip.mp4");
    let input = dir.join("clip.mp4");
    let codecs = ["-c:v", "libx264", "-c:a", "aac"];
    ffmpeg(
        &[&first_second(clip.to_str().unwrap())[..], &codecs].concat(),
        &input,
    );
    let mut bytes = std::fs::read(&input).unwrap();
    let at = bytes.windows(4).rposition(|w| w == b"mp4a").unwrap();
    let size = u32::from_be_bytes(bytes[at - 4..at].try_into().unwrap()) as usize;
    bytes[at..at - 4 + size].fill(0);
    std::fs::write(&input, bytes).unwrap();
    let output = dir.join("out.mp4");
    let run = run_within(LIMIT_S, &input, &output, &["--no-verify"]);
    let err = stderr(&run);
    assert_eq!(run.status.code(), Some(0), "{err}");
    assert!(
        err.contains(
            "its audio track is damaged (its sample format is zeroed): it is left out of the output"
        ),
        "{err}"
    );
    let streams = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "stream=codec_type",
            "-of",
            "csv=p=0",
        ])
        .arg(&output)
        .output()
        .unwrap();
    assert!(streams.status.success(), "{streams:?}");
    assert_eq!(String::from_utf8_lossy(&streams.stdout).trim(), "video");
    assert_eq!(
        probed_frames(&output),
        reported_frames(&String::from_utf8_lossy(&run.stdout))
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn damaged_media_corpus_succeeds_or_is_refused_clearly() {
    let Some(data) = common::shared_data() else {
        return;
    };
    let dir = temp_dir("damaged");
    let clip = data.join("video/short_hamilton_clip.mp4");
    let clip = clip.to_str().unwrap();
    let small = first_second(clip);
    let made: [(&str, &[&str]); 8] = [
        ("clip.mp4", &["-c:v", "libx264", "-c:a", "aac"]),
        (
            "faststart.mp4",
            &["-c:v", "libx264", "-c:a", "aac", "-movflags", "+faststart"],
        ),
        ("camera.mov", &["-c:v", "libx264", "-c:a", "aac"]),
        ("clip.mkv", &["-c:v", "libx264", "-c:a", "aac"]),
        (
            "clip.webm",
            &[
                "-c:v",
                "libvpx-vp9",
                "-deadline",
                "realtime",
                "-cpu-used",
                "8",
                "-c:a",
                "libopus",
            ],
        ),
        (
            "cctv.avi",
            &["-c:v", "mjpeg", "-q:v", "5", "-c:a", "pcm_s16le"],
        ),
        (
            "broadcast.ts",
            &["-c:v", "libx264", "-c:a", "aac", "-muxrate", "4M"],
        ),
        ("tiny.mp4", &["-vf", "scale=2:2", "-c:v", "libx264", "-an"]),
    ];
    let mut sources = Vec::new();
    for (name, args) in made {
        let path = dir.join(name);
        let mut all: Vec<&str> = small.to_vec();
        if name == "tiny.mp4" {
            all.truncate(4);
        }
        all.extend(args);
        ffmpeg(&all, &path);
        sources.push((name.to_string(), std::fs::read(&path).unwrap()));
        std::fs::remove_file(path).unwrap();
    }
    sources.push((
        "photo.jpg".into(),
        std::fs::read(data.join("faces-dlib/2008_002470.jpg")).unwrap(),
    ));
    let png_path = dir.join("street.png");
    ffmpeg(
        &[
            "-i",
            data.join("faces-dlib/2008_002470.jpg").to_str().unwrap(),
        ],
        &png_path,
    );
    sources.push(("street.png".into(), std::fs::read(&png_path).unwrap()));
    let webp_path = dir.join("phone.webp");
    ffmpeg(
        &[
            "-i",
            data.join("faces-dlib/2008_002470.jpg").to_str().unwrap(),
        ],
        &webp_path,
    );
    sources.push(("phone.webp".into(), std::fs::read(&webp_path).unwrap()));
    let one = dir.join("one.jpg");
    common::gst_launch(&format!(
        "videotestsrc num-buffers=1 ! video/x-raw,width=1,height=1 ! jpegenc ! filesink location={}",
        one.display()
    ));
    sources.push(("one.jpg".into(), std::fs::read(&one).unwrap()));
    for p in [png_path, webp_path, one] {
        std::fs::remove_file(p).unwrap();
    }

    let files = corpus(&sources);
    let input = dir.join("in");
    std::fs::create_dir_all(&input).unwrap();
    let mut jobs = Vec::new();
    for (class, name, bytes) in &files {
        let path = input.join(name);
        assert!(!path.exists(), "duplicate corpus name {name}");
        std::fs::write(&path, bytes).unwrap();
        jobs.push((*class, path));
    }
    assert!(jobs.len() >= 500, "corpus of {} files", jobs.len());

    // Two at a time (the machine has two cores).
    let out_dirs = [dir.join("out0"), dir.join("out1")];
    let queue = std::sync::Mutex::new(jobs.clone());
    let results = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for out_dir in &out_dirs {
            std::fs::create_dir_all(out_dir).unwrap();
            s.spawn(|| {
                loop {
                    let Some((class, path)) = queue.lock().unwrap().pop() else {
                        break;
                    };
                    let r = run_damaged(&path, out_dir);
                    results.lock().unwrap().push((class, path, r));
                }
            });
        }
    });
    let results = results.into_inner().unwrap();
    let mut table = std::collections::BTreeMap::<&str, [usize; 2]>::new();
    let mut problems = Vec::new();
    let mut longest = (0.0f64, String::new());
    for (class, path, r) in &results {
        match r {
            Ok((o, secs)) => {
                table.entry(class).or_default()[(*o == Outcome::Refused) as usize] += 1;
                if *secs > longest.0 {
                    longest = (
                        *secs,
                        path.file_name().unwrap().to_string_lossy().to_string(),
                    );
                }
            }
            Err(e) => problems.push(e.clone()),
        }
    }
    eprintln!(
        "damaged corpus: {} files from {} sources",
        results.len(),
        sources.len()
    );
    eprintln!("| class | files | succeeded | refused |");
    eprintln!("|---|---|---|---|");
    for (class, [ok, refused]) in &table {
        eprintln!("| {class} | {} | {ok} | {refused} |", ok + refused);
    }
    eprintln!(
        "longest run: {:.1} s ({}); problems: {}",
        longest.0,
        longest.1,
        problems.len()
    );
    assert!(
        problems.is_empty(),
        "{} problem(s):\n{}",
        problems.len(),
        problems.join("\n")
    );
    // The bombs and the clean-but-misnamed files end as they must.
    for (class, path, r) in &results {
        let name = path.file_name().unwrap().to_string_lossy();
        if *class == "decompression bomb" {
            assert_eq!(r.as_ref().unwrap().0, Outcome::Refused, "{name}");
        }
    }
    std::fs::remove_dir_all(dir).unwrap();
}

/// `redact run` killed with SIGKILL at points through a run: never a file under the final
/// name unless it is complete; the next run clears the dead run's temporary file. A full
/// disk (a small tmpfs, where this machine lets the test mount one) is a clear error with
/// nothing left behind.
#[test]
fn killed_runs_and_full_disks_leave_no_partial_output() {
    let Some(data) = common::shared_data() else {
        return;
    };
    let dir = temp_dir("killed");
    let clip = data.join("video/short_hamilton_clip.mp4");
    let out = dir.join("out.mp4");
    let args = [
        "run",
        clip.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--no-verify",
        "--quiet",
    ];
    let mut complete = 0;
    for ms in [150u64, 400, 900, 1600, 2500, 4000, 6000, 9000] {
        let _ = std::fs::remove_file(&out);
        let mut child = Command::new(env!("CARGO_BIN_EXE_redact"))
            .args(args)
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(ms));
        let _ = child.kill();
        let status = child.wait().unwrap();
        if out.exists() {
            // The rename came before the kill: the file must be whole.
            assert_eq!(
                probed_frames(&out),
                Some(275),
                "killed at {ms} ms ({status:?}): partial output"
            );
            complete += 1;
        }
        let names: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n != "out.mp4")
            .collect();
        assert!(
            names.iter().all(|n| n.starts_with(".out.mp4.part-")),
            "{names:?}"
        );
    }
    eprintln!("killed 8 runs: {complete} had finished, the others left no out.mp4");
    // A run after the kills: complete, and the dead runs' temporaries are gone.
    let run = redact_within(300, &args);
    assert!(run.status.success(), "{}", stderr(&run));
    assert_eq!(probed_frames(&out), Some(275));
    let names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, [std::ffi::OsString::from("out.mp4")]);

    // A full disk.
    let small = dir.join("small");
    std::fs::create_dir_all(&small).unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=200k", "tmpfs"])
        .arg(&small)
        .output()
        .is_ok_and(|o| o.status.success());
    if !mounted {
        eprintln!("SKIPPED the full-disk half: cannot mount a tmpfs here (needs root)");
    } else {
        let target = small.join("out.mp4");
        let run = run_within(300, &clip, &target, &["--no-verify", "--quiet"]);
        let left: Vec<_> = std::fs::read_dir(&small)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        let _ = Command::new("umount").arg(&small).status();
        let err = stderr(&run);
        assert_eq!(run.status.code(), Some(1), "{err}");
        assert!(err.contains("disk that holds the output is full"), "{err}");
        assert!(left.is_empty(), "left on the full disk: {left:?}");
    }
    std::fs::remove_dir_all(dir).unwrap();
}
