//! Whether a media file holds less than its container declares: an MP4/MOV box, an MKV/WEBM
//! segment or an AVI RIFF chunk that runs past the end of the file. That is how a cut-off
//! file is told from a complete one whose video is simply shorter than its audio (a
//! duration, read from the same headers, cannot tell them apart).

/// Reads bytes at an offset: how many were read (fewer at the end of the file).
pub trait ReadAt {
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> usize;
}

impl ReadAt for &[u8] {
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> usize {
        let Ok(start) = usize::try_from(offset) else {
            return 0;
        };
        let Some(rest) = self.get(start..) else {
            return 0;
        };
        let n = rest.len().min(buf.len());
        buf[..n].copy_from_slice(&rest[..n]);
        n
    }
}

/// `Some((declared, len))` when the container declares `declared` bytes but the file has
/// only `len`; `None` when it is whole or its kind is not recognised (TS has no sizes).
pub fn declared_past_end(file: &mut impl ReadAt, len: u64) -> Option<(u64, u64)> {
    let mut head = [0u8; 16];
    let n = file.read_at(0, &mut head);
    let head = &head[..n];
    if head.len() >= 12 && &head[..4] == b"RIFF" {
        let declared = u64::from(u32::from_le_bytes(head[4..8].try_into().unwrap())) + 8;
        return (declared > len).then_some((declared, len));
    }
    if head.starts_with(&[0x1a, 0x45, 0xdf, 0xa3]) {
        return matroska(file, len);
    }
    if head.len() >= 8
        && [b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip"]
            .contains(&&head[4..8].try_into().unwrap())
    {
        return mp4(file, len);
    }
    None
}

/// MP4/MOV: the top-level boxes, each of which must fit.
fn mp4(file: &mut impl ReadAt, len: u64) -> Option<(u64, u64)> {
    let mut pos = 0u64;
    // A file of boxes has a few top-level ones; a bound keeps a crafted file cheap.
    for _ in 0..10_000 {
        if pos >= len {
            return None;
        }
        let mut head = [0u8; 16];
        let n = file.read_at(pos, &mut head);
        if n < 8 {
            // A few stray bytes after the last box: not a declared size.
            return None;
        }
        let size = match u32::from_be_bytes(head[..4].try_into().unwrap()) {
            0 => return None, // "to the end of the file"
            1 if n == 16 => u64::from_be_bytes(head[8..16].try_into().unwrap()),
            1 => return Some((pos + 16, len)),
            s => u64::from(s),
        };
        if size < 8 {
            return None; // not a box: the decoder will say what is wrong
        }
        let end = pos.checked_add(size)?;
        if end > len {
            return Some((end, len));
        }
        pos = end;
    }
    None
}

/// An EBML variable-length integer at `buf[0..]`: (value, length); all ones = unknown size.
fn vint(buf: &[u8]) -> Option<(u64, usize, bool)> {
    let first = *buf.first()?;
    let width = first.leading_zeros() as usize + 1;
    if width > 8 || buf.len() < width {
        return None;
    }
    let mut v = u64::from(first) & (0xff >> width);
    for b in &buf[1..width] {
        v = (v << 8) | u64::from(*b);
    }
    let unknown = v == (1u64 << (7 * width)) - 1;
    Some((v, width, unknown))
}

/// MKV/WEBM: the EBML header, then the Segment's declared size.
fn matroska(file: &mut impl ReadAt, len: u64) -> Option<(u64, u64)> {
    let mut buf = [0u8; 16];
    let n = file.read_at(4, &mut buf);
    let (header_size, w, _) = vint(&buf[..n])?;
    let segment_at = 4u64.checked_add(w as u64)?.checked_add(header_size)?;
    let n = file.read_at(segment_at, &mut buf);
    if n < 5 || buf[..4] != [0x18, 0x53, 0x80, 0x67] {
        return None;
    }
    let (size, w, unknown) = vint(&buf[4..n])?;
    if unknown {
        return None; // written live: no size to check
    }
    let end = segment_at.checked_add(4 + w as u64)?.checked_add(size)?;
    (end > len).then_some((end, len))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(data: &[u8]) -> Option<(u64, u64)> {
        declared_past_end(&mut &data[..], data.len() as u64)
    }

    #[test]
    fn cut_files_are_told_from_whole_ones() {
        // MP4: ftyp + mdat (100 bytes declared) + moov.
        let mut mp4 = vec![
            0, 0, 0, 16, b'f', b't', b'y', b'p', b'i', b's', b'o', b'm', 0, 0, 0, 0,
        ];
        mp4.extend([0, 0, 0, 100, b'm', b'd', b'a', b't']);
        mp4.extend([0u8; 92]);
        mp4.extend([0, 0, 0, 8, b'm', b'o', b'o', b'v']);
        assert_eq!(check(&mp4), None);
        assert_eq!(check(&mp4[..60]), Some((116, 60)));
        // Cut inside the last box's header: no size to read (the demuxer then finds no moov).
        assert_eq!(check(&mp4[..120]), None);
        // AVI: RIFF size.
        let mut avi = b"RIFF".to_vec();
        avi.extend(20u32.to_le_bytes());
        avi.extend(b"AVI LIST");
        avi.extend([0u8; 12]);
        assert_eq!(check(&avi), None);
        assert_eq!(check(&avi[..20]), Some((28, 20)));
        // MKV: EBML header of 3 bytes, Segment of 10.
        let mut mkv = vec![
            0x1a, 0x45, 0xdf, 0xa3, 0x83, 1, 2, 3, 0x18, 0x53, 0x80, 0x67, 0x8a,
        ];
        mkv.extend([0u8; 10]);
        assert_eq!(check(&mkv), None);
        assert_eq!(check(&mkv[..18]), Some((23, 18)));
        let mut live = mkv.clone();
        live[12] = 0xff; // unknown size
        assert_eq!(check(&live[..18]), None);
        // Not a container with sizes.
        assert_eq!(check(b"\x47\x40\x00\x10"), None);
        assert_eq!(check(b""), None);
    }
}
