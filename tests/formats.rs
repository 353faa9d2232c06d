//! Real-world media: each file is made with ffmpeg from the Hamilton clip (real footage) the
//! way phones, cameras, CCTV exports and editors write them, then redacted under a time
//! limit. Every one is either redacted — all video frames out at their input timestamps,
//! every audio packet of every audio stream kept, faces masked — or refused with one line.
//! The verification pass is off: this is about containers and codecs, not detection.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{ffmpeg, redact_within, run_within, stderr, temp_dir};

/// One stream of a file as ffprobe sees it: kind, codec, its packets' times in seconds and
/// (in stream order) their data's MD5 sums.
#[derive(Debug)]
struct Stream {
    kind: String,
    codec: String,
    width: u64,
    height: u64,
    times: Vec<f64>,
    hashes: Vec<String>,
}

fn probe(path: &Path) -> Vec<Stream> {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "stream=index,codec_type,codec_name,width,height:packet=stream_index,pts_time,data_hash",
            "-show_data_hash",
            "md5",
            "-of",
            "json",
        ])
        .arg(path)
        .output()
        .expect("ffprobe is installed (./setup)");
    assert!(
        out.status.success(),
        "ffprobe {}: {}",
        path.display(),
        stderr(&out)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut streams: Vec<Stream> = v["streams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| Stream {
            kind: s["codec_type"].as_str().unwrap_or_default().to_string(),
            codec: s["codec_name"].as_str().unwrap_or_default().to_string(),
            width: s["width"].as_u64().unwrap_or(0),
            height: s["height"].as_u64().unwrap_or(0),
            times: Vec::new(),
            hashes: Vec::new(),
        })
        .collect();
    for p in v["packets"].as_array().unwrap() {
        let i = p["stream_index"].as_u64().unwrap() as usize;
        let t = p["pts_time"]
            .as_str()
            .and_then(|t| t.parse().ok())
            .unwrap_or(f64::NAN);
        streams[i].times.push(t);
        let hash = p["data_hash"].as_str().unwrap_or_default().to_string();
        streams[i].hashes.push(hash);
    }
    for s in &mut streams {
        s.times.sort_by(f64::total_cmp);
    }
    streams
}

/// Times from the first video packet on (every stream shifted alike).
fn rebase(streams: &mut [Stream]) {
    let start = streams
        .iter()
        .find(|s| s.kind == "video")
        .and_then(|s| s.times.first().copied())
        .unwrap();
    for s in streams {
        for t in &mut s.times {
            *t -= start;
        }
    }
}

