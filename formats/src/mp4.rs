//! MP4/MOV boxes: walking a box tree, finding the movie box, which tracks a file has
//! (GStreamer's demuxer does not expose every kind; see also [`crate::mp4copy`]).

/// A `moov` larger than this is not read (a real one holds a few MB per hour of media).
const MAX_MOOV: u64 = 64 << 20;

/// One box inside a container's body.
pub struct Child<'a> {
    pub kind: [u8; 4],
    /// Header and body.
    pub whole: &'a [u8],
    pub body: &'a [u8],
}

/// The boxes of a container's body, as far as their sizes hold, and whether they fill it
/// (a few zero bytes at the end, as QuickTime writes after some lists, count as filled).
pub fn walk(data: &[u8]) -> (Vec<Child<'_>>, bool) {
    let mut out = Vec::new();
    let mut pos = 0usize;
    while data.len() - pos >= 8 {
        let rest = &data[pos..];
        let Some((kind, header, size)) = box_header(rest, rest.len() as u64) else {
            return (out, false);
        };
        let (header, size) = (header as usize, size as usize);
        out.push(Child {
            kind,
            whole: &rest[..size],
            body: &rest[header..size],
        });
        pos += size;
    }
    let filled = data[pos..].iter().all(|b| *b == 0);
    (out, filled)
}

/// The boxes of a container's body, which must fill it ([`walk`]).
pub fn children(data: &[u8]) -> Option<Vec<Child<'_>>> {
    let (children, filled) = walk(data);
    filled.then_some(children)
}

/// The body of the first child named `kind` (of a body that its boxes fill).
pub fn child<'a>(data: &'a [u8], kind: &[u8; 4]) -> Option<&'a [u8]> {
    children(data)?
        .into_iter()
        .find(|c| &c.kind == kind)
        .map(|c| c.body)
}

/// A track's handler type (`trak/mdia/hdlr`, given the `trak` body).
pub fn handler(trak: &[u8]) -> Option<[u8; 4]> {
    let hdlr = child(child(trak, b"mdia")?, b"hdlr")?;
    // version/flags (4), pre_defined (4), handler_type (4)
    hdlr.get(8..12)?.try_into().ok()
}

/// The handler types (`vide`, `soun`, `tmcd`, `text`, …) of the tracks in a `moov` box's
/// body, as far as its boxes can be read.
pub fn track_handlers(moov: &[u8]) -> Vec<[u8; 4]> {
    walk(moov)
        .0
        .iter()
        .filter(|c| &c.kind == b"trak")
        .filter_map(|c| handler(c.body))
        .collect()
}

/// The top-level `moov` box of an MP4/MOV file read through `file` (`len` bytes):
/// (offset, size, body). The top-level boxes are skipped by their sizes; an error says
/// why there is no single readable one (not an MP4, damaged, fragmented, over 64 MiB).
pub fn find_moov(
    file: &mut impl crate::truncation::ReadAt,
    len: u64,
) -> Result<(u64, u64, Vec<u8>), String> {
    let mut pos = 0u64;
    let mut moov = None;
    // A file has a few top-level boxes; a bound keeps a crafted one cheap.
    for _ in 0..100_000 {
        if len - pos < 8 {
            break;
        }
        let mut head = [0u8; 16];
        let n = file.read_at(pos, &mut head[..(len - pos).min(16) as usize]);
        let Some((kind, header, size)) = box_header(&head[..n], len - pos) else {
            return Err("its boxes do not add up (not an MP4, or damaged)".into());
        };
        match &kind {
            b"moov" if moov.is_some() => return Err("it has two movie boxes".into()),
            b"moov" => moov = Some((pos, header, size)),
            b"moof" => return Err("it is a fragmented MP4".into()),
            _ => {}
        }
        pos += size;
    }
    let (at, header, size) = moov.ok_or("it has no movie box")?;
    if size - header > MAX_MOOV {
        return Err("its movie box is larger than 64 MiB".into());
    }
    let mut body = vec![0u8; (size - header) as usize];
    if file.read_at(at + header, &mut body) < body.len() {
        return Err("its movie box could not be read".into());
    }
    Ok((at, size, body))
}

/// The track handlers of an MP4/MOV file read through `file` (`len` bytes), by
/// [`find_moov`] and [`track_handlers`]; empty when there is none or the file is damaged.
pub fn file_track_handlers(file: &mut impl crate::truncation::ReadAt, len: u64) -> Vec<[u8; 4]> {
    find_moov(file, len)
        .map(|(_, _, moov)| track_handlers(&moov))
        .unwrap_or_default()
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
