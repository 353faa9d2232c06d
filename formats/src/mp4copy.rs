//! Copies tracks of an MP4/MOV file verbatim into another one: the audio, timecode and
//! subtitle tracks of an input, into the redacted file GStreamer wrote with the video only.
//!
//! GStreamer 1.22's MP4 demuxer applies a track's edit list when it reads it: ffmpeg's AAC
//! priming packet (before the edit's start) is never delivered, the edit list is lost, and
//! timecode and subtitle tracks are not exposed at all. Copied here box by box, a track keeps
//! every sample, its sample tables, its edit list and its codec setup; only its track id,
//! its durations (in the new file's movie time scale) and its chunk offsets change.
//!
//! Only chunks of the copied tracks are copied, never a byte of another track: a chunk that
//! overlaps another track's data (the video, which must not reach the output unredacted)
//! makes the file not copyable, and the caller falls back to GStreamer's own copy.
//!
//! No file access: the input and the output are read through [`ReadAt`]; [`plan_append`]
//! says what to write, and the caller writes it.

use crate::mp4::{box_header, child, children, find_moov, handler, walk};
use crate::truncation::ReadAt;

/// The tracks to copy from one input file.
#[derive(Debug, Clone)]
pub struct Tracks {
    /// The input's movie time scale (the unit of track durations and edit lists).
    timescale: u32,
    tracks: Vec<Track>,
    /// The handler types of the input's tracks that are not copied (the video among them).
    skipped: Vec<[u8; 4]>,
    /// Tracks of the kinds asked for that are not copied because they are damaged: their
    /// handler type and why.
    damaged: Vec<([u8; 4], String)>,
    /// How late the input's first video track starts (its leading empty edits), in the
    /// input's movie time scale: GStreamer writes the redacted video from time 0 when it
    /// is alone in the file, so the output's video is delayed by as much again.
    video_delay: u64,
}

#[derive(Debug, Clone)]
struct Track {
    handler: [u8; 4],
    /// The whole `trak` box, as in the input.
    trak: Vec<u8>,
    /// Its chunks in the input: (offset, length), in the order of its chunk offset table.
    chunks: Vec<(u64, u64)>,
}

impl Tracks {
    /// The handler types of the tracks, in order (`soun`, `tmcd`, …).
    pub fn handlers(&self) -> Vec<[u8; 4]> {
        self.tracks.iter().map(|t| t.handler).collect()
    }

    pub fn is_empty(&self) -> bool {
        self.tracks.is_empty()
    }

    /// The handler types of the input's other tracks (not copied).
    pub fn skipped(&self) -> &[[u8; 4]] {
        &self.skipped
    }

    /// The tracks of the kinds asked for that are damaged, not copied: handler type, why.
    pub fn damaged(&self) -> &[([u8; 4], String)] {
        &self.damaged
    }

    /// The bytes of sample data to copy.
    pub fn data_len(&self) -> u64 {
        self.tracks
            .iter()
            .flat_map(|t| &t.chunks)
            .map(|c| c.1)
            .sum()
    }
}

/// What to do to the output file, in this order: rename the box at `free_at` (the old
/// `moov`) to `free` by writing `b"free"` at `free_at + 4`; cut the file to `truncate_to`
/// bytes; append `head`, then the input's byte ranges `copies` (offset, length), then `moov`.
#[derive(Debug, Clone, PartialEq)]
pub struct Append {
    pub free_at: Option<u64>,
    pub truncate_to: u64,
    pub head: Vec<u8>,
    pub copies: Vec<(u64, u64)>,
    pub moov: Vec<u8>,
}

/// The tracks of the MP4/MOV file read through `file` (`len` bytes) whose handler is one
/// of `kinds`, ready to copy; an error says why they cannot be copied verbatim (then none
/// is): not an MP4, fragmented, sample data in another file, a sample table that does not
/// add up, data past the end of the file or shared with another track. A track whose
/// sample description is damaged is left out ([`Tracks::damaged`]): copied, it would make
/// the whole output unreadable.
pub fn read_tracks(file: &mut impl ReadAt, len: u64, kinds: &[[u8; 4]]) -> Result<Tracks, String> {
    let (_, _, moov) = find_moov(file, len)?;
    let children = children(&moov).ok_or("its movie header is damaged")?;
    if children.iter().any(|c| &c.kind == b"mvex") {
        return Err("it is a fragmented MP4".into());
    }
    let mvhd = children
        .iter()
        .find(|c| &c.kind == b"mvhd")
        .ok_or("it has no movie header")?;
    let timescale = movie_header(mvhd.body)?.timescale;
    let mut tracks = Vec::new();
    let mut others = Vec::new();
    let mut skipped = Vec::new();
    let mut damaged = Vec::new();
    for trak in children.iter().filter(|c| &c.kind == b"trak") {
        let handler = handler(trak.body).ok_or("a track has no handler")?;
        let chunks = track_chunks(trak.body, &handler)?;
        if let Some(&(offset, size)) = chunks
            .iter()
            .find(|&&(o, s)| o.checked_add(s).is_none_or(|end| end > len))
        {
            return Err(format!(
                "a {} track's data ({size} bytes at {offset}) lies past the end of the file",
                fourcc(&handler)
            ));
        }
        if !kinds.contains(&handler) {
            others.extend(chunks);
            skipped.push(handler);
        } else if let Some(why) = sample_description_damage(trak.body) {
            others.extend(chunks);
            damaged.push((handler, why));
        } else {
            tracks.push(Track {
                handler,
                trak: trak.whole.to_vec(),
                chunks,
            });
        }
    }
    // Never a byte of another track (the video): sorted ranges, checked pairwise.
    let mut all: Vec<(u64, u64, bool)> = others
        .iter()
        .map(|&(o, s)| (o, s, false))
        .chain(
            tracks
                .iter()
                .flat_map(|t| &t.chunks)
                .map(|&(o, s)| (o, s, true)),
        )
        .filter(|c| c.1 > 0)
        .collect();
    all.sort_unstable();
    for pair in all.windows(2) {
        let (a, b) = (pair[0], pair[1]);
        if a.0 + a.1 > b.0 && (a.2 || b.2) {
            return Err(format!(
                "the data of the tracks to copy overlaps another track's at byte {}",
                b.0
            ));
        }
    }
    let video_delay = children
        .iter()
        .filter(|c| &c.kind == b"trak")
        .find(|c| handler(c.body) == Some(*b"vide"))
        .map_or(0, |c| leading_empty_edits(c.body));
    Ok(Tracks {
        timescale,
        tracks,
        skipped,
        damaged,
        video_delay,
    })
}

