//! `redact run`: an image, a video, a ZIP or a folder in; the same kind out, redacted.
//!
//! Each file goes through one GStreamer pipeline:
//! video: `filesrc ! parsebin`, the video stream `! decodebin ! redactdetect ! redactmask !
//! encoder ! muxer` (in CUDA memory between decoder and encoder on the GPU path, see
//! `device`), the audio stream straight into the muxer (copied, not re-encoded);
//! image: `filesrc ! decodebin ! videoflip (EXIF orientation, in the input chain) ! redactdetect ! redactmask !
//! encoder` (no metadata is written). Outputs are written under a temporary name and renamed
//! only when complete. A folder is redacted file by file into a folder of the same tree, a
//! ZIP entry by entry into a ZIP (`archive`).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use gst::prelude::*;

use crate::archive;
use crate::detections::DetectionsFile;
use crate::device::{self, Device, VideoPath};
use crate::media;
use crate::pipeline::{
    DetectOptions, check_complete, estimate_frames, fail_at_eos_without_video, file_element, init,
    link_late, make, make_decoders_strict, pass_on_end, play,
};
use crate::timings::{Timings, process_cpu_time};
use crate::tracks;
use redact_elements::algo::detection::BBox;
use redact_elements::roi;

/// The x264 speed preset of video outputs (`bench/run` times its plain transcode with the
/// same).
pub const X264_PRESET: &str = "veryfast";

/// Encoder quality, the same words for every codec.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Quality {
    /// Visually near-lossless (x264 CRF 18, JPEG/WebP 95).
    #[default]
    High,
    /// x264 CRF 23 (x264's own default), JPEG/WebP 88.
    Medium,
    /// x264 CRF 28, JPEG/WebP 75: small files.
    Low,
}

impl Quality {
    fn x264_quantizer(self) -> u32 {
        match self {
            Quality::High => 18,
            Quality::Medium => 23,
            Quality::Low => 28,
        }
    }

    fn vp8_cq_level(self) -> i32 {
        match self {
            Quality::High => 8,
            Quality::Medium => 16,
            Quality::Low => 32,
        }
    }

    fn image_quality(self) -> i32 {
        match self {
            Quality::High => 95,
            Quality::Medium => 88,
            Quality::Low => 75,
        }
    }
}

/// `redactmask` settings (names as the element's properties).
#[derive(Debug, Clone, PartialEq)]
pub struct MaskOptions {
    pub method: String,
    pub strength: String,
    pub block_size: u32,
    /// 0xRRGGBB.
    pub color: u32,
    pub shape: String,
    pub padding: f64,
    pub soft_edge: f64,
    /// top, left, bottom, right as fractions of the frame.
    pub area: [f64; 4],
    pub track_ids: Vec<i64>,
    pub include_tracks: bool,
}

impl Default for MaskOptions {
    fn default() -> Self {
        MaskOptions {
            method: "blur".into(),
            strength: "high".into(),
            block_size: 0,
            color: 0x000000,
            shape: "rectangle".into(),
            padding: redact_elements::mask::DEFAULT_PADDING,
            soft_edge: 0.0,
            area: [0.0, 0.0, 1.0, 1.0],
            track_ids: Vec::new(),
            include_tracks: false,
        }
    }
}

impl MaskOptions {
    fn make_element(&self, roi_types: &str, device: Device) -> Result<gst::Element, String> {
        let ids: Vec<String> = self.track_ids.iter().map(|i| i.to_string()).collect();
        gst::ElementFactory::make("redactmask")
            .property("roi-types", roi_types)
            .property_from_str("method", &self.method)
            .property_from_str("strength", &self.strength)
            .property("block-size", self.block_size)
            .property("color", 0xff00_0000 | self.color)
            .property_from_str("shape", &self.shape)
            .property("padding", self.padding)
            .property("soft-edge", self.soft_edge)
            .property("track-ids", ids.join(","))
            .property_from_str(
                "track-scope",
                if self.include_tracks {
                    "include"
                } else {
                    "exclude"
                },
            )
            .property("area-top", self.area[0])
            .property("area-left", self.area[1])
            .property("area-bottom", self.area[2])
            .property("area-right", self.area[3])
            .property_from_str("device", device.nick())
            .build()
            .map_err(|e| format!("cannot create redactmask: {e}"))
    }
}

