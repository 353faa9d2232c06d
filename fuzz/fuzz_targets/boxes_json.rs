//! A `--boxes` file: boxes with a positive size and ordered frame ranges, or a message.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(boxes) = redact_formats::boxes::parse(text) {
        for b in boxes {
            assert!(b.bbox.iter().all(|v| v.is_finite()) && b.bbox[2] > 0.0 && b.bbox[3] > 0.0);
            assert!(b.to.is_none_or(|to| to >= b.from));
        }
    }
});
