//! MP4/MOV boxes: which tracks a file has (GStreamer's demuxer does not expose every kind,
//! so the launcher reads them here to say what it cannot copy).

/// The bodies of the child boxes named `name` in `data` (32-bit sizes; a bad size ends the
/// walk).
pub fn child_boxes<'a>(data: &'a [u8], name: &[u8; 4]) -> Vec<&'a [u8]> {
    let mut out = Vec::new();
    let mut pos = 0usize;
    while pos + 8 <= data.len() {
        let size = u32::from_be_bytes(data[pos..pos + 4].try_into().unwrap()) as usize;
        if size < 8 || size > data.len() - pos {
            break;
        }
        if &data[pos + 4..pos + 8] == name {
            out.push(&data[pos + 8..pos + size]);
        }
        pos += size;
    }
    out
}

/// The handler types (`vide`, `soun`, `tmcd`, `text`, …) of the tracks in a `moov` box's
/// body (`trak/mdia/hdlr`).
pub fn track_handlers(moov: &[u8]) -> Vec<[u8; 4]> {
    let mut handlers = Vec::new();
    for trak in child_boxes(moov, b"trak") {
        for mdia in child_boxes(trak, b"mdia") {
            for hdlr in child_boxes(mdia, b"hdlr") {
                // version/flags (4), pre_defined (4), handler_type (4)
                if let Some(t) = hdlr.get(8..12) {
                    handlers.push(t.try_into().unwrap());
                }
            }
        }
    }
    handlers
}

/// The track handlers of an MP4/MOV file read through `file` (`len` bytes): its top-level
/// boxes are skipped by their sizes to `moov` (at most 64 MiB, read whole), whose tracks
/// are listed by [`track_handlers`]; empty when there is none or the file is damaged.
pub fn file_track_handlers(file: &mut impl crate::truncation::ReadAt, len: u64) -> Vec<[u8; 4]> {
    const MAX_MOOV: u64 = 64 << 20;
    let mut pos = 0u64;
    while pos < len {
        let mut head = [0u8; 16];
        let n = file.read_at(pos, &mut head[..(len - pos).min(16) as usize]);
        let Some((kind, header, size)) = box_header(&head[..n], len - pos) else {
            break;
        };
        if &kind == b"moov" {
            if size - header > MAX_MOOV {
                break;
            }
            let mut body = vec![0u8; (size - header) as usize];
            if file.read_at(pos + header, &mut body) < body.len() {
                break;
            }
            return track_handlers(&body);
        }
        pos += size;
    }
    Vec::new()
}

/// A top-level box header at the start of `head` (at least 16 bytes read, or what the file
/// had): `(kind, header length, size)`; size 0 means "to the end of the file" (`rest`).
pub fn box_header(head: &[u8], rest: u64) -> Option<([u8; 4], u64, u64)> {
    let size = u64::from(u32::from_be_bytes(head.get(..4)?.try_into().ok()?));
    let kind: [u8; 4] = head.get(4..8)?.try_into().ok()?;
    let (size, header) = match size {
        0 => (rest, 8),
        1 => (u64::from_be_bytes(head.get(8..16)?.try_into().ok()?), 16),
        s => (s, 8),
    };
    (size >= header && size <= rest).then_some((kind, header, size))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn boxed(name: &[u8; 4], body: &[u8]) -> Vec<u8> {
        let mut b = ((body.len() + 8) as u32).to_be_bytes().to_vec();
        b.extend_from_slice(name);
        b.extend_from_slice(body);
        b
    }

    #[test]
    fn handlers_are_read_and_bad_sizes_end_the_walk() {
        let hdlr = |t: &[u8; 4]| boxed(b"hdlr", &[&[0u8; 8][..], t, &[0u8; 12]].concat());
        let trak = |t: &[u8; 4]| boxed(b"trak", &boxed(b"mdia", &hdlr(t)));
        let moov = [trak(b"vide"), trak(b"soun"), trak(b"tmcd")].concat();
        assert_eq!(track_handlers(&moov), vec![*b"vide", *b"soun", *b"tmcd"]);
        let mut bad = moov.clone();
        bad[3] = 0xff; // the first trak claims more than there is
        assert!(track_handlers(&bad).is_empty());
        assert!(track_handlers(&moov[..moov.len() - 1]).len() == 2);
        assert_eq!(
            box_header(&boxed(b"moov", &[0; 8]), 16),
            Some((*b"moov", 8, 16))
        );
        assert_eq!(box_header(&boxed(b"moov", &[0; 8]), 15), None);
        assert_eq!(
            box_header(
                &[0, 0, 0, 1, b'm', b'd', b'a', b't', 0, 0, 0, 0, 0, 0, 0, 4],
                99
            ),
            None
        );
    }
}