pub use redact_formats::boxes::ManualBox;

/// Reads a `--boxes` file: a JSON list of `{"box": [x, y, w, h], "from": 0, "to": 99}`.
pub fn read_boxes(path: &Path) -> Result<Vec<ManualBox>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read --boxes file {}: {e}", path.display()))?;
    redact_formats::boxes::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// Reads a `--detections` file (checked: see `redact_formats::detections::parse`).
pub fn read_detections(path: &Path) -> Result<DetectionsFile, String> {
    let bytes = std::fs::read(path)
        .map_err(|e| format!("cannot read --detections file {}: {e}", path.display()))?;
    redact_formats::detections::parse(&bytes).map_err(|e| format!("{}: {e}", path.display()))
}

#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    pub detect: DetectOptions,
    pub mask: MaskOptions,
    pub quality: Quality,
    pub no_audio: bool,
    pub boxes: Vec<ManualBox>,
    /// Regions from a detections file instead of running the detector.
    pub detections: Option<Arc<DetectionsFile>>,
}

/// What the launcher tells the user while it works.
pub trait Reporter: Send + Sync + 'static {
    /// A file starts; `total_frames` when known (videos, once the stream is open).
    fn start(&self, file: &Path);
    fn total(&self, frames: u64);
    fn frame(&self, done: u64);
    fn finish(&self, report: &FileReport);
    fn warn(&self, message: &str);
}

/// One file's outcome.
#[derive(Debug, Clone, PartialEq)]
pub struct FileReport {
    pub input: PathBuf,
    pub output: PathBuf,
    pub frames: u64,
    /// Regions masked, summed over frames, per roi type; `verified`: how many of them the
    /// verification pass added.
    pub masked: Vec<(String, u64)>,
    pub seconds: f64,
    /// CPU time by element (printed with `--timings`).
    pub timings: Timings,
}

impl FileReport {
    pub fn line(&self) -> String {
        let mut masked: Vec<String> = self
            .masked
            .iter()
            .filter(|(t, _)| t != "verified")
            .map(|(t, n)| format!("{n} {t}"))
            .collect();
        if let Some((_, n)) = self.masked.iter().find(|(t, _)| t == "verified") {
            masked.push(format!("{n} of them found by the verification pass"));
        }
        format!(
            "{} -> {}: {} frame(s), masked {}, {:.1} s ({:.1} fps)",
            self.input.display(),
            self.output.display(),
            self.frames,
            if masked.is_empty() {
                "nothing".into()
            } else {
                masked.join(", ")
            },
            self.seconds,
            self.frames as f64 / self.seconds.max(1e-9)
        )
    }
}

/// `NAME.redacted.EXT` beside a file, `NAME.redacted` beside a folder.
pub fn default_output(input: &Path) -> PathBuf {
    let stem = input
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "output".into());
    match input.extension() {
        Some(ext) if input.is_file() => {
            input.with_file_name(format!("{stem}.redacted.{}", ext.to_string_lossy()))
        }
        _ => input.with_file_name(format!(
            "{}.redacted",
            input.file_name().unwrap_or_default().to_string_lossy()
        )),
    }
}