/// What is wrong with a track's sample description (`mdia/minf/stbl/stsd`, given the
/// `trak` body), which says how its samples are coded: missing, no entry, an entry that
/// does not fit, or a format of four zero bytes (zeroed; old QuickTime formats such as
/// `ms\0\x11` are not all printable, so nothing more is asked of it).
/// ffmpeg refuses a whole file with such a track ("invalid STSD entries"), and GStreamer's
/// demuxer calls it corrupt.
fn sample_description_damage(trak: &[u8]) -> Option<String> {
    let Some(stsd) = child(trak, b"mdia")
        .and_then(|m| child(m, b"minf"))
        .and_then(|m| child(m, b"stbl"))
        .and_then(|s| child(s, b"stsd"))
    else {
        return Some("its sample description is missing".into());
    };
    let count = u32_at(stsd, 4).unwrap_or(0);
    if count == 0 {
        return Some("its sample description has no entry".into());
    }
    let entries = stsd.get(8..).map(walk).map(|(e, _)| e).unwrap_or_default();
    // A sample entry: size and format (8), reserved (6), data reference index (2).
    if entries.len() != count as usize || entries.iter().any(|e| e.whole.len() < 16) {
        return Some(format!(
            "its sample description is cut short: {count} entries declared, {} readable",
            entries.iter().filter(|e| e.whole.len() >= 16).count()
        ));
    }
    entries
        .iter()
        .any(|e| e.kind == [0; 4])
        .then(|| "its sample format is zeroed".into())
}

/// How to append `tracks` (read from `input`) to the MP4/MOV file read through `output`
/// (`len` bytes): their sample data in a new `mdat`, their `trak` boxes in a new `moov`
/// with new track ids, durations in the output's movie time scale and chunk offsets into
/// the new `mdat`. The old `moov` is cut off when it ends the file, else turned into `free`.
pub fn plan_append(output: &mut impl ReadAt, len: u64, tracks: &Tracks) -> Result<Append, String> {
    let (moov_at, moov_size, moov) = find_moov(output, len)?;
    let children = children(&moov).ok_or("the redacted file's movie header is damaged")?;
    let mvhd = children
        .iter()
        .find(|c| &c.kind == b"mvhd")
        .ok_or("the redacted file has no movie header")?;
    let header = movie_header(mvhd.body)?;
    let mut next_id = header.next_track_id;
    for trak in children.iter().filter(|c| &c.kind == b"trak") {
        if let Some(id) = track_id(trak.body) {
            next_id = next_id.max(id.saturating_add(1));
        }
    }
    let (free_at, truncate_to) = if moov_at + moov_size == len {
        (None, moov_at)
    } else {
        (Some(moov_at), len)
    };
    let data_len = tracks.data_len();
    let head = box_head(b"mdat", data_len);
    let mut offset = truncate_to + head.len() as u64;
    let mut copies: Vec<(u64, u64)> = Vec::new();
    let mut traks = Vec::new();
    let mut duration = header.duration;
    for track in &tracks.tracks {
        let mut offsets = Vec::with_capacity(track.chunks.len());
        for &(from, size) in &track.chunks {
            offsets.push(offset);
            offset += size;
            match copies.last_mut() {
                Some(last) if last.0 + last.1 == from => last.1 += size,
                _ if size > 0 => copies.push((from, size)),
                _ => {}
            }
        }
        let id = next_id;
        next_id = next_id.checked_add(1).ok_or("too many tracks")?;
        let edit = Edit {
            id,
            from: tracks.timescale,
            to: header.timescale,
            offsets: &offsets,
        };
        let trak = edit
            .rewrite(&track.trak)
            .ok_or("a copied track's boxes are damaged")?;
        let (_, header, _) =
            box_header(&trak, trak.len() as u64).ok_or("a copied track is damaged")?;
        if let Some(d) = track_duration(&trak[header as usize..]) {
            duration = duration.max(d);
        }
        traks.push(trak);
    }
    // The new moov: the movie header with the next free id and the longest duration, the
    // old children, the copied tracks after the last old track.
    let last_trak = children.iter().rposition(|c| &c.kind == b"trak");
    // The video starts as late as in the input (an empty edit put before its own).
    let first_video = children
        .iter()
        .position(|c| &c.kind == b"trak" && handler(c.body) == Some(*b"vide"));
    let wanted = rescale(tracks.video_delay, tracks.timescale, header.timescale);
    let mut body = Vec::with_capacity(moov.len() + traks.iter().map(Vec::len).sum::<usize>());
    let mut mvhd_at = None;
    for (i, child) in children.iter().enumerate() {
        if &child.kind == b"mvhd" {
            // Written below, once the duration is known.
            mvhd_at = Some(body.len());
        } else {
            let have = leading_empty_edits(child.body);
            match (Some(i) == first_video && wanted > have)
                .then(|| delay_track(child.whole, wanted - have))
            {
                Some(Some((trak, added))) => {
                    duration = duration.max(added);
                    body.extend(trak);
                }
                Some(None) => return Err("the redacted file's video track is damaged".into()),
                None => body.extend_from_slice(child.whole),
            }
        }
        if Some(i) == last_trak || (last_trak.is_none() && &child.kind == b"mvhd") {
            for trak in &traks {
                body.extend_from_slice(trak);
            }
        }
    }
    if let Some(at) = mvhd_at {
        let mvhd = children
            .iter()
            .find(|c| &c.kind == b"mvhd")
            .expect("found above");
        let mut mvhd = mvhd.body.to_vec();
        set_movie_header(&mut mvhd, next_id, duration);
        body.splice(at..at, boxed(b"mvhd", &mvhd));
    }
    Ok(Append {
        free_at,
        truncate_to,
        head,
        copies,
        moov: boxed(b"moov", &body),
    })
}

