//! gst-redact elements: `redactdetect` (and, later, `redacttrack`, `redactmask`), plus the
//! algorithms they use in `algo`, which are free of GStreamer types.

pub mod algo;
pub mod detect;

/// Registers every element, with a plugin or (`None`) statically.
pub fn register(plugin: Option<&gst::Plugin>) -> Result<(), gst::glib::BoolError> {
    detect::register(plugin)
}
