//! gst-redact elements: `redactdetect`, `redacttrack` and `redactmask`, plus the
//! algorithms they use in `algo`, which are free of GStreamer types.

pub mod algo;
pub mod cuda;
pub mod detect;
pub mod mask;
pub mod roi;
pub mod stats;
pub mod track;
mod video;

/// Registers every element, with a plugin or (`None`) statically.
pub fn register(plugin: Option<&gst::Plugin>) -> Result<(), gst::glib::BoolError> {
    use gst::prelude::*;
    cuda::element::Device::static_type().mark_as_plugin_api(gst::PluginAPIFlags::empty());
    detect::register(plugin)?;
    track::register(plugin)?;
    mask::register(plugin)
}
