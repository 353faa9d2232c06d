//! Container sizes from arbitrary bytes — MP4 box headers, a moov body's track handlers,
//! the truncation check over MP4/MKV/AVI headers: never a panic, never a box past the data.
#![no_main]

use libfuzzer_sys::fuzz_target;
use redact_formats::mp4::{box_header, child_boxes, track_handlers};
use redact_formats::truncation::declared_past_end;

fuzz_target!(|data: &[u8]| {
    let _ = track_handlers(data);
    for body in child_boxes(data, b"trak") {
        assert!(body.len() <= data.len());
    }
    if let Some((declared, len)) = declared_past_end(&mut &data[..], data.len() as u64) {
        assert!(declared > len && len == data.len() as u64);
    }
    if let Some((_, header, size)) = box_header(data, data.len() as u64) {
        assert!(header <= size && size <= data.len() as u64);
    }
});