/// A box of `kind` around `body`, with a 64-bit size when it needs one.
fn boxed(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
    let mut out = box_head(kind, body.len() as u64);
    out.extend_from_slice(body);
    out
}

/// The header of a box of `kind` with `body_len` bytes of body.
fn box_head(kind: &[u8; 4], body_len: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(16);
    match u32::try_from(body_len + 8) {
        Ok(size) => {
            out.extend(size.to_be_bytes());
            out.extend(kind);
        }
        Err(_) => {
            out.extend(1u32.to_be_bytes());
            out.extend(kind);
            out.extend((body_len + 16).to_be_bytes());
        }
    }
    out
}

fn fourcc(kind: &[u8; 4]) -> String {
    kind.iter()
        .map(|&b| if b.is_ascii_graphic() { b as char } else { '?' })
        .collect()
}

fn u32_at(data: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(data.get(at..at + 4)?.try_into().ok()?))
}

fn u64_at(data: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_be_bytes(data.get(at..at + 8)?.try_into().ok()?))
}

struct MovieHeader {
    timescale: u32,
    duration: u64,
    next_track_id: u32,
}

/// `mvhd`: version 0 has 32-bit times, version 1 64-bit; the next track id is its last field.
fn movie_header(mvhd: &[u8]) -> Result<MovieHeader, String> {
    let bad = || "its movie header is damaged".to_string();
    let (timescale, duration) = match mvhd.first() {
        Some(0) => (u32_at(mvhd, 12), u32_at(mvhd, 16).map(u64::from)),
        Some(1) => (u32_at(mvhd, 20), u64_at(mvhd, 24)),
        _ => (None, None),
    };
    let next_track_id = mvhd
        .len()
        .checked_sub(4)
        .and_then(|at| u32_at(mvhd, at))
        .ok_or_else(bad)?;
    match (timescale, duration) {
        (Some(t), Some(duration)) if t > 0 && mvhd.len() >= 100 => Ok(MovieHeader {
            timescale: t,
            duration,
            next_track_id,
        }),
        _ => Err(bad()),
    }
}

fn set_movie_header(mvhd: &mut [u8], next_track_id: u32, duration: u64) {
    let n = mvhd.len();
    mvhd[n - 4..].copy_from_slice(&next_track_id.to_be_bytes());
    if mvhd[0] == 1 {
        mvhd[24..32].copy_from_slice(&duration.to_be_bytes());
    } else {
        mvhd[16..20].copy_from_slice(&saturate(duration).to_be_bytes());
    }
}

/// A duration from one time scale to another, rounded.
fn rescale(v: u64, from: u32, to: u32) -> u64 {
    let v = u128::from(v) * u128::from(to) + u128::from(from.max(1)) / 2;
    u64::try_from(v / u128::from(from.max(1))).unwrap_or(u64::MAX)
}

/// The entries of an `elst` body: (segment duration, media time).
fn edits(elst: &[u8]) -> Option<Vec<(u64, i64)>> {
    let n = u32_at(elst, 4)? as usize;
    let wide = *elst.first()? == 1;
    let entry = if wide { 20 } else { 12 };
    if elst.len() < 8 + n.checked_mul(entry)? {
        return None;
    }
    Some(
        (0..n)
            .map(|i| {
                let at = 8 + i * entry;
                if wide {
                    (
                        u64_at(elst, at).unwrap(),
                        u64_at(elst, at + 8).unwrap() as i64,
                    )
                } else {
                    (
                        u64::from(u32_at(elst, at).unwrap()),
                        i64::from(u32_at(elst, at + 4).unwrap() as i32),
                    )
                }
            })
            .collect(),
    )
}

