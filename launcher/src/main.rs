//! `redact`: find and mask faces and licence plates in files.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};
use redact::detect;
use redact::device::Device;
use redact::eval::{self, Dataset};
use redact::pipeline::{DetectOptions, VerifyOptions};
use redact::progress::{Progress, ProgressLines};
use redact::run::{self, MaskOptions, Quality, RunOptions};
use redact_elements::detect as defaults;
use redact_formats::values::{
    extra_scale, input_scale, non_negative, parse_area, parse_color, parse_crop, parse_ids,
    unit_interval,
};
use std::sync::Arc;

#[derive(Parser)]
#[command(
    name = "redact",
    version,
    about = "Find and mask faces and licence plates in images and videos"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Redact an image, a video, a ZIP or a folder: same kind of file out.
    ///
    /// Without -o the output is NAME.redacted.EXT beside the input (NAME.redacted/ for a
    /// folder). Videos keep their container, resolution, frame rate and timing; audio is
    /// copied as it is. Images keep their format and lose their metadata (EXIF, GPS).
    Run {
        /// An image (jpg, png, webp), a video (mp4, mov, mkv, webm, avi), a .zip, or a folder.
        input: PathBuf,
        /// Output file (same format as the input), or folder for a folder input.
        #[arg(short, long)]
        output: Option<PathBuf>,
        #[command(flatten)]
        mask: MaskArgs,
        #[command(flatten)]
        detector: DetectorArgs,
    },
    /// Detect faces and plates and write the detections JSON (one file per input).
    Detect {
        /// An image, a video, or a folder of them (searched recursively).
        input: PathBuf,
        /// Output JSON file; for a folder input, a folder that mirrors the input tree.
        /// Default: INPUT.json beside a file, INPUT.detections/ beside a folder.
        #[arg(short, long)]
        output: Option<PathBuf>,
        /// For programs: print `progress DONE TOTAL` lines on stdout (TOTAL 0 while unknown).
        #[arg(long)]
        progress_lines: bool,
        #[command(flatten)]
        detector: DetectorArgs,
    },
    /// Measure recall and false boxes on an annotated image set (see ../shared/data).
    Eval {
        /// Which annotation format the folder holds.
        #[arg(value_enum)]
        dataset: DatasetArg,
        /// The folder (e.g. ../shared/data/faces-crowd).
        dir: PathBuf,
        /// List every missed box.
        #[arg(long)]
        show_missed: bool,
        #[command(flatten)]
        detector: DetectorArgs,
    },
    /// Save one frame of an image or video, or a region of it, as a JPEG.
    Frame {
        /// An image or a video.
        input: PathBuf,
        /// Output JPEG file.
        #[arg(short, long)]
        output: PathBuf,
        /// The frame (0-based, as in the detections JSON).
        #[arg(long, default_value_t = 0)]
        index: u64,
        /// Only this region: X,Y,W,H in pixels (e.g. a box from the detections JSON).
        #[arg(long, value_parser = parse_crop)]
        crop: Option<[f64; 4]>,
    },
    /// List the known models and whether each is installed.
    Models,
    /// The job API over HTTP (`redact serve --help`); runs `redact-serve` installed beside
    /// `redact`.
    #[command(disable_help_flag = true)]
    Serve {
        /// Arguments for `redact-serve` (see `redact serve --help`).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<std::ffi::OsString>,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum MethodArg {
    /// Irreversible blur scaled to each region
    Blur,
    /// Flat blocks (--block-size)
    Pixelate,
    /// Solid colour (--color)
    Fill,
    /// Draw boxes only: a review render, NOT a redaction
    Outline,
}

#[derive(Clone, Copy, ValueEnum)]
enum StrengthArg {
    Low,
    Medium,
    High,
}

#[derive(Clone, Copy, ValueEnum)]
enum ShapeArg {
    Rectangle,
    Ellipse,
}

#[derive(Clone, Copy, ValueEnum)]
enum ScopeArg {
    /// Mask every region except those of --track-ids
    Exclude,
    /// Mask only the regions of --track-ids
    Include,
}

