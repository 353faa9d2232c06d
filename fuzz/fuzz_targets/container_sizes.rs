//! Container sizes from arbitrary bytes — MP4 box headers and walks, a moov body's track
//! handlers, the truncation check over MP4/MKV/AVI headers, and the verbatim track copy
//! (reading a file's tracks, planning their append to the same file): never a panic,
//! never a box or a copied range past the data.
#![no_main]

use libfuzzer_sys::fuzz_target;
use redact_formats::mp4::{box_header, track_handlers, walk};
use redact_formats::mp4copy::{plan_append, read_tracks};
use redact_formats::truncation::declared_past_end;

fuzz_target!(|data: &[u8]| {
    let len = data.len() as u64;
    let _ = track_handlers(data);
    for child in walk(data).0 {
        assert!(child.body.len() < child.whole.len() && child.whole.len() <= data.len());
    }
    if let Some((declared, len)) = declared_past_end(&mut &data[..], len) {
        assert!(declared > len && len == data.len() as u64);
    }
    if let Some((_, header, size)) = box_header(data, len) {
        assert!(header <= size && size <= len);
    }
    if let Ok(tracks) = read_tracks(&mut &data[..], len, &[*b"soun", *b"tmcd"]) {
        assert!(tracks.data_len() <= len);
        if let Ok(plan) = plan_append(&mut &data[..], len, &tracks) {
            assert!(plan.truncate_to <= len);
            for (from, size) in plan.copies {
                assert!(from + size <= len);
            }
        }
    }
});
