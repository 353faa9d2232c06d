//! Plain-Rust algorithms behind the elements: no GStreamer types, unit-tested on buffers.

pub mod cost;
pub mod detection;
pub mod detector;
pub mod families;
pub mod frame;
pub mod mask;
pub mod motion;
pub mod nms;
pub mod pool;
pub mod preprocess;
pub mod scene;
pub mod track;