#[derive(Clone, Copy, ValueEnum)]
enum QualityArg {
    /// Visually near-lossless (H.264 CRF 18, JPEG/WebP 95)
    High,
    /// H.264 CRF 23, JPEG/WebP 88
    Medium,
    /// H.264 CRF 28, JPEG/WebP 75
    Low,
}

/// How `redact run` masks and encodes.
#[derive(Args, Clone)]
struct MaskArgs {
    /// How to mask each region.
    #[arg(long, value_enum, default_value = "blur")]
    method: MethodArg,
    /// Blur strength, scaled to each region's size.
    #[arg(long, value_enum, default_value = "high")]
    strength: StrengthArg,
    /// Pixelation block in pixels; 0 = a sixth of the region's shorter side.
    #[arg(long, default_value_t = 0)]
    block_size: u32,
    /// Fill (and outline) colour: RRGGBB hex or a name (black, white, grey, red, green, blue).
    #[arg(long, default_value = "black", value_parser = parse_color)]
    color: u32,
    /// Shape of each masked region.
    #[arg(long, value_enum, default_value = "rectangle")]
    shape: ShapeArg,
    /// Grow each region by this fraction of its size (0.3 = 30% wider and higher).
    #[arg(long, default_value_t = redact_elements::mask::DEFAULT_PADDING, value_parser = non_negative)]
    padding: f64,
    /// Feather outside each region, as a fraction of its shorter side (0 = hard edge).
    #[arg(long, default_value_t = 0.0, value_parser = unit_interval)]
    soft_edge: f64,
    /// Only mask regions touching this part of the frame: TOP,LEFT,BOTTOM,RIGHT fractions.
    #[arg(long, value_parser = parse_area)]
    area: Option<[f64; 4]>,
    /// Track ids that --scope applies to (comma-separated; from the detections JSON).
    #[arg(long, default_value = "")]
    track_ids: String,
    /// exclude: mask all but --track-ids; include: mask only --track-ids.
    #[arg(long, value_enum, default_value = "exclude")]
    scope: ScopeArg,
    /// Extra regions no detector finds: a JSON list of {"box": [x, y, w, h], "from": F, "to": T} (frames, inclusive).
    #[arg(long)]
    boxes: Option<PathBuf>,
    /// Mask the regions of a detections JSON (from `redact detect`) instead of detecting.
    #[arg(long)]
    detections: Option<PathBuf>,
    /// Encoder quality.
    #[arg(long, value_enum, default_value = "high")]
    quality: QualityArg,
    /// Drop the audio (by default it is copied without re-encoding).
    #[arg(long)]
    no_audio: bool,
    /// Print only warnings and errors.
    #[arg(short, long)]
    quiet: bool,
    /// After each file, print where its CPU time went (detect by class and stage, track,
    /// mask, the rest) to stderr.
    #[arg(long)]
    timings: bool,
    /// For programs: print `progress DONE TOTAL` lines on stdout instead of the progress
    /// bar and summary (TOTAL 0 while unknown).
    #[arg(long)]
    progress_lines: bool,
}

impl MaskArgs {
    fn options(&self, detector: &DetectorArgs) -> Result<RunOptions, String> {
        let name = |v: &dyn ValueEnumName| v.name();
        Ok(RunOptions {
            detect: detector.options(),
            mask: MaskOptions {
                method: name(&self.method),
                strength: name(&self.strength),
                block_size: self.block_size,
                color: self.color,
                shape: name(&self.shape),
                padding: self.padding,
                soft_edge: self.soft_edge,
                area: self.area.unwrap_or([0.0, 0.0, 1.0, 1.0]),
                track_ids: parse_ids(&self.track_ids).map_err(|e| format!("--track-ids: {e}"))?,
                include_tracks: matches!(self.scope, ScopeArg::Include),
            },
            quality: match self.quality {
                QualityArg::High => Quality::High,
                QualityArg::Medium => Quality::Medium,
                QualityArg::Low => Quality::Low,
            },
            no_audio: self.no_audio,
            boxes: match &self.boxes {
                Some(p) => run::read_boxes(p)?,
                None => Vec::new(),
            },
            detections: match &self.detections {
                Some(p) => Some(Arc::new(run::read_detections(p)?)),
                None => None,
            },
        })
    }
}