/// Redacts `input` (file, ZIP or folder) into `output` (default: `default_output`).
pub fn run(
    input: &Path,
    output: Option<&Path>,
    options: &RunOptions,
    reporter: &Arc<dyn Reporter>,
) -> Result<Vec<FileReport>, String> {
    init()?;
    let d = &options.detect;
    // `--device cuda` without a GPU: one error before any file.
    if let (_, Some(note)) = device::video_path(d.device)? {
        reporter.warn(&note);
    }
    if d.interval > 1 && !d.track && options.detections.is_none() {
        return Err(format!(
            "--interval {} would leave the frames between detector runs unmasked; without tracking, use --interval 1",
            d.interval
        ));
    }
    let output = output
        .map(Path::to_path_buf)
        .unwrap_or_else(|| default_output(input));
    if output == input {
        return Err(format!(
            "{}: the output would overwrite the input; choose another -o",
            input.display()
        ));
    }
    if input.is_dir() {
        if options.detections.is_some() {
            return Err(
                "--detections describes one file: use it with a single image or video".into(),
            );
        }
        return run_folder(input, &output, options, reporter);
    }
    if !input.is_file() {
        return Err(format!("{}: no such file or folder", input.display()));
    }
    if media::extension(input) == "zip" {
        if options.detections.is_some() {
            return Err(
                "--detections describes one file: use it with a single image or video".into(),
            );
        }
        return archive::redact_zip(input, &output, reporter, |src, dst| {
            redact_file(src, dst, options, reporter)
        });
    }
    if !media::is_supported(input) {
        return Err(format!(
            "{}: unsupported file type; supported are {}, {} and zip",
            input.display(),
            media::IMAGE_EXTENSIONS.join(", "),
            media::VIDEO_EXTENSIONS.join(", ")
        ));
    }
    if output.is_dir() {
        return Err(format!(
            "{}: is a folder; -o must name the output file",
            output.display()
        ));
    }
    if media::extension(&output) != media::extension(input) {
        return Err(format!(
            "{}: the output keeps the input's format, so its name must end in .{}",
            output.display(),
            media::extension(input)
        ));
    }
    redact_file(input, &output, options, reporter).map(|r| vec![r])
}

fn run_folder(
    input: &Path,
    output: &Path,
    options: &RunOptions,
    reporter: &Arc<dyn Reporter>,
) -> Result<Vec<FileReport>, String> {
    if output.starts_with(input) {
        return Err(format!(
            "{}: the output folder must not be inside the input folder",
            output.display()
        ));
    }
    media::for_each_file(
        input,
        |w| reporter.warn(w),
        |file, rel| redact_file(file, &output.join(rel), options, reporter),
    )
}

/// Counts what `redactmask` is about to mask, and adds manual / file-given regions.
struct RegionFeed {
    boxes: Vec<ManualBox>,
    detections: Option<Arc<DetectionsFile>>,
    frame: AtomicU64,
    masked: Mutex<Vec<(String, u64)>>,
}

impl RegionFeed {
    fn add_regions(&self, buffer: &mut gst::BufferRef, index: u64) {
        let rect = |b: [f64; 4]| {
            let [x, y, w, h] = b.map(|v| v as f32);
            BBox::new(x, y, w, h)
        };
        let (width, height) = (u32::MAX, u32::MAX); // redactmask clips to the frame
        for b in self
            .boxes
            .iter()
            .filter(|b| index >= b.from && b.to.is_none_or(|to| index <= to))
        {
            if let Some(r) = roi::rect_outwards(&rect(b.bbox), width, height) {
                roi::attach(buffer, "manual", r, -1, 1.0, &[], None);
            }
        }
        if let Some(f) = self
            .detections
            .as_ref()
            .and_then(|d| d.frames.get(index as usize))
        {
            for d in &f.detections {
                if let Some(r) = roi::rect_outwards(&rect(d.bbox), width, height) {
                    let points: Vec<[f32; 2]> = d
                        .landmarks
                        .iter()
                        .map(|p| [p[0] as f32, p[1] as f32])
                        .collect();
                    let id = d.track_id.map_or(-1, |id| id as i32);
                    roi::attach(buffer, &d.class, r, id, d.score, &points, None);
                }
            }
        }
    }

    /// Counts the regions per type, and those of the verification pass (origin
    /// `verified`, counted among their type too) as `verified`.
    fn count(&self, buffer: &gst::BufferRef) {
        let mut masked = self.masked.lock().unwrap();
        for r in roi::read_all(buffer) {
            let verified = (r.origin == "verified").then_some("verified");
            for t in std::iter::once(r.roi_type.as_str()).chain(verified) {
                match masked.iter_mut().find(|(k, _)| k == t) {
                    Some((_, n)) => *n += 1,
                    None => masked.push((t.to_string(), 1)),
                }
            }
        }
    }
}

/// The roi types `redactmask` handles for these options.
fn roi_types(options: &RunOptions) -> String {
    let mut types = Vec::new();
    if options.detect.faces {
        types.push("face");
    }
    if options.detect.plates {
        types.push("license-plate");
    }
    types.push("manual");
    types.join(",")
}