/// Masked faces from `redact run`'s summary line ("…, masked N face, …").
fn masked_faces(run: &Output) -> u64 {
    let text = String::from_utf8_lossy(&run.stdout).to_string() + &stderr(run);
    text.split("masked ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

struct Case {
    name: &'static str,
    ext: &'static str,
    /// ffmpeg options after `-i CLIP` (and `-i SUBTITLES` when `subtitles`).
    args: &'static [&'static str],
    subtitles: bool,
    /// A warning the run must print (what it could not keep).
    warns: Option<&'static str>,
}

const CASES: &[Case] = &[
    // CCTV and old cameras: AVI with audio (this waited forever on the muxer before).
    Case {
        name: "h264-mp3",
        ext: "avi",
        args: &["-c:v", "libx264", "-c:a", "libmp3lame"],
        subtitles: false,
        warns: None,
    },
    Case {
        name: "mjpeg-pcm",
        ext: "avi",
        args: &["-c:v", "mjpeg", "-q:v", "5", "-c:a", "pcm_s16le"],
        subtitles: false,
        warns: None,
    },
    // Phones and editors: HEVC 10-bit, VP9 and AV1.
    Case {
        name: "hevc10",
        ext: "mkv",
        args: &[
            "-c:v",
            "libx265",
            "-x265-params",
            "log-level=error",
            "-pix_fmt",
            "yuv420p10le",
            "-c:a",
            "aac",
        ],
        subtitles: false,
        warns: None,
    },
    Case {
        name: "vp9-opus",
        ext: "webm",
        args: &[
            "-c:v",
            "libvpx-vp9",
            "-deadline",
            "realtime",
            "-cpu-used",
            "8",
            "-c:a",
            "libopus",
        ],
        subtitles: false,
        warns: None,
    },
    Case {
        name: "av1",
        ext: "mkv",
        args: &["-c:v", "libsvtav1", "-preset", "12", "-c:a", "aac"],
        subtitles: false,
        warns: None,
    },
    // Broadcast and camcorders: interlaced MPEG-2 in a transport stream, H.264 with AC-3 in
    // M2TS (AVCHD).
    Case {
        name: "mpeg2-interlaced",
        ext: "ts",
        args: &[
            "-vf",
            "scale=720:576",
            "-c:v",
            "mpeg2video",
            "-b:v",
            "4M",
            "-flags",
            "+ilme+ildct",
            "-top",
            "1",
            "-c:a",
            "mp2",
            // Broadcast streams run at a constant rate with a steady clock; ffmpeg's
            // default variable-rate TS leaves GStreamer 1.22's tsdemux without timestamps
            // (the run warns: tested below).
            "-muxrate",
            "8M",
        ],
        subtitles: false,
        warns: None,
    },
    Case {
        name: "avchd",
        ext: "m2ts",
        args: &["-c:v", "libx264", "-c:a", "ac3", "-muxrate", "12M"],
        subtitles: false,
        warns: None,
    },
    // A camera MOV with a timecode track: copied with the audio, box for box.
    Case {
        name: "timecode",
        ext: "mov",
        args: &["-c:v", "libx264", "-c:a", "aac", "-timecode", "01:00:00:00"],
        subtitles: false,
        warns: None,
    },
    // ffmpeg's MP4: AAC with a priming packet at a negative time and an edit list; two
    // audio tracks and a subtitle track, all copied.
    Case {
        name: "two-audio-subs",
        ext: "mp4",
        args: &[
            "-map", "0:v", "-map", "0:a", "-map", "0:a", "-map", "1:s", "-c:v", "libx264", "-c:a",
            "aac", "-c:s", "mov_text",
        ],
        subtitles: true,
        warns: None,
    },
    // Two audio tracks and a subtitle track in MKV: both audio tracks kept, the subtitles
    // dropped (said).
    Case {
        name: "two-audio-subs",
        ext: "mkv",
        args: &[
            "-map", "0:v", "-map", "0:a", "-map", "0:a", "-map", "1:s", "-c:v", "libx264", "-c:a",
            "aac", "-c:s", "srt",
        ],
        subtitles: true,
        warns: Some("dropping"),
    },
    // An odd frame size (VP9 allows it; H.264 4:2:0 does not): kept, as H.264 4:4:4 (said).
    Case {
        name: "odd-size",
        ext: "mkv",
        args: &[
            "-vf",
            "scale=641:361",
            "-c:v",
            "libvpx-vp9",
            "-deadline",
            "realtime",
            "-cpu-used",
            "8",
            "-c:a",
            "aac",
        ],
        subtitles: false,
        warns: Some("encoded as H.264 4:4:4"),
    },
    // No audio at all; variable frame rate with a half-second gap.
    Case {
        name: "no-audio",
        ext: "mp4",
        args: &["-an", "-c:v", "libx264"],
        subtitles: false,
        warns: None,
    },
    Case {
        name: "vfr-gap",
        ext: "mp4",
        args: &[
            "-vf",
            "setpts='(N+floor(N/3)+if(gte(N\\,30)\\,15\\,0))/30/TB'",
            "-fps_mode",
            "vfr",
            "-c:v",
            "libx264",
            "-c:a",
            "aac",
        ],
        subtitles: false,
        warns: None,
    },
];

fn clip() -> Option<PathBuf> {
    Some(common::shared_data()?.join("video/short_hamilton_clip.mp4"))
}

#[test]
fn real_world_formats_are_redacted_with_every_frame_and_audio_packet() {
    let Some(clip) = clip() else {
        return;
    };
    let dir = temp_dir("formats");
    let subs = dir.join("subs.srt");
    std::fs::write(&subs, "1\n00:00:00,000 --> 00:00:01,500\nHello\n\n").unwrap();
    let mut failures = Vec::new();
    for case in CASES {
        let input = dir.join(format!("{}.{}", case.name, case.ext));
        let mut args = vec!["-t", "2", "-i", clip.to_str().unwrap()];
        if case.subtitles {
            args.extend(["-i", subs.to_str().unwrap()]);
        }
        args.extend(case.args);
        ffmpeg(&args, &input);
        let output = dir.join(format!("{}.out.{}", case.name, case.ext));
        let run = run_within(120, &input, &output, &["--no-verify"]);
        let err = stderr(&run);
        if !run.status.success() {
            failures.push(format!("{}: {:?} {err}", case.name, run.status));
            continue;
        }
        assert!(!err.contains("no timestamps"), "{}: {err}", case.name);
        if let Some(w) = case.warns {
            assert!(
                err.contains(w),
                "{}: expected a warning with '{w}': {err}",
                case.name
            );
        }
        assert!(
            masked_faces(&run) > 50,
            "{}: faces masked: {}",
            case.name,
            String::from_utf8_lossy(&run.stdout)
        );
        let (mut a, mut b) = (probe(&input), probe(&output));
        if matches!(case.ext, "ts" | "m2ts") {
            // Transport streams count from an arbitrary clock (ffmpeg starts at 1.4 s,
            // mpegtsmux at 1 h): compare times from the first video frame, for all streams.
            rebase(&mut a);
            rebase(&mut b);
        }
        let video = |s: &[Stream]| {
            s.iter()
                .find(|s| s.kind == "video")
                .map(|s| (s.width, s.height, s.times.clone()))
                .unwrap()
        };
        let (wa, ha, ta) = video(&a);
        let (wb, hb, tb) = video(&b);
        assert_eq!((wa, ha), (wb, hb), "{}: frame size", case.name);
        assert_eq!(ta.len(), tb.len(), "{}: video frames", case.name);
        let worst = ta
            .iter()
            .zip(&tb)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f64::max);
        assert!(
            worst < 0.0015,
            "{}: a frame moved by {worst:.4} s",
            case.name
        );
        // Audio: every packet at its time (ffmpeg's AAC priming packet at a negative time
        // included).
        let audio = |s: &[Stream]| -> Vec<(String, usize)> {
            s.iter()
                .filter(|s| s.kind == "audio")
                .map(|s| (s.codec.clone(), s.times.len()))
                .collect()
        };
        assert_eq!(
            audio(&a),
            audio(&b),
            "{}: audio streams and packets",
            case.name
        );
        let audio_of = |s: &'_ [Stream]| -> Vec<Vec<f64>> {
            s.iter()
                .filter(|s| s.kind == "audio")
                .map(|s| s.times.clone())
                .collect()
        };
        for (x, y) in audio_of(&a).iter().zip(&audio_of(&b)) {
            let worst = x
                .iter()
                .zip(y)
                .map(|(x, y)| (x - y).abs())
                .fold(0.0, f64::max);
            assert!(
                worst < 0.0015,
                "{}: an audio packet moved by {worst:.4} s",
                case.name
            );
        }
        // MP4/MOV: every track beside the video (audio, timecode, subtitles) copied verbatim,
        // packet for packet.
        if matches!(case.ext, "mp4" | "mov") {
            let others = |s: &[Stream]| -> Vec<(String, String, Vec<String>)> {
                s.iter()
                    .filter(|s| s.kind != "video")
                    .map(|s| (s.kind.clone(), s.codec.clone(), s.hashes.clone()))
                    .collect()
            };
            assert_eq!(others(&a), others(&b), "{}: copied tracks", case.name);
        }
        eprintln!(
            "{}.{}: {} {}x{} {} frames, audio {:?} -> {} {}x{}, same frames and audio",
            case.name,
            case.ext,
            a.iter().find(|s| s.kind == "video").unwrap().codec,
            wa,
            ha,
            ta.len(),
            audio(&a),
            b.iter().find(|s| s.kind == "video").unwrap().codec,
            wb,
            hb
        );
    }
    assert!(failures.is_empty(), "{failures:#?}");

    // ffmpeg's default (variable-rate) TS with MP2 audio: GStreamer 1.22's demuxer finds
    // no clock and gives no timestamps. The frames are all redacted and the user is told
    // that the audio is copied in order, without timing.
    let input = dir.join("vbr.ts");
    ffmpeg(
        &[
            "-t",
            "2",
            "-i",
            clip.to_str().unwrap(),
            "-c:v",
            "libx264",
            "-c:a",
            "mp2",
        ],
        &input,
    );
    let output = dir.join("vbr.out.ts");
    let run = run_within(120, &input, &output, &["--no-verify"]);
    let err = stderr(&run);
    assert!(run.status.success(), "vbr.ts: {err}");
    assert!(err.contains("has no timestamps"), "vbr.ts: {err}");
    let count = |p: &Path, kind: &str| {
        probe(p)
            .iter()
            .filter(|s| s.kind == kind)
            .map(|s| s.times.len())
            .sum::<usize>()
    };
    assert_eq!(
        count(&input, "video"),
        count(&output, "video"),
        "vbr.ts: video frames"
    );
    assert_eq!(
        count(&input, "audio"),
        count(&output, "audio"),
        "vbr.ts: audio packets"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn audio_only_files_are_refused_at_once() {
    let Some(clip) = clip() else {
        return;
    };
    let dir = temp_dir("audio-only");
    let input = dir.join("voice.mp4");
    ffmpeg(
        &[
            "-t",
            "2",
            "-i",
            clip.to_str().unwrap(),
            "-vn",
            "-c:a",
            "aac",
        ],
        &input,
    );
    let output = dir.join("out.mp4");
    for args in [
        vec![
            "run",
            input.to_str().unwrap(),
            "-o",
            output.to_str().unwrap(),
        ],
        vec![
            "run",
            input.to_str().unwrap(),
            "-o",
            output.to_str().unwrap(),
            "--no-audio",
        ],
        vec![
            "detect",
            input.to_str().unwrap(),
            "-o",
            output.to_str().unwrap(),
        ],
    ] {
        refused_without_video(&args, &output);
    }
    let left: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        left,
        vec![std::ffi::OsString::from("voice.mp4")],
        "nothing else written"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_video_track_much_shorter_than_its_audio_is_explained() {
    // GStreamer's MP4 demuxer skips a track under a fifth of the file's length as a
    // preview image: 1 s of video beside 9 s of audio reaches no decoder. The message
    // says so and how to cut the file; cut so, it is redacted.
    let Some(clip) = clip() else {
        return;
    };
    let dir = temp_dir("short-video");
    let input = dir.join("short-video.mp4");
    ffmpeg(
        &[
            "-t",
            "9",
            "-i",
            clip.to_str().unwrap(),
            "-filter_complex",
            "[0:v]trim=end_frame=30,setpts=PTS-STARTPTS[v]",
            "-map",
            "[v]",
            "-map",
            "0:a",
            "-c:v",
            "libx264",
            "-c:a",
            "aac",
        ],
        &input,
    );
    let output = dir.join("out.mp4");
    let args = [
        "run",
        input.to_str().unwrap(),
        "-o",
        output.to_str().unwrap(),
    ];
    let err = refused_without_video(&args, &output);
    assert!(err.contains("the video's length"), "says what to do: {err}");
    // What it says to do: cut to the video's second, and the file is redacted.
    let cut = dir.join("cut.mp4");
    ffmpeg(
        &["-i", input.to_str().unwrap(), "-c", "copy", "-t", "1"],
        &cut,
    );
    let run = run_within(120, &cut, &output, &["-q"]);
    assert_eq!(run.status.code(), Some(0), "the cut file: {}", stderr(&run));
    assert!(output.exists(), "the cut file is redacted");
    std::fs::remove_dir_all(dir).unwrap();
}

/// `redact ARGS` (`output` the file it would write) ends at once with exit code 1, one
/// line saying there is no video stream, and no output; that line.
fn refused_without_video(args: &[&str], output: &Path) -> String {
    let run = redact_within(60, args);
    let err = stderr(&run);
    assert_eq!(run.status.code(), Some(1), "{args:?}: {err}");
    assert!(err.contains("no video stream"), "{args:?}: {err}");
    assert_eq!(err.trim().lines().count(), 1, "{args:?}: one line: {err}");
    assert!(!output.exists(), "{args:?}: no output");
    err
}

/// A phone video: the pixels stored on their side with a rotation tag that stands them up
/// (made with ffmpeg: transposed, then tagged). Detection sees the upright picture (its
/// size, and within 10 % the boxes found on the upright clip: measured 267 vs 255, where the
/// picture on its side gives 313 at 360x640), and the output holds the upright pixels
/// without a tag, so it plays as the input did.
#[test]
fn rotated_phone_video_is_redacted_upright() {
    let Some(clip) = clip() else {
        return;
    };
    let dir = temp_dir("rotated");
    let upright = dir.join("upright.mp4");
    let sideways = dir.join("sideways.mp4");
    let phone = dir.join("phone.mp4");
    let clip = clip.to_str().unwrap();
    ffmpeg(
        &["-t", "3", "-i", clip, "-c:v", "libx264", "-c:a", "aac"],
        &upright,
    );
    ffmpeg(
        &[
            "-t",
            "3",
            "-i",
            clip,
            "-vf",
            "transpose=1",
            "-c:v",
            "libx264",
            "-c:a",
            "aac",
        ],
        &sideways,
    );
    ffmpeg(
        &[
            "-i",
            sideways.to_str().unwrap(),
            "-c",
            "copy",
            "-metadata:s:v:0",
            "rotate=90",
        ],
        &phone,
    );
    let faces = |path: &Path| {
        let d = common::plain_faces(path);
        let n: usize = d.frames.iter().map(|f| f.detections.len()).sum();
        (d.width, d.height, n)
    };
    let (uw, uh, up) = faces(&upright);
    let (sw, sh, side) = faces(&sideways);
    let (pw, ph, on_phone) = faces(&phone);
    eprintln!(
        "faces: upright {up} ({uw}x{uh}), on its side {side} ({sw}x{sh}), phone file {on_phone} ({pw}x{ph})"
    );
    assert_eq!(
        (pw, ph),
        (uw, uh),
        "detection sees the displayed orientation"
    );
    assert!(
        on_phone.abs_diff(up) * 10 <= up,
        "phone file {on_phone} faces vs upright {up} (on its side: {side})"
    );
    let out = dir.join("phone.out.mp4");
    let run = run_within(120, &phone, &out, &["--no-verify"]);
    assert!(run.status.success(), "{}", stderr(&run));
    let probe = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "stream_side_data=rotation:stream=width,height",
        ])
        .args(["-select_streams", "v:0", "-of", "csv=p=0"])
        .arg(&out)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&probe.stdout);
    assert_eq!(
        text.trim().trim_end_matches(','),
        format!("{uw},{uh}"),
        "upright pixels, no rotation tag: {text}"
    );
    let (a, b) = (probe_video_times(&phone), probe_video_times(&out));
    assert_eq!(a.len(), b.len(), "frames");
    std::fs::remove_dir_all(dir).unwrap();
}