/// How late a track (`trak` body) starts: its leading empty edits, in movie time.
fn leading_empty_edits(trak: &[u8]) -> u64 {
    child(trak, b"edts")
        .and_then(|e| child(e, b"elst"))
        .and_then(edits)
        .map_or(0, |e| {
            e.iter()
                .take_while(|(_, t)| *t == -1)
                .map(|(d, _)| *d)
                .sum()
        })
}

/// A `trak` box (`whole`) that starts `delay` later (movie time): an empty edit before its
/// edit list (one made from its duration when it has none), its duration grown to match.
/// Also the new track duration.
fn delay_track(whole: &[u8], delay: u64) -> Option<(Vec<u8>, u64)> {
    let (_, header, _) = box_header(whole, whole.len() as u64)?;
    let body = &whole[header as usize..];
    let tkhd = child(body, b"tkhd")?;
    let (_, at, width) = tkhd_fields(tkhd)?;
    let duration = track_duration(body)?;
    let mut list = child(body, b"edts")
        .and_then(|e| child(e, b"elst"))
        .and_then(edits)
        .unwrap_or_else(|| vec![(duration, 0)]);
    list.insert(0, (delay, -1));
    let mut elst = vec![1, 0, 0, 0];
    elst.extend((list.len() as u32).to_be_bytes());
    for (d, t) in &list {
        elst.extend(d.to_be_bytes());
        elst.extend(t.to_be_bytes());
        elst.extend(0x0001_0000u32.to_be_bytes());
    }
    let edts = boxed(b"edts", &boxed(b"elst", &elst));
    let total = duration.saturating_add(delay);
    let mut out = Vec::with_capacity(body.len() + edts.len());
    let mut placed = false;
    for part in children(body)? {
        match &part.kind {
            b"edts" => {}
            b"tkhd" => {
                let mut tkhd = part.body.to_vec();
                if width == 8 {
                    tkhd[at..at + 8].copy_from_slice(&total.to_be_bytes());
                } else {
                    tkhd[at..at + 4].copy_from_slice(&saturate(total).to_be_bytes());
                }
                out.extend(boxed(b"tkhd", &tkhd));
                out.extend_from_slice(&edts);
                placed = true;
            }
            _ => out.extend_from_slice(part.whole),
        }
    }
    placed.then(|| (boxed(b"trak", &out), total))
}

fn saturate(v: u64) -> u32 {
    u32::try_from(v).unwrap_or(u32::MAX)
}

/// Where `tkhd` keeps (track id, duration): (offset of the id, offset and width of the
/// duration).
fn tkhd_fields(tkhd: &[u8]) -> Option<(usize, usize, usize)> {
    match tkhd.first()? {
        0 if tkhd.len() >= 84 => Some((12, 20, 4)),
        1 if tkhd.len() >= 96 => Some((20, 28, 8)),
        _ => None,
    }
}

fn track_id(trak: &[u8]) -> Option<u32> {
    let tkhd = child(trak, b"tkhd")?;
    u32_at(tkhd, tkhd_fields(tkhd)?.0)
}

fn track_duration(trak: &[u8]) -> Option<u64> {
    let tkhd = child(trak, b"tkhd")?;
    let (_, at, width) = tkhd_fields(tkhd)?;
    if width == 8 {
        u64_at(tkhd, at)
    } else {
        u32_at(tkhd, at).map(u64::from)
    }
}