/// `[redactdetect ! redacttrack !] redactmask`, with the region feed on the mask's sink pad. Returns the
/// first and last element of the chain.
fn redaction_chain(
    pipeline: &gst::Pipeline,
    options: &RunOptions,
    feed: &Arc<RegionFeed>,
    reporter: &Arc<dyn Reporter>,
    path: VideoPath,
) -> Result<(gst::Element, gst::Element), String> {
    let mask = options
        .mask
        .make_element(&roi_types(options), options.detect.element_device(path))?;
    let (first, last_detect) =
        if options.detections.is_none() && (options.detect.faces || options.detect.plates) {
            options.detect.add_detection(pipeline, path)?
        } else {
            let identity = make("identity")?;
            pipeline.add(&identity).map_err(|e| e.to_string())?;
            (identity.clone(), identity)
        };
    pipeline.add(&mask).map_err(|e| e.to_string())?;
    last_detect.link(&mask).map_err(|e| e.to_string())?;

    let pad = mask.static_pad("sink").expect("redactmask has a sink pad");
    let feed = feed.clone();
    let reporter = reporter.clone();
    pad.add_probe(gst::PadProbeType::BUFFER, move |pad, info| {
        let index = feed.frame.fetch_add(1, Ordering::Relaxed);
        if index == 0
            && let Some(total) = estimate_frames(pad)
        {
            reporter.total(total);
        }
        if let Some(gst::PadProbeData::Buffer(buffer)) = info.data.as_mut() {
            let buffer = buffer.make_mut();
            feed.add_regions(buffer, index);
            feed.count(buffer);
        }
        reporter.frame(index + 1);
        gst::PadProbeReturn::Ok
    });
    Ok((first, mask))
}

fn redact_file(
    input: &Path,
    output: &Path,
    options: &RunOptions,
    reporter: &Arc<dyn Reporter>,
) -> Result<FileReport, String> {
    let start = std::time::Instant::now();
    reporter.start(input);
    if let Some(parent) = output.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
    }
    media::remove_stale_temporaries(output);
    let tmp = media::temporary_name(output);
    let feed = Arc::new(RegionFeed {
        boxes: options.boxes.clone(),
        detections: options.detections.clone(),
        frame: AtomicU64::new(0),
        masked: Mutex::new(Vec::new()),
    });
    // Every input, whatever its extension: a picture bomb named .mp4 is decoded too.
    let result = if let Err(e) = media::check_image_size(input) {
        Err(e)
    } else if media::is_image(input) {
        image_pipeline(input, &tmp, options, &feed, reporter).map(|p| (p, None))
    } else {
        // Audio, timecode and subtitles of an MP4/MOV are copied after the video is written.
        let tracks = tracks::mp4_tracks(input, options.no_audio, &|w| reporter.warn(w));
        video_pipeline(input, &tmp, options, tracks.is_some(), &feed, reporter).map(|p| (p, tracks))
    }
    .and_then(|(pipeline, tracks)| {
        let cpu = process_cpu_time();
        play(&pipeline, input, &|w| reporter.warn(w))?;
        let timings = Timings::collect(&pipeline, process_cpu_time() - cpu);
        if let Some(tracks) = tracks.as_ref().filter(|t| !t.is_empty()) {
            tracks::append(input, &tmp, tracks)?;
        }
        Ok(timings)
    })
    .and_then(|timings| {
        let frames = feed.frame.load(Ordering::Relaxed);
        if frames == 0 {
            return Err(format!(
                "{}: no video frames decoded (no video stream, or an empty file)",
                input.display()
            ));
        }
        check_complete(input, frames, options.detect.allow_partial, &|w| {
            reporter.warn(w)
        })?;
        if let Some(d) = &options.detections
            && d.frame_count != frames
        {
            reporter.warn(&format!(
                "{}: the detections file lists {} frames, the video has {frames}",
                input.display(),
                d.frame_count
            ));
        }
        std::fs::rename(&tmp, output)
            .map_err(|e| format!("cannot write {}: {e}", output.display()))?;
        Ok(FileReport {
            input: input.to_path_buf(),
            output: output.to_path_buf(),
            frames,
            masked: feed.masked.lock().unwrap().clone(),
            seconds: start.elapsed().as_secs_f64(),
            timings,
        })
    });
    match &result {
        Ok(report) => reporter.finish(report),
        Err(_) => {
            let _ = std::fs::remove_file(&tmp);
        }
    }
    result
}

