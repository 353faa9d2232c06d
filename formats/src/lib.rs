//! The file formats and option values gst-redact reads from users, as plain parsers over
//! bytes and strings: no GStreamer, no files. Every one is fuzzed (`fuzz/`): whatever the
//! input, a value or a message, never a panic.

pub mod boxes;
pub mod detections;
pub mod mp4;
pub mod mp4copy;
pub mod truncation;
pub mod values;