/// The chunks of a track (`trak` body): offsets from `stco`/`co64`, lengths from the
/// samples `stsc` puts in each chunk and their sizes in `stsz`.
fn track_chunks(trak: &[u8], handler: &[u8; 4]) -> Result<Vec<(u64, u64)>, String> {
    let name = fourcc(handler);
    let bad = |what: &str| format!("its {name} track's {what} is damaged or missing");
    let minf = child(trak, b"mdia")
        .and_then(|m| child(m, b"minf"))
        .ok_or_else(|| bad("media box"))?;
    // Data in the file itself (a reference to another file has flag 1 clear).
    if let Some(dref) = child(minf, b"dinf").and_then(|d| child(d, b"dref"))
        && let Some(entries) = dref.get(8..).and_then(children)
        && entries
            .iter()
            .any(|e| e.body.get(3).is_none_or(|f| f & 1 == 0))
    {
        return Err(format!("its {name} track's data is in another file"));
    }
    let stbl = child(minf, b"stbl").ok_or_else(|| bad("sample table"))?;
    // Chunk offsets: 32-bit (`stco`) or 64-bit (`co64`).
    let (table, width) = match (child(stbl, b"stco"), child(stbl, b"co64")) {
        (Some(t), _) => (t, 4),
        (None, Some(t)) => (t, 8),
        (None, None) => return Err(bad("chunk offset table")),
    };
    let n = u32_at(table, 4).ok_or_else(|| bad("chunk offset table"))? as usize;
    let offsets: Vec<u64> = table
        .get(
            8..8 + n
                .checked_mul(width)
                .ok_or_else(|| bad("chunk offset table"))?,
        )
        .ok_or_else(|| bad("chunk offset table"))?
        .chunks_exact(width)
        .map(|c| c.iter().fold(0u64, |v, &byte| (v << 8) | u64::from(byte)))
        .collect();
    if child(stbl, b"stz2").is_some() {
        return Err(format!("its {name} track has compact sample sizes (stz2)"));
    }
    let stsz = child(stbl, b"stsz").ok_or_else(|| bad("sample size table"))?;
    let (constant, count) = (
        u32_at(stsz, 4).ok_or_else(|| bad("sample size table"))?,
        u32_at(stsz, 8).ok_or_else(|| bad("sample size table"))? as usize,
    );
    if constant == 1 && handler == b"soun" {
        // QuickTime's uncompressed sound counts samples of one byte each whatever their
        // real size: the chunk lengths cannot be read from this table.
        return Err(format!(
            "its {name} track uses QuickTime's uncompressed sample counting"
        ));
    }
    let sizes = if constant == 0 {
        stsz.get(
            12..12
                + count
                    .checked_mul(4)
                    .ok_or_else(|| bad("sample size table"))?,
        )
        .ok_or_else(|| bad("sample size table"))?
    } else {
        &[]
    };
    let size_of = |i: usize| -> u64 {
        if constant == 0 {
            u64::from(u32::from_be_bytes(
                sizes[i * 4..i * 4 + 4].try_into().unwrap(),
            ))
        } else {
            u64::from(constant)
        }
    };
    let stsc = child(stbl, b"stsc").ok_or_else(|| bad("sample-to-chunk table"))?;
    let n = u32_at(stsc, 4).ok_or_else(|| bad("sample-to-chunk table"))? as usize;
    let runs = stsc
        .get(
            8..8 + n
                .checked_mul(12)
                .ok_or_else(|| bad("sample-to-chunk table"))?,
        )
        .ok_or_else(|| bad("sample-to-chunk table"))?;
    let runs: Vec<(usize, u64)> = runs
        .chunks_exact(12)
        .map(|r| {
            (
                u32::from_be_bytes(r[..4].try_into().unwrap()) as usize,
                u64::from(u32::from_be_bytes(r[4..8].try_into().unwrap())),
            )
        })
        .collect();
    if runs.first().is_some_and(|r| r.0 != 1) || runs.windows(2).any(|w| w[1].0 <= w[0].0) {
        return Err(bad("sample-to-chunk table"));
    }
    let mut chunks = Vec::with_capacity(offsets.len());
    let mut sample = 0usize;
    let mut run = 0usize;
    for (i, &offset) in offsets.iter().enumerate() {
        while run + 1 < runs.len() && runs[run + 1].0 <= i + 1 {
            run += 1;
        }
        let per_chunk = runs.get(run).map_or(0, |r| r.1);
        let end = (sample as u64)
            .checked_add(per_chunk)
            .filter(|&e| e <= count as u64)
            .ok_or_else(|| bad("sample table (more samples in chunks than sizes)"))?
            as usize;
        let length = if constant == 0 {
            (sample..end).map(size_of).sum()
        } else {
            u64::from(constant) * per_chunk
        };
        chunks.push((offset, length));
        sample = end;
    }
    if sample != count {
        return Err(bad("sample table (fewer samples in chunks than sizes)"));
    }
    Ok(chunks)
}

/// What changes in a copied `trak`.
struct Edit<'a> {
    id: u32,
    /// Movie time scales: the input's and the output's.
    from: u32,
    to: u32,
    /// The chunks' new offsets, in table order.
    offsets: &'a [u64],
}