/// The value name clap shows for an enum argument (the element's nick).
trait ValueEnumName {
    fn name(&self) -> String;
}

impl<T: ValueEnum> ValueEnumName for T {
    fn name(&self) -> String {
        self.to_possible_value()
            .map(|v| v.get_name().to_string())
            .unwrap_or_default()
    }
}

#[derive(Clone, Copy, ValueEnum)]
enum DatasetArg {
    /// training.xml + testing.xml, IoU >= 0.3 and 0.5
    FacesDlib,
    /// gt.json, IoU >= 0.5 and 0.3
    FacesCrowd,
    /// one .txt per image, IoU >= 0.5
    Plates,
}

/// The `redactdetect` settings, with the element's defaults.
#[derive(Args, Clone)]
struct DetectorArgs {
    /// Detect faces (the default).
    #[arg(long, overrides_with = "no_faces")]
    faces: bool,
    /// Do not detect faces.
    #[arg(long, overrides_with = "faces")]
    no_faces: bool,
    /// Detect licence plates (the default).
    #[arg(long, overrides_with = "no_plates")]
    plates: bool,
    /// Do not detect licence plates.
    #[arg(long, overrides_with = "plates")]
    no_plates: bool,
    /// Minimum face confidence (0..1).
    #[arg(long, default_value_t = defaults::DEFAULT_FACE_THRESHOLD, value_parser = unit_interval)]
    face_threshold: f64,
    /// Minimum licence-plate confidence (0..1).
    #[arg(long, default_value_t = defaults::DEFAULT_PLATE_THRESHOLD, value_parser = unit_interval)]
    plate_threshold: f64,
    /// Face model: yunet-s, yunet-n, centerface, or a path to an .onnx file.
    #[arg(long, default_value = defaults::DEFAULT_FACE_MODEL)]
    face_model: String,
    /// Plate model: hyperlpr3-640, hyperlpr3-320, or a path to an .onnx file.
    #[arg(long, default_value = defaults::DEFAULT_PLATE_MODEL)]
    plate_model: String,
    /// Folder searched first for model files.
    #[arg(long)]
    model_dir: Option<PathBuf>,
    /// Long side in pixels of the face detector's input; 0 = the frame times --face-input-scale, at most 1920.
    #[arg(long, default_value_t = defaults::DEFAULT_FACE_INPUT_SIZE)]
    face_input_size: u32,
    /// Scale of the frame for the face detector when --face-input-size is 0 (0.25..4).
    #[arg(long, default_value_t = defaults::DEFAULT_FACE_INPUT_SCALE, value_parser = input_scale)]
    face_input_scale: f64,
    /// A second face pass on the frame at this scale, merged with the first (0 = none): it
    /// finds blurred small faces the upscaled pass misses. Skipped where its input would be
    /// within 15 % of the first pass's (1080p and larger, by default). Measured: `redact
    /// run` 8 % slower at 360p, 3 % at 720p (README "Performance").
    #[arg(long, default_value_t = defaults::DEFAULT_FACE_EXTRA_SCALE, value_parser = extra_scale)]
    face_extra_scale: f64,
    /// Finds from this confidence up to the class's threshold only continue a track that
    /// two detections confirmed (ByteTrack's low-score detections), and lead a new track's
    /// backfill back to where the face was first found: a blurred face found above the
    /// threshold on some frames stays masked on the frames where it scores less. Measured
    /// on the leak benchmark (README "Leaks"). 0 = none; unused with --no-track.
    #[arg(long, default_value_t = defaults::DEFAULT_CANDIDATE_THRESHOLD, value_parser = unit_interval)]
    candidate_threshold: f64,
    /// Run the detectors on every Nth frame only.
    #[arg(long, default_value_t = defaults::DEFAULT_INTERVAL, value_parser = clap::value_parser!(u32).range(1..))]
    interval: u32,
    /// Frames detected at once, each on its own thread; 0 = one per core (at most 4) for video, 1 for images.
    #[arg(long, default_value_t = defaults::DEFAULT_WORKERS)]
    workers: u32,
    /// Inference threads per worker and model; 0 = the cores divided among the workers.
    #[arg(long, default_value_t = defaults::DEFAULT_THREADS)]
    threads: u32,
    /// Do not track: every frame only gets its own detections (needs --interval 1 for run).
    #[arg(long)]
    no_track: bool,
    /// Frames held back so that tracks are extended backwards and gaps interpolated.
    #[arg(long, default_value_t = redact::pipeline::DEFAULT_LOOKAHEAD)]
    lookahead: u32,
    /// Frames a track keeps a predicted box after its last detection; 0 = half a second.
    #[arg(long, default_value_t = 0)]
    max_age: u32,
    /// Tracks keep their own velocity while the camera pans, zooms or whips, instead of
    /// moving with the picture (the default: its shift and zoom measured on every frame,
    /// and the motion of the tracks found): more leaked frames and more boxes left on empty
    /// background, measured (README "Leaks").
    #[arg(long)]
    no_follow_camera: bool,
    /// A face candidate (see --candidate-threshold) that recurs at the same place on this many
    /// detector runs in a row starts a track of its own, backfilled along them: a blurred
    /// or covered face that the detector never scores above the threshold but sees every
    /// time. 0 = never; at most one fewer than the runs --lookahead holds, so that one run
    /// may miss it (5 of 6 with --interval 3);
    /// candidates higher than 48 px never. Measured on the leak benchmark (README "Leaks").
    #[arg(long, default_value_t = redact_elements::track::DEFAULT_CANDIDATE_RUN)]
    candidate_run: u32,
    /// Where video is decoded, detected, tracked and masked. auto: the NVIDIA GPU when
    /// CUDA, GStreamer's CUDA elements and the kernels are usable, else the CPU. Images
    /// stay on the CPU.
    #[arg(long, value_enum, default_value = "auto")]
    device: DeviceArg,
    /// Leave out the verification pass (a second face model on the masked frames that
    /// masks what it still finds): about 3x faster, more faces leak (README "Leaks").
    #[arg(long)]
    no_verify: bool,
    /// Face model of the verification pass: centerface, yunet-s, yunet-n, or an .onnx path.
    #[arg(long, default_value = "centerface")]
    verify_model: String,
    /// Minimum face confidence of the verification pass (0..1).
    #[arg(long, default_value_t = 0.2, value_parser = unit_interval)]
    verify_threshold: f64,
    /// Scale of the frame for the verification model (0.25..4).
    #[arg(long, default_value_t = 1.0, value_parser = input_scale)]
    verify_scale: f64,
    /// Keep what could be decoded of a video file that is cut off (its container declares
    /// more than the file holds); by default such a file fails, saying how many frames
    /// could be decoded, and nothing is written.
    #[arg(long)]
    allow_partial: bool,
}

