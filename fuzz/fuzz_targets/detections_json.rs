//! A `--detections` file: parsed and checked, or refused with a message; what is accepted
//! survives a round trip and has its tracks summarised.
#![no_main]

use libfuzzer_sys::fuzz_target;
use redact_formats::detections::{DetectionsFile, parse, summarize_tracks};

fuzz_target!(|data: &[u8]| {
    if let Ok(file) = parse(data) {
        for f in &file.frames {
            for d in &f.detections {
                assert!(d.bbox[2] > 0.0 && d.bbox[3] > 0.0);
            }
        }
        let _ = summarize_tracks(&file.frames);
        let text = serde_json::to_vec(&file).unwrap();
        let again: DetectionsFile = serde_json::from_slice(&text).unwrap();
        assert_eq!(again.frames.len(), file.frames.len());
    }
});