fn image_pipeline(
    input: &Path,
    tmp: &Path,
    options: &RunOptions,
    feed: &Arc<RegionFeed>,
    reporter: &Arc<dyn Reporter>,
) -> Result<gst::Pipeline, String> {
    let pipeline = gst::Pipeline::new();
    let src = file_element("filesrc", input)?;
    let decode = make("decodebin")?;
    make_decoders_strict(&decode);
    let convert_out = make("videoconvert")?;
    let quality = options.quality.image_quality();
    let encoder = match media::extension(input).as_str() {
        "jpg" | "jpeg" => gst::ElementFactory::make("jpegenc")
            .property("quality", quality)
            .build(),
        "png" => gst::ElementFactory::make("pngenc").build(),
        _ => gst::ElementFactory::make("webpenc")
            .property("quality", quality as f32)
            .build(),
    }
    .map_err(|_| {
        format!(
            "{}: no encoder for this image format: run ./setup to install the plugin packages",
            input.display()
        )
    })?;
    let sink = file_element("filesink", tmp)?;
    pipeline
        .add_many([&src, &decode, &convert_out, &encoder, &sink])
        .map_err(|e| e.to_string())?;
    let (first, last) = redaction_chain(&pipeline, options, feed, reporter, VideoPath::System)?;
    // EXIF orientation is applied to the pixels (the input chain's videoflip), since the
    // metadata is not written back.
    let (chain_in, chain_last) = device::add_input_chain(&pipeline, VideoPath::System)?;
    src.link(&decode).map_err(|e| e.to_string())?;
    gst::Element::link_many([&chain_last, &first]).map_err(|e| e.to_string())?;
    gst::Element::link_many([&last, &convert_out, &encoder, &sink]).map_err(|e| e.to_string())?;
    let chain_weak = chain_in.downgrade();
    decode.connect_pad_added(move |_, pad| {
        if let Some(chain_in) = chain_weak.upgrade() {
            let sinkpad = chain_in
                .static_pad("sink")
                .expect("the input chain has a sink pad");
            if !sinkpad.is_linked() {
                link_late(pad, &sinkpad);
            }
        }
    });
    Ok(pipeline)
}

/// Warns once when the audio on `pad` comes without timestamps (GStreamer 1.22's transport
/// stream demuxer gives none for ffmpeg's variable-rate TS files): it is copied in order
/// from the start, and its sync with the video is then not guaranteed.
fn warn_if_untimed(pad: &gst::Pad, input: &str, caps: &str, reporter: &Arc<dyn Reporter>) {
    let message = format!(
        "{input}: the audio ({caps}) has no timestamps (the container's clock could not be read): \
         it is copied in order from the start; check its sync with the video"
    );
    let reporter = reporter.clone();
    pad.add_probe(gst::PadProbeType::BUFFER, move |_, info| {
        if let Some(buffer) = info.buffer() {
            if buffer.pts().is_none() {
                reporter.warn(&message);
            }
            return gst::PadProbeReturn::Remove;
        }
        gst::PadProbeReturn::Ok
    });
}

/// A queue without limits, for coded streams in front of the muxer.
fn unbounded_queue() -> gst::Element {
    gst::ElementFactory::make("queue")
        .property("max-size-buffers", 0u32)
        .property("max-size-bytes", 0u32)
        .property("max-size-time", 0u64)
        .build()
        .expect("queue is a core element")
}