#[derive(Clone, Copy, ValueEnum)]
enum DeviceArg {
    /// The GPU when usable, else the CPU
    Auto,
    /// The CPU only (no hardware decoder either)
    Cpu,
    /// The GPU (NVDEC, CUDA kernels, ONNX Runtime's CUDA provider), or an error
    Cuda,
}

impl DetectorArgs {
    fn options(&self) -> DetectOptions {
        DetectOptions {
            faces: !self.no_faces,
            plates: !self.no_plates,
            face_threshold: self.face_threshold,
            plate_threshold: self.plate_threshold,
            face_model: self.face_model.clone(),
            plate_model: self.plate_model.clone(),
            model_dir: self.model_dir.clone(),
            face_input_size: self.face_input_size,
            face_input_scale: self.face_input_scale,
            face_extra_scale: self.face_extra_scale,
            candidate_threshold: self.candidate_threshold,
            interval: self.interval,
            workers: self.workers,
            threads: self.threads,
            track: !self.no_track,
            lookahead: self.lookahead,
            max_age: self.max_age,
            follow_camera: !self.no_follow_camera,
            candidate_run: self.candidate_run,
            verify: (!self.no_verify).then(|| VerifyOptions {
                model: self.verify_model.clone(),
                threshold: self.verify_threshold,
                input_scale: self.verify_scale,
            }),
            device: match self.device {
                DeviceArg::Auto => Device::Auto,
                DeviceArg::Cpu => Device::Cpu,
                DeviceArg::Cuda => Device::Cuda,
            },
            allow_partial: self.allow_partial,
        }
    }
}