impl Edit<'_> {
    /// `whole` (a box, header included) rewritten; `Some(empty)` for a box left out.
    fn rewrite(&self, whole: &[u8]) -> Option<Vec<u8>> {
        let (kind, header, _) = box_header(whole, whole.len() as u64)?;
        let body = &whole[header as usize..];
        match &kind {
            b"trak" | b"edts" | b"mdia" | b"minf" | b"stbl" => {
                let mut out = Vec::with_capacity(body.len());
                let parts = children(body)?;
                let used: usize = parts.iter().map(|c| c.whole.len()).sum();
                for part in &parts {
                    out.extend(self.rewrite(part.whole)?);
                }
                out.extend_from_slice(&body[used..]);
                Some(boxed(&kind, &out))
            }
            b"tkhd" => {
                let mut tkhd = body.to_vec();
                let (id_at, at, width) = tkhd_fields(&tkhd)?;
                tkhd[id_at..id_at + 4].copy_from_slice(&self.id.to_be_bytes());
                self.rescale_at(&mut tkhd, at, width);
                Some(boxed(b"tkhd", &tkhd))
            }
            b"elst" => {
                let mut elst = body.to_vec();
                let n = u32_at(&elst, 4)? as usize;
                // Version 0: (duration u32, media time i32, rate); version 1: u64, i64.
                let (width, entry) = if elst.first()? == &1 {
                    (8, 20)
                } else {
                    (4, 12)
                };
                if elst.len() < 8 + n.checked_mul(entry)? {
                    return None;
                }
                for i in 0..n {
                    self.rescale_at(&mut elst, 8 + i * entry, width);
                }
                Some(boxed(b"elst", &elst))
            }
            b"stco" | b"co64" => {
                let wide = self
                    .offsets
                    .last()
                    .is_some_and(|&o| o > u64::from(u32::MAX));
                let mut table = vec![0u8; 4];
                table.extend((self.offsets.len() as u32).to_be_bytes());
                for &o in self.offsets {
                    if wide {
                        table.extend(o.to_be_bytes());
                    } else {
                        table.extend((o as u32).to_be_bytes());
                    }
                }
                Some(boxed(if wide { b"co64" } else { b"stco" }, &table))
            }
            // References to other tracks by id: the ids change.
            b"tref" => Some(Vec::new()),
            _ => Some(whole.to_vec()),
        }
    }

    /// A duration in movie time at `data[at..at + width]`, from the input's scale to the
    /// output's (rounded; all ones, "unknown", kept).
    fn rescale_at(&self, data: &mut [u8], at: usize, width: usize) {
        let convert = |v: u64| rescale(v, self.from, self.to);
        if width == 8 {
            let v = u64::from_be_bytes(data[at..at + 8].try_into().unwrap());
            if v != u64::MAX {
                data[at..at + 8].copy_from_slice(&convert(v).to_be_bytes());
            }
        } else {
            let v = u32::from_be_bytes(data[at..at + 4].try_into().unwrap());
            if v != u32::MAX {
                data[at..at + 4].copy_from_slice(&saturate(convert(u64::from(v))).to_be_bytes());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mp4::walk;

    fn bx(kind: &[u8; 4], parts: &[&[u8]]) -> Vec<u8> {
        boxed(kind, &parts.concat())
    }

    fn be(v: u32) -> [u8; 4] {
        v.to_be_bytes()
    }

    fn mvhd(timescale: u32, duration: u32, next: u32) -> Vec<u8> {
        let mut body = vec![0u8; 100];
        body[12..16].copy_from_slice(&be(timescale));
        body[16..20].copy_from_slice(&be(duration));
        body[96..100].copy_from_slice(&be(next));
        boxed(b"mvhd", &body)
    }

    fn tkhd(id: u32, duration: u32) -> Vec<u8> {
        let mut body = vec![0u8; 84];
        body[12..16].copy_from_slice(&be(id));
        body[20..24].copy_from_slice(&be(duration));
        boxed(b"tkhd", &body)
    }

    /// A track: handler, optional edit (duration, media time), chunk offsets, samples per
    /// chunk (one run), sample sizes.
    fn trak(
        id: u32,
        handler: &[u8; 4],
        edit: Option<(u32, i32)>,
        offsets: &[u32],
        per_chunk: u32,
        sizes: &[u32],
    ) -> Vec<u8> {
        let hdlr = bx(b"hdlr", &[&[0; 8], handler, &[0; 12]]);
        let entry = if handler == b"vide" { b"avc1" } else { b"mp4a" };
        let stco: Vec<u8> = [be(0), be(offsets.len() as u32)]
            .into_iter()
            .chain(offsets.iter().map(|o| be(*o)))
            .flatten()
            .collect();
        let stsz: Vec<u8> = [be(0), be(0), be(sizes.len() as u32)]
            .into_iter()
            .chain(sizes.iter().map(|s| be(*s)))
            .flatten()
            .collect();
        let stsc = [be(0), be(1), be(1), be(per_chunk), be(1)].concat();
        let stbl = bx(
            b"stbl",
            &[
                &bx(b"stsd", &[&be(0), &be(1), &bx(entry, &[&[0; 8]])]),
                &bx(b"stsc", &[&stsc]),
                &bx(b"stsz", &[&stsz]),
                &bx(b"stco", &[&stco]),
            ],
        );
        let dref = bx(b"dref", &[&be(0), &be(1), &bx(b"url ", &[&be(1)])]);
        let minf = bx(b"minf", &[&bx(b"dinf", &[&dref]), &stbl]);
        let edts = edit.map(|(d, t)| {
            bx(
                b"edts",
                &[&bx(
                    b"elst",
                    &[&be(0), &be(1), &be(d), &t.to_be_bytes(), &be(0x10000)],
                )],
            )
        });
        bx(
            b"trak",
            &[
                &tkhd(id, 2000),
                &bx(b"tref", &[&bx(b"chap", &[&be(7)])]),
                edts.as_deref().unwrap_or_default(),
                &bx(b"mdia", &[&hdlr, &minf]),
            ],
        )
    }

    /// An input: video chunks of 10 bytes (value 0xV), audio chunks of two samples (3 + 4
    /// bytes, values 0xA), interleaved in one mdat; movie time scale 1000.
    fn input() -> Vec<u8> {
        let ftyp = bx(b"ftyp", &[b"isom", &[0; 4]]);
        let base = ftyp.len() as u32 + 8;
        let mut data = Vec::new();
        let (mut video, mut audio) = (Vec::new(), Vec::new());
        for i in 0..3u8 {
            video.push(base + data.len() as u32);
            data.extend([0xF0 | i; 10]);
            audio.push(base + data.len() as u32);
            data.extend([0xA0 | i; 7]);
        }
        let moov = bx(
            b"moov",
            &[
                &mvhd(1000, 2000, 3),
                &trak(1, b"vide", None, &video, 1, &[10, 10, 10]),
                &trak(
                    2,
                    b"soun",
                    Some((2000, 1024)),
                    &audio,
                    2,
                    &[3, 4, 3, 4, 3, 4],
                ),
            ],
        );
        [ftyp, bx(b"mdat", &[&data]), moov].concat()
    }

    /// GStreamer's output: the video only, movie time scale 600, moov last or first.
    fn output(moov_first: bool) -> Vec<u8> {
        let ftyp = bx(b"ftyp", &[b"isom", &[0; 4]]);
        let moov = |base: u32| {
            bx(
                b"moov",
                &[
                    &mvhd(600, 1200, 2),
                    &trak(1, b"vide", None, &[base], 3, &[5, 5, 5]),
                    &bx(b"udta", &[]),
                ],
            )
        };
        let mdat = bx(b"mdat", &[&[0xEE; 15]]);
        let base = ftyp.len() as u32 + 8;
        if moov_first {
            let size = moov(0).len() as u32;
            [ftyp, moov(base + size), mdat].concat()
        } else {
            [ftyp, mdat, moov(base)].concat()
        }
    }

    fn apply(mut out: Vec<u8>, input: &[u8], plan: &Append) -> Vec<u8> {
        if let Some(at) = plan.free_at {
            out[at as usize + 4..at as usize + 8].copy_from_slice(b"free");
        }
        out.truncate(plan.truncate_to as usize);
        out.extend(&plan.head);
        for &(from, len) in &plan.copies {
            out.extend(&input[from as usize..(from + len) as usize]);
        }
        out.extend(&plan.moov);
        out
    }

    fn moov_of(file: &[u8]) -> Vec<u8> {
        find_moov(&mut &file[..], file.len() as u64).unwrap().2
    }

    #[test]
    fn audio_is_copied_with_every_sample_and_its_edit_list() {
        let input = input();
        let tracks = read_tracks(&mut &input[..], input.len() as u64, &[*b"soun"]).unwrap();
        assert_eq!(tracks.handlers(), vec![*b"soun"]);
        assert_eq!(tracks.data_len(), 21);
        let out = output(false);
        let plan = plan_append(&mut &out[..], out.len() as u64, &tracks).unwrap();
        assert_eq!(plan.free_at, None, "the old moov ends the file: cut off");
        let merged = apply(out.clone(), &input, &plan);

        // The output now has both tracks; the copied one reads back as the input's audio.
        let copied = read_tracks(&mut &merged[..], merged.len() as u64, &[*b"soun"]).unwrap();
        let chunks = &copied.tracks[0].chunks;
        assert_eq!(chunks.len(), 3);
        for (i, &(at, len)) in chunks.iter().enumerate() {
            assert_eq!(len, 7);
            assert_eq!(
                &merged[at as usize..(at + len) as usize],
                &[0xA0 | i as u8; 7],
                "chunk {i}"
            );
        }
        // Not a byte of the input's video in the output.
        assert!(!merged.windows(2).any(|w| w[0] >> 4 == 0xF && w[1] == w[0]));
        let moov = moov_of(&merged);
        let (kids, filled) = walk(&moov);
        assert!(filled);
        let kinds: Vec<_> = kids.iter().map(|c| c.kind).collect();
        assert_eq!(kinds, vec![*b"mvhd", *b"trak", *b"trak", *b"udta"]);
        let header = movie_header(kids[0].body).unwrap();
        assert_eq!((header.timescale, header.next_track_id), (600, 3));
        // Durations to 1/600 s: 2000 ms = 1200; the edit keeps its media time.
        assert_eq!(header.duration, 1200);
        let trak = kids[2].body;
        assert_eq!(
            (track_id(trak), track_duration(trak)),
            (Some(2), Some(1200))
        );
        let elst = child(child(trak, b"edts").unwrap(), b"elst").unwrap();
        assert_eq!(u32_at(elst, 8), Some(1200));
        assert_eq!(u32_at(elst, 12), Some(1024));
        assert!(
            child(trak, b"tref").is_none(),
            "ids of other tracks are dropped"
        );
        // The video track is untouched.
        assert_eq!(kids[1].whole, walk(&moov_of(&out)).0[1].whole);
    }

    #[test]
    fn a_video_that_starts_late_keeps_its_delay() {
        // The input's video starts 852 ms in (an empty edit); GStreamer's output of the
        // video alone starts at 0.
        let mut input = input();
        let (at, _, moov) = find_moov(&mut &input[..], input.len() as u64).unwrap();
        let first_trak = walk(&moov).0[1].whole.to_vec();
        assert_eq!(handler(&first_trak[8..]), Some(*b"vide"));
        let delayed = delay_track(&first_trak, 852).unwrap().0;
        let new_moov = [walk(&moov).0[0].whole, &delayed, walk(&moov).0[2].whole].concat();
        input.truncate(at as usize);
        input.extend(boxed(b"moov", &new_moov));
        let tracks = read_tracks(&mut &input[..], input.len() as u64, &[*b"soun"]).unwrap();
        let out = output(false);
        let plan = plan_append(&mut &out[..], out.len() as u64, &tracks).unwrap();
        let merged = apply(out, &input, &plan);
        let moov = moov_of(&merged);
        let kids = walk(&moov).0;
        let video = kids[1].body;
        let elst = child(child(video, b"edts").unwrap(), b"elst").unwrap();
        // 852 ms = 511 in 1/600 s, then the whole track (its tkhd says 2000).
        assert_eq!(edits(elst), Some(vec![(511, -1), (2000, 0)]));
        assert_eq!(track_duration(video), Some(2511));
        assert_eq!(movie_header(kids[0].body).unwrap().duration, 2511);
        assert_eq!(leading_empty_edits(video), 511);
    }

    #[test]
    fn a_moov_before_the_data_becomes_free_space() {
        let input = input();
        let tracks = read_tracks(&mut &input[..], input.len() as u64, &[*b"soun"]).unwrap();
        let fast = output(true);
        let plan = plan_append(&mut &fast[..], fast.len() as u64, &tracks).unwrap();
        assert_eq!(plan.free_at, Some(16));
        assert_eq!(plan.truncate_to, fast.len() as u64);
        let merged = apply(fast, &input, &plan);
        let (top, filled) = walk(&merged);
        assert!(filled);
        let kinds: Vec<_> = top.iter().map(|c| c.kind).collect();
        assert_eq!(
            kinds,
            vec![*b"ftyp", *b"free", *b"mdat", *b"mdat", *b"moov"]
        );
        let copied = read_tracks(&mut &merged[..], merged.len() as u64, &[*b"soun"]).unwrap();
        assert_eq!(copied.data_len(), 21);
    }

    #[test]
    fn a_track_with_a_damaged_sample_description_is_left_out() {
        let input = input();
        let check =
            |file: &[u8]| read_tracks(&mut &file[..], file.len() as u64, &[*b"soun"]).unwrap();
        assert_eq!(check(&input).handlers(), vec![*b"soun"]);
        // The audio's sample entry with its format zeroed.
        let at = input.windows(4).rposition(|w| w == b"mp4a").unwrap();
        let mut zeroed = input.clone();
        zeroed[at..at + 4].copy_from_slice(&[0; 4]);
        let tracks = check(&zeroed);
        assert!(tracks.is_empty());
        assert_eq!(tracks.data_len(), 0);
        assert_eq!(tracks.damaged().len(), 1);
        assert_eq!(tracks.damaged()[0].0, *b"soun");
        assert!(
            tracks.damaged()[0].1.contains("zeroed"),
            "{:?}",
            tracks.damaged()
        );
        // Its size zeroed too, as the damaged-media corpus zeroes a box (copied, the output
        // could not be opened; a box of size 0 runs to the end of its parent).
        let mut sized = zeroed.clone();
        sized[at - 4..at].copy_from_slice(&[0; 4]);
        assert!(check(&sized).damaged()[0].1.contains("zeroed"));
        // Its size too small for a sample entry.
        let mut short = input.clone();
        short[at - 4..at].copy_from_slice(&be(12));
        let damaged = check(&short).damaged().to_vec();
        assert!(damaged[0].1.contains("cut short"), "{damaged:?}");
        // No entry at all.
        let stsd = input.windows(4).rposition(|w| w == b"stsd").unwrap();
        let mut empty = input.clone();
        empty[stsd + 8..stsd + 12].copy_from_slice(&be(0));
        let tracks = check(&empty);
        assert!(tracks.is_empty());
        assert!(
            tracks.damaged()[0].1.contains("no entry"),
            "{:?}",
            tracks.damaged()
        );
    }

    #[test]
    fn files_that_cannot_be_copied_say_why() {
        let input = input();
        let check = |file: &[u8]| read_tracks(&mut &file[..], file.len() as u64, &[*b"soun"]);
        let (at, _, moov) = find_moov(&mut &input[..], input.len() as u64).unwrap();
        let at = at as usize;
        // The audio's chunk offsets (the last stco in the file).
        let stco_at = at + 8 + moov.windows(4).rposition(|w| w == b"stco").unwrap() + 4;
        let with_chunk = |i: usize, offset: u32| {
            let mut file = input.clone();
            let entry = stco_at + 8 + 4 * i;
            file[entry..entry + 4].copy_from_slice(&be(offset));
            file
        };
        // Data past the end of the file (cut off).
        let err = check(&with_chunk(2, input.len() as u32 - 3)).unwrap_err();
        assert!(err.contains("past the end"), "{err}");
        // An audio chunk pointing into the video's data.
        let first = u32_at(&input, stco_at + 8).unwrap();
        let err = check(&with_chunk(0, first - 5)).unwrap_err();
        assert!(err.contains("overlaps"), "{err}");
        assert_eq!(check(&with_chunk(0, first)).unwrap().data_len(), 21);
        // Fragmented, or no movie box.
        let frag = [&input[..], &bx(b"moof", &[])].concat();
        assert!(check(&frag).unwrap_err().contains("fragmented"));
        assert!(check(&input[..16]).unwrap_err().contains("no movie box"));
        // More samples in the chunks than sizes.
        let mut short = input.clone();
        let stsz_at = at + 8 + moov.windows(4).rposition(|w| w == b"stsz").unwrap() + 4;
        short[stsz_at + 8..stsz_at + 12].copy_from_slice(&be(5));
        let err = check(&short).unwrap_err();
        assert!(err.contains("sample table"), "{err}");
    }
}
