// SPDX-License-Identifier: MIT OR Apache-2.0
//! # redactmask
//!
//! Masks every `GstVideoRegionOfInterestMeta` of the chosen types, whoever attached it,
//! in place and in the frame's own format.
//!
//! SECTION:element-redactmask
//!
//! ```text
//! gst-launch-1.0 filesrc location=../shared/data/video/short_hamilton_clip.mp4 ! decodebin ! \
//!     redactdetect ! redactmask method=blur strength=high ! videoconvert ! x264enc ! mp4mux ! \
//!     filesink location=redacted.mp4
//! ```
//!
//! * `method=blur` (default, strength low/medium/high, scaled to each region's size),
//!   `pixelate` (`block-size`), `fill` (`color`, black by default) or `outline` (a box for
//!   review renders: **not a redaction**).
//! * `shape` rectangle or ellipse; `padding` grows each region around its centre;
//!   `soft-edge` feathers outside the shape (the shape itself is always fully masked).
//! * Filters: `roi-types` (default `face,license-plate`), `track-ids` with `track-scope`
//!   (`exclude`: all but these; `include`: only these; the track id is the meta's `id`,
//!   -1 when untracked), and the included area (`area-top`, `area-left`, `area-bottom`,
//!   `area-right` as fractions of the frame; a region touching the area is masked whole).
//!
//! In CUDA memory (`video/x-raw(memory:CUDAMemory)`, between an NVIDIA decoder and
//! `cudadownload`) the regions are masked in place by CUDA kernels that give exactly the
//! CPU's values; the element waits for them before the frame leaves. `device` as on
//! `redactdetect`.
//!
//! Formats: I420, NV12, RGB, BGR, RGBA, BGRA, RGBx, BGRx, GRAY8; chroma planes are masked at
//! their own subsampling. Cost grows with the masked area, not with blur strength.

use gst::glib;
use gst::prelude::*;

mod imp;

pub use imp::{
    DEFAULT_METHOD, DEFAULT_PADDING, DEFAULT_ROI_TYPES, DEFAULT_SHAPE, DEFAULT_STRENGTH,
};

glib::wrapper! {
    pub struct RedactMask(ObjectSubclass<imp::RedactMask>) @extends gst_base::BaseTransform, gst::Element, gst::Object;
}

#[derive(Debug, Eq, PartialEq, Ord, PartialOrd, Hash, Clone, Copy, glib::Enum)]
#[repr(u32)]
#[enum_type(name = "GstRedactMethod")]
pub enum MaskMethod {
    #[enum_value(name = "Blur: irreversible blur scaled to the region", nick = "blur")]
    Blur = 0,
    #[enum_value(name = "Pixelate: flat blocks of block-size pixels", nick = "pixelate")]
    Pixelate = 1,
    #[enum_value(name = "Fill: solid colour", nick = "fill")]
    Fill = 2,
    #[enum_value(
        name = "Outline: draw the region's border (review only, not a redaction)",
        nick = "outline"
    )]
    Outline = 3,
}

#[derive(Debug, Eq, PartialEq, Ord, PartialOrd, Hash, Clone, Copy, glib::Enum)]
#[repr(u32)]
#[enum_type(name = "GstRedactStrength")]
pub enum MaskStrength {
    #[enum_value(
        name = "Low: blur radius 12% of the region's shorter side",
        nick = "low"
    )]
    Low = 0,
    #[enum_value(name = "Medium: 20%", nick = "medium")]
    Medium = 1,
    #[enum_value(name = "High: 30%", nick = "high")]
    High = 2,
}

#[derive(Debug, Eq, PartialEq, Ord, PartialOrd, Hash, Clone, Copy, glib::Enum)]
#[repr(u32)]
#[enum_type(name = "GstRedactShape")]
pub enum MaskShape {
    #[enum_value(name = "Rectangle: the whole (padded) box", nick = "rectangle")]
    Rectangle = 0,
    #[enum_value(name = "Ellipse inscribed in the (padded) box", nick = "ellipse")]
    Ellipse = 1,
}

#[derive(Debug, Eq, PartialEq, Ord, PartialOrd, Hash, Clone, Copy, glib::Enum)]
#[repr(u32)]
#[enum_type(name = "GstRedactScope")]
pub enum TrackScope {
    #[enum_value(
        name = "Exclude: mask every region except the listed track ids",
        nick = "exclude"
    )]
    Exclude = 0,
    #[enum_value(name = "Include: mask only the listed track ids", nick = "include")]
    Include = 1,
}

/// Registers the element with a plugin, or statically (`None`).
pub fn register(plugin: Option<&gst::Plugin>) -> Result<(), glib::BoolError> {
    for t in [
        MaskMethod::static_type(),
        MaskStrength::static_type(),
        MaskShape::static_type(),
        TrackScope::static_type(),
    ] {
        t.mark_as_plugin_api(gst::PluginAPIFlags::empty());
    }
    gst::Element::register(
        plugin,
        "redactmask",
        gst::Rank::NONE,
        RedactMask::static_type(),
    )
}