fn probe_video_times(path: &Path) -> Vec<f64> {
    probe(path)
        .into_iter()
        .find(|s| s.kind == "video")
        .unwrap()
        .times
}

/// Peak memory (kB) and the output of `redact ARGS` run under GNU time.
fn redact_peak_kb(args: &[&str]) -> (Output, u64) {
    let out = Command::new("/usr/bin/time")
        .arg("-v")
        .arg(env!("CARGO_BIN_EXE_redact"))
        .args(args)
        .output()
        .expect("GNU time is installed (./setup)");
    let kb = stderr(&out)
        .lines()
        .find_map(|l| {
            l.trim()
                .strip_prefix("Maximum resident set size (kbytes): ")
        })
        .and_then(|v| v.trim().parse().ok())
        .unwrap();
    (out, kb)
}

/// A 12000x9000 photo and a 4K video: masked (no face found on the input is found again on
/// the output, checked at a size the plain detector handles) within a bounded peak memory
/// (measured 3.1 GB for the photo, whose models see it at 3840 px: at its own size it took
/// over 24 GB; 4K: the verification model at 3840x2160 on each worker).
#[test]
fn large_frames_are_masked_with_bounded_memory() {
    let Some(data) = common::shared_data() else {
        return;
    };
    let dir = temp_dir("large");
    let photo = dir.join("big.jpg");
    ffmpeg(
        &[
            "-i",
            data.join("faces-dlib/2008_002470.jpg").to_str().unwrap(),
            "-vf",
            "scale=12000:9000",
            "-q:v",
            "3",
        ],
        &photo,
    );
    let out = dir.join("big.out.jpg");
    let (run, kb) = redact_peak_kb(&["run", photo.to_str().unwrap(), "-o", out.to_str().unwrap()]);
    assert!(run.status.success(), "{}", stderr(&run));
    eprintln!("12000x9000 photo: peak {} MB", kb / 1024);
    assert!(kb < 6 << 20, "peak {} MB", kb / 1024);
    let (small_in, small_out) = (dir.join("in.jpg"), dir.join("out.jpg"));
    ffmpeg(
        &["-i", photo.to_str().unwrap(), "-vf", "scale=1500:1125"],
        &small_in,
    );
    ffmpeg(
        &["-i", out.to_str().unwrap(), "-vf", "scale=1500:1125"],
        &small_out,
    );
    let boxes = |p: &Path| -> Vec<[f64; 4]> {
        let d = common::plain_faces(p);
        d.frames
            .iter()
            .flat_map(|f| f.detections.iter().map(|x| x.bbox))
            .collect()
    };
    let before = boxes(&small_in);
    let after = boxes(&small_out);
    assert!(before.len() >= 5, "{before:?}");
    for b in &before {
        assert!(
            after.iter().all(|a| redact::eval::iou(a, b) < 0.3),
            "face {b:?} still found: {after:?}"
        );
    }

    let uhd = dir.join("uhd.mp4");
    let clip = data.join("video/short_hamilton_clip.mp4");
    ffmpeg(
        &[
            "-ss",
            "2",
            "-i",
            clip.to_str().unwrap(),
            "-frames:v",
            "10",
            "-vf",
            "scale=3840:2160",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-an",
        ],
        &uhd,
    );
    let out = dir.join("uhd.out.mp4");
    let (run, kb) = redact_peak_kb(&["run", uhd.to_str().unwrap(), "-o", out.to_str().unwrap()]);
    assert!(run.status.success(), "{}", stderr(&run));
    eprintln!("4K video, 10 frames: peak {} MB", kb / 1024);
    assert!(kb < 12 << 20, "peak {} MB", kb / 1024);
    let v = probe(&out).into_iter().find(|s| s.kind == "video").unwrap();
    assert_eq!((v.width, v.height, v.times.len()), (3840, 2160, 10));
    std::fs::remove_dir_all(dir).unwrap();
}
