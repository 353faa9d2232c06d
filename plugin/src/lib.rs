// SPDX-License-Identifier: MIT OR Apache-2.0
//! The gst-redact GStreamer plugin (`libgstredact.so`): registers the elements.

fn plugin_init(plugin: &gst::Plugin) -> Result<(), gst::glib::BoolError> {
    redact_elements::register(Some(plugin))
}

gst::plugin_define!(
    redact,
    env!("CARGO_PKG_DESCRIPTION"),
    plugin_init,
    concat!(env!("CARGO_PKG_VERSION"), "-", env!("COMMIT_ID")),
    "MIT/X11",
    env!("CARGO_PKG_NAME"),
    env!("CARGO_PKG_NAME"),
    env!("CARGO_PKG_REPOSITORY"),
    env!("BUILD_REL_DATE")
);