/// `redact serve ...`: replaces this process with `redact-serve` from the same folder (the
/// server is its own crate, so the CLI does not build with it).
fn serve(args: Vec<std::ffi::OsString>) -> Result<(), String> {
    use std::os::unix::process::CommandExt;
    let exe = std::env::current_exe().map_err(|e| format!("cannot find redact itself: {e}"))?;
    let server = exe.with_file_name("redact-serve");
    if !server.is_file() {
        return Err(format!(
            "{} is missing: build it with `cargo build --release -p redact-server` (./setup does)",
            server.display()
        ));
    }
    let e = std::process::Command::new(&server).args(args).exec();
    Err(format!("cannot start {}: {e}", server.display()))
}

fn main() -> ExitCode {
    // `redact ... | head` must end quietly, not panic on a closed pipe.
    // SAFETY: restoring the default SIGPIPE disposition before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Detect {
            input,
            output,
            progress_lines,
            detector,
        } => {
            let options = detector.options();
            let lines = progress_lines.then(|| Arc::new(ProgressLines::default()));
            detect::run(&input, output.as_deref(), &options, lines.as_ref(), |s| {
                if !progress_lines {
                    println!("{}", s.line())
                }
            })
            .map(|summaries| {
                if summaries.len() > 1 {
                    let frames: u64 = summaries.iter().map(|s| s.detections.frame_count).sum();
                    let faces: usize = summaries.iter().map(|s| s.detections.count("face")).sum();
                    let plates: usize = summaries
                        .iter()
                        .map(|s| s.detections.count("license-plate"))
                        .sum();
                    println!(
                        "{} file(s), {frames} frame(s), {faces} face(s), {plates} plate(s)",
                        summaries.len()
                    );
                }
            })
        }
        Command::Eval {
            dataset,
            dir,
            show_missed,
            detector,
        } => {
            let (dataset, ious): (Dataset, &[f64]) = match dataset {
                DatasetArg::FacesDlib => (Dataset::FacesDlib, &[0.3, 0.5]),
                DatasetArg::FacesCrowd => (Dataset::FacesCrowd, &[0.5, 0.3]),
                DatasetArg::Plates => (Dataset::Plates, &[0.5, 0.3]),
            };
            eval::evaluate(dataset, &dir, &detector.options(), ious).map(|report| {
                print!("{}", report.table());
                if show_missed {
                    for (file, b) in &report.missed {
                        println!("missed {} {:?}", file.display(), b);
                    }
                }
            })
        }
        Command::Run {
            input,
            output,
            mask,
            detector,
        } => {
            let (quiet, timings) = (mask.quiet || mask.progress_lines, mask.timings);
            mask.options(&detector).and_then(|options| {
                let reporter: Arc<dyn run::Reporter> = if mask.progress_lines {
                    Arc::new(ProgressLines::default())
                } else {
                    Arc::new(Progress::new(quiet, timings))
                };
                run::run(&input, output.as_deref(), &options, &reporter).map(|reports| {
                    if reports.len() > 1 && !quiet {
                        let frames: u64 = reports.iter().map(|r| r.frames).sum();
                        println!("{} file(s) redacted, {frames} frame(s)", reports.len());
                    }
                })
            })
        }
        Command::Serve { args } => serve(args),
        Command::Frame {
            input,
            output,
            index,
            crop,
        } => redact::frame::save_frame(&input, index, crop, &output),
        Command::Models => {
            for m in redact_models::catalog() {
                match redact_models::resolve_model(&m.name, None) {
                    Ok(r) => println!(
                        "{:<14} {:<14} {:<10} {}",
                        m.name,
                        m.class,
                        m.family,
                        r.path.display()
                    ),
                    Err(e) => println!(
                        "{:<14} {:<14} {:<10} not installed: {e}",
                        m.name, m.class, m.family
                    ),
                }
            }
            redact_models::ensure_runtime()
                .map(|_| println!("ONNX Runtime: loaded"))
                .map_err(|e| e.to_string())
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
