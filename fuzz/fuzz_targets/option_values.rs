//! Option values as typed on the command line (the first byte picks the option): each
//! parser gives a value within its documented range, or a message.
#![no_main]

use libfuzzer_sys::fuzz_target;
use redact_formats::values::*;

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    let Ok(s) = std::str::from_utf8(rest) else {
        return;
    };
    match which % 7 {
        0 => {
            if let Ok(c) = parse_color(s) {
                assert!(c <= 0xff_ffff);
            }
        }
        1 => {
            if let Ok([t, l, b, r]) = parse_area(s) {
                assert!((0.0..=1.0).contains(&t) && (0.0..=1.0).contains(&r) && t < b && l < r);
            }
        }
        2 => {
            if let Ok([x, y, w, h]) = parse_crop(s) {
                assert!(x.is_finite() && y.is_finite() && w > 0.0 && h > 0.0);
            }
        }
        3 => {
            let _ = parse_ids(s);
        }
        4 => {
            if let Ok(v) = unit_interval(s) {
                assert!((0.0..=1.0).contains(&v));
            }
        }
        5 => {
            if let Ok(v) = input_scale(s) {
                assert!((0.25..=4.0).contains(&v));
            }
        }
        _ => {
            if let Ok(v) = non_negative(s) {
                assert!((0.0..=4.0).contains(&v));
            }
        }
    }
});
