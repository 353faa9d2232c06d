//! gst-redact elements: `redactdetect` (and, later, `redacttrack`, `redactmask`), plus the
//! algorithms they use in `algo`, which are free of GStreamer types.

pub mod algo;
pub mod detect;

pub fn register(plugin: &gst::Plugin) -> Result<(), gst::glib::BoolError> {
    detect::register(plugin)
}
