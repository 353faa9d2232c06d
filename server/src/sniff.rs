//! The media type of an upload, decided by its first bytes (never by its name).

/// What a file is: the extension `redact` knows it by, and whether it is an image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kind {
    pub extension: &'static str,
    pub class: Class,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    Image,
    Video,
    Zip,
}

impl Class {
    pub fn as_str(self) -> &'static str {
        match self {
            Class::Image => "image",
            Class::Video => "video",
            Class::Zip => "zip",
        }
    }
}

/// Bytes [`sniff`] wants to see (fewer for short files): three transport-stream packets.
pub const SNIFF_LEN: usize = 3 * 192 + 4;

/// The kind of a file from its first bytes; `None` for anything the pipeline does not take.
pub fn sniff(head: &[u8]) -> Option<Kind> {
    let kind = |extension, class| Some(Kind { extension, class });
    let at = |offset: usize, magic: &[u8]| head.get(offset..offset + magic.len()) == Some(magic);
    if at(0, b"\xff\xd8\xff") {
        return kind("jpg", Class::Image);
    }
    if at(0, b"\x89PNG\r\n\x1a\n") {
        return kind("png", Class::Image);
    }
    if at(0, b"RIFF") && at(8, b"WEBP") {
        return kind("webp", Class::Image);
    }
    if at(0, b"RIFF") && at(8, b"AVI ") {
        return kind("avi", Class::Video);
    }
    if at(4, b"ftyp") {
        return if at(8, b"qt  ") {
            kind("mov", Class::Video)
        } else {
            kind("mp4", Class::Video)
        };
    }
    // QuickTime files from older cameras start with other atoms.
    if [b"moov", b"mdat", b"wide", b"free"]
        .iter()
        .any(|a| at(4, *a))
    {
        return kind("mov", Class::Video);
    }
    if at(0, b"\x1a\x45\xdf\xa3") {
        let webm = head.windows(4).any(|w| w == b"webm");
        return if webm {
            kind("webm", Class::Video)
        } else {
            kind("mkv", Class::Video)
        };
    }
    // MPEG transport streams: a sync byte every 188 bytes (broadcast), or every 192 after
    // a 4-byte time code (M2TS, AVCHD cameras); three in a row.
    if (0..3).all(|k| at(188 * k, b"\x47")) {
        return kind("ts", Class::Video);
    }
    if (0..3).all(|k| at(4 + 192 * k, b"\x47")) {
        return kind("m2ts", Class::Video);
    }
    if at(0, b"PK\x03\x04") || at(0, b"PK\x05\x06") {
        return kind("zip", Class::Zip);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_by_content() {
        let ext = |b: &[u8]| sniff(b).map(|k| k.extension);
        assert_eq!(ext(b"\xff\xd8\xff\xe0\0\x10JFIF"), Some("jpg"));
        assert_eq!(ext(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"), Some("png"));
        assert_eq!(ext(b"RIFF\x10\0\0\0WEBPVP8 "), Some("webp"));
        assert_eq!(ext(b"RIFF\x10\0\0\0AVI LIST"), Some("avi"));
        assert_eq!(ext(b"\0\0\0\x20ftypisom\0\0\x02\0"), Some("mp4"));
        assert_eq!(ext(b"\0\0\0\x14ftypqt  \0\0\x02\0"), Some("mov"));
        assert_eq!(
            ext(b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x84webm"),
            Some("webm")
        );
        assert_eq!(
            ext(b"\x1a\x45\xdf\xa3\xa3\x42\x86\x81\x01\x42\x82\x88matroska"),
            Some("mkv")
        );
        assert_eq!(ext(b"PK\x03\x04\x14\0"), Some("zip"));
        let mut ts = vec![0u8; 3 * 188];
        let mut m2ts = vec![0u8; 3 * 192 + 4];
        for k in 0..3 {
            ts[188 * k] = 0x47;
            m2ts[4 + 192 * k] = 0x47;
        }
        assert_eq!(ext(&ts), Some("ts"));
        assert_eq!(ext(&m2ts), Some("m2ts"));
        assert_eq!(ext(&ts[..200]), None, "one sync byte is not a stream");
        // A name says nothing: text, PDF, GIF, empty.
        assert_eq!(ext(b"hello, world"), None);
        assert_eq!(ext(b"%PDF-1.7"), None);
        assert_eq!(ext(b"GIF89a"), None);
        assert_eq!(ext(b""), None);
        assert_eq!(ext(b"RIFF"), None);
    }
}