/// `copied`: the streams beside the video are copied from the file afterwards
/// (`tracks`): GStreamer's are dropped without a word.
fn video_pipeline(
    input: &Path,
    tmp: &Path,
    options: &RunOptions,
    copied: bool,
    feed: &Arc<RegionFeed>,
    reporter: &Arc<dyn Reporter>,
) -> Result<gst::Pipeline, String> {
    let (path, _) = device::video_path(options.detect.device)?;
    let pipeline = gst::Pipeline::new();
    let ext = media::extension(input);
    let src = file_element("filesrc", input)?;
    let parse = make("parsebin")?;
    let decode = make("decodebin")?;
    make_decoders_strict(&decode);
    device::steer_decoders(&decode, options.detect.device, path);
    let quality = options.quality;
    let (encoder, parser) = if ext == "webm" {
        let enc = gst::ElementFactory::make("vp8enc")
            .property_from_str("end-usage", "cq")
            .property("cq-level", quality.vp8_cq_level())
            .property("target-bitrate", 50_000_000i32)
            .property("deadline", 1i64)
            .property("cpu-used", 4i32)
            .property("threads", 2i32)
            .build()
            .map_err(|_| "GStreamer element 'vp8enc' is missing: run ./setup".to_string())?;
        (enc, None)
    } else {
        let enc = gst::ElementFactory::make("x264enc")
            .property_from_str("pass", "qual")
            .property("quantizer", quality.x264_quantizer())
            // veryfast, not faster: on the 1080p Hamilton clip at quantizer 18 it takes
            // 12.7 instead of 22.5 CPU s, for the same file size and SSIM 0.9958 instead
            // of 0.9962 against the input (PSNR 49.8 vs 50.3 dB).
            .property_from_str("speed-preset", X264_PRESET)
            .build()
            .map_err(|_| {
                "GStreamer element 'x264enc' is missing: run ./setup (gstreamer1.0-plugins-ugly)"
                    .to_string()
            })?;
        (enc, Some(make("h264parse")?))
    };
    let mux = make(match ext.as_str() {
        "mp4" => "mp4mux",
        "mov" => "qtmux",
        "mkv" => "matroskamux",
        "webm" => "webmmux",
        "ts" | "mts" | "m2ts" => "mpegtsmux",
        _ => "avimux",
    })?;
    // The demuxer feeds audio and video from one thread. The encoder can hand over many
    // frames at once (its lookahead, drained on a caps change): with a bounded queue here,
    // avimux waits for audio the blocked demuxer never sends. Coded video is small: no limit.
    let video_queue = unbounded_queue();
    let sink = file_element("filesink", tmp)?;
    pipeline
        .add_many([&src, &parse, &decode, &encoder, &video_queue, &mux, &sink])
        .map_err(|e| e.to_string())?;
    if let Some(p) = &parser {
        pipeline.add(p).map_err(|e| e.to_string())?;
    }
    let (convert_in, convert_in_last) = device::add_input_chain(&pipeline, path)?;
    let (convert_out, convert_out_last) = device::add_output_chain(&pipeline, path)?;
    let (first, last) = redaction_chain(&pipeline, options, feed, reporter, path)?;
    src.link(&parse).map_err(|e| e.to_string())?;
    gst::Element::link_many([&convert_in_last, &first]).map_err(|e| e.to_string())?;
    gst::Element::link_many([&last, &convert_out]).map_err(|e| e.to_string())?;
    if parser.is_some() {
        // H.264 4:2:0 cannot hold an odd width or height (its crop unit is 2 pixels): such
        // frames go to x264 as 4:4:4, which keeps every pixel.
        let format = make("capsfilter")?;
        pipeline.add(&format).map_err(|e| e.to_string())?;
        gst::Element::link_many([&convert_out_last, &format, &encoder])
            .map_err(|e| e.to_string())?;
        let format_weak = format.downgrade();
        let reporter = reporter.clone();
        let input_name = input.display().to_string();
        let out_pad = convert_out
            .static_pad("sink")
            .expect("videoconvert has a sink pad");
        out_pad.add_probe(gst::PadProbeType::EVENT_DOWNSTREAM, move |_, info| {
            if let Some(gst::EventView::Caps(c)) = info.event().map(|e| e.view())
                && let Ok(v) = gst_video::VideoInfo::from_caps(c.caps())
                && (v.width() % 2 == 1 || v.height() % 2 == 1)
                && let Some(format) = format_weak.upgrade()
            {
                format.set_property(
                    "caps",
                    gst::Caps::builder("video/x-raw").field("format", "Y444").build(),
                );
                reporter.warn(&format!(
                    "{input_name}: {}x{} is an odd size, which H.264 4:2:0 cannot hold: encoded as H.264 4:4:4 (every pixel kept; some players play only 4:2:0)",
                    v.width(),
                    v.height()
                ));
            }
            gst::PadProbeReturn::Ok
        });
    } else {
        gst::Element::link_many([&convert_out_last, &encoder]).map_err(|e| e.to_string())?;
    }
    match &parser {
        Some(p) => gst::Element::link_many([&encoder, p, &video_queue]),
        None => encoder.link(&video_queue),
    }
    .map_err(|e| e.to_string())?;
    video_queue
        .link(&mux)
        .map_err(|e| format!("cannot put the video into {ext}: {e}"))?;
    mux.link(&sink).map_err(|e| e.to_string())?;

    let convert_weak = convert_in.downgrade();
    decode.connect_pad_added(move |_, pad| {
        if let Some(convert) = convert_weak.upgrade() {
            let sinkpad = convert
                .static_pad("sink")
                .expect("the input chain has a sink pad");
            if !sinkpad.is_linked() {
                link_late(pad, &sinkpad);
            }
        }
    });

    // Parsed streams: the first video to the decoder, audio copied into the muxer, the rest
    // dropped with a warning.
    let no_audio = options.no_audio;
    let pipeline_weak = pipeline.downgrade();
    let decode_weak = decode.downgrade();
    let mux_weak = mux.downgrade();
    let input_name = input.display().to_string();
    let reporter = reporter.clone();
    parse.connect_pad_added(move |parse, pad| {
        let (Some(pipeline), Some(decode), Some(mux)) = (pipeline_weak.upgrade(), decode_weak.upgrade(), mux_weak.upgrade()) else {
            return;
        };
        let caps = pad.current_caps().or_else(|| Some(pad.query_caps(None)));
        let name = caps.as_ref().and_then(|c| c.structure(0).map(|s| s.name().to_string())).unwrap_or_default();
        let decode_sink = decode.static_pad("sink").expect("decodebin has a sink pad");
        let drop_stream = |why: &str| {
            if !why.is_empty() {
                reporter.warn(&format!("{input_name}: {why}"));
            }
            if let Ok(fakesink) = gst::ElementFactory::make("fakesink").property("sync", false).property("async", false).build()
                && pipeline.add(&fakesink).is_ok()
            {
                let _ = fakesink.sync_state_with_parent();
                link_late(pad, &fakesink.static_pad("sink").expect("fakesink has a sink pad"));
            }
        };
        // MJPEG (CCTV AVI files) comes out of the demuxer as image/jpeg.
        let is_video = name.starts_with("video/") || name == "image/jpeg";
        if is_video && !decode_sink.is_linked() {
            link_late(pad, &decode_sink);
            return;
        }
        fail_at_eos_without_video(pad, &decode_sink);
        if copied && !is_video {
            drop_stream("");
        } else if name.starts_with("audio/") && !no_audio {
            // The demuxer feeds audio and video from one thread, and the video branch holds
            // frames back (decoder, encoder lookahead): a bounded audio queue would fill and
            // stall the demuxer before the muxer ever gets video. Audio is small: no limit.
            let queue = unbounded_queue();
            if pipeline.add(&queue).is_err() {
                return;
            }
            let _ = queue.sync_state_with_parent();
            warn_if_untimed(pad, &input_name, &name, &reporter);
            // The pad first: the queue then knows the caps that pick the muxer's audio pad.
            let queue_sink = queue.static_pad("sink").expect("queue has a sink pad");
            let linked = pad.link(&queue_sink).is_ok() && queue.link(&mux).is_ok();
            if linked {
                pass_on_end(pad, &queue_sink);
            }
            if !linked {
                gst::element_error!(
                    parse,
                    gst::StreamError::Format,
                    ("the audio ({name}) cannot be copied into this container; use --no-audio to drop it")
                );
            }
        } else if name.starts_with("audio/") {
            drop_stream("");
        } else {
            drop_stream(&format!("dropping a {name} stream (only video and audio are kept)"));
        }
    });
    Ok(pipeline)
}
