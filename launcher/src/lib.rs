//! The `redact` launcher as a library: the commands' logic, shared by the binary and the
//! end-to-end tests in `tests/`.

pub mod archive;
pub mod detect;
pub mod device;
pub mod eval;
pub mod frame;
pub mod media;
pub mod pipeline;
pub mod progress;
pub mod run;
pub mod timings;
pub mod tracks;

/// The detections JSON (in `redact-formats`, where it is fuzzed).
pub use redact_formats::detections;
