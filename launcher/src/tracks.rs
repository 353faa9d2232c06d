//! The tracks beside the video of an MP4/MOV input — audio, timecode, subtitles — copied
//! verbatim into the redacted file after GStreamer has written its video
//! (`redact_formats::mp4copy`). GStreamer 1.22's MP4 demuxer drops the samples before an
//! edit list's start (ffmpeg's AAC priming packet), the edit list itself, and every
//! timecode and subtitle track; copied here, each keeps every sample and box.
//! Other containers, and MP4s that cannot be copied this way (fragmented, cut off, data in
//! another file), keep GStreamer's copy of the audio.

use std::io::{Seek, SeekFrom, Write};
use std::path::Path;

use redact_formats::mp4copy::{self, Tracks};

use crate::media::{self, FileAt};

/// The kinds of track copied: sound, timecode, QuickTime text, subtitles, closed captions.
const COPIED: &[[u8; 4]] = &[*b"soun", *b"tmcd", *b"text", *b"sbtl", *b"subt", *b"clcp"];

/// What a track kind is called in messages.
fn kind_name(handler: &[u8; 4]) -> String {
    match handler {
        b"soun" => "audio".into(),
        b"tmcd" => "timecode".into(),
        b"text" => "text".into(),
        b"sbtl" | b"subt" => "subtitle".into(),
        b"clcp" => "closed caption".into(),
        other => format!("'{}'", String::from_utf8_lossy(other)),
    }
}

/// The tracks of `input` (an MP4/MOV) to copy into its redacted file, audio left out when
/// `no_audio`; `None` when it is no MP4/MOV or cannot be copied verbatim (GStreamer then
/// copies the audio), and none to copy when the only ones were damaged (GStreamer copies
/// none either). Tracks that will be lost either way are named through `warn`.
pub fn mp4_tracks(input: &Path, no_audio: bool, warn: &dyn Fn(&str)) -> Option<Tracks> {
    if !matches!(media::extension(input).as_str(), "mp4" | "mov") {
        return None;
    }
    let (mut file, len) = FileAt::open(input)?;
    let kinds: Vec<[u8; 4]> = COPIED
        .iter()
        .filter(|k| !(no_audio && *k == b"soun"))
        .copied()
        .collect();
    let tracks = mp4copy::read_tracks(&mut file, len, &kinds);
    // Video is redacted, audio dropped on request or copied by GStreamer, the rest lost.
    let (lost, why): (Vec<[u8; 4]>, String) = match &tracks {
        Ok(t) => (t.skipped().to_vec(), String::new()),
        Err(e) => (
            redact_formats::mp4::file_track_handlers(&mut file, len),
            format!(" ({e})"),
        ),
    };
    for handler in lost.iter().filter(|h| *h != b"vide" && *h != b"soun") {
        warn(&format!(
            "{}: its {} track cannot be copied{why}: the output has none",
            input.display(),
            kind_name(handler)
        ));
    }
    // A damaged track is neither copied nor left to GStreamer (whose copy of it, muxed
    // without a sample description, made the output unreadable).
    for (handler, damage) in tracks.iter().flat_map(|t| t.damaged()) {
        warn(&format!(
            "{}: its {} track is damaged ({damage}): it is left out of the output",
            input.display(),
            kind_name(handler)
        ));
    }
    tracks
        .ok()
        .filter(|t| !t.is_empty() || !t.damaged().is_empty())
}

/// Appends `tracks`, read from `input`, to the redacted MP4/MOV file at `output`.
pub fn append(input: &Path, output: &Path, tracks: &Tracks) -> Result<(), String> {
    // Through `explain`, which adds the hint for a full disk.
    let failed = |e: &dyn std::fmt::Display| {
        crate::pipeline::explain(
            output,
            &format!(
                "cannot copy the audio and other tracks of {}: {e}",
                input.display()
            ),
            None,
        )
    };
    let (mut source, _) = FileAt::open(input).ok_or_else(|| failed(&"it cannot be read"))?;
    let mut out = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(output)
        .map_err(|e| failed(&e))?;
    let len = out.metadata().map_err(|e| failed(&e))?.len();
    let plan = {
        let mut reader = FileAt::from(out.try_clone().map_err(|e| failed(&e))?);
        mp4copy::plan_append(&mut reader, len, tracks).map_err(|e| failed(&e))?
    };
    let mut write = |out: &mut std::fs::File| -> std::io::Result<()> {
        if let Some(at) = plan.free_at {
            out.seek(SeekFrom::Start(at + 4))?;
            out.write_all(b"free")?;
        }
        out.set_len(plan.truncate_to)?;
        out.seek(SeekFrom::End(0))?;
        let mut writer = std::io::BufWriter::with_capacity(1 << 20, out);
        writer.write_all(&plan.head)?;
        let mut buf = vec![0u8; 1 << 20];
        for &(from, size) in &plan.copies {
            let mut done = 0u64;
            while done < size {
                let n = (size - done).min(buf.len() as u64) as usize;
                if redact_formats::truncation::ReadAt::read_at(
                    &mut source,
                    from + done,
                    &mut buf[..n],
                ) < n
                {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        "the input changed while it was redacted",
                    ));
                }
                writer.write_all(&buf[..n])?;
                done += n as u64;
            }
        }
        writer.write_all(&plan.moov)?;
        writer.flush()
    };
    write(&mut out).map_err(|e| failed(&e))
}
