//! `redact`: find and mask faces and licence plates in files.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};
use redact::detect;
use redact::eval::{self, Dataset};
use redact::pipeline::DetectOptions;
use redact_elements::detect as defaults;

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
    /// Detect faces and plates and write the detections JSON (one file per input).
    Detect {
        /// An image, a video, or a folder of them (searched recursively).
        input: PathBuf,
        /// Output JSON file; for a folder input, a folder that mirrors the input tree.
        /// Default: INPUT.json beside a file, INPUT.detections/ beside a folder.
        #[arg(short, long)]
        output: Option<PathBuf>,
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
    /// List the known models and whether each is installed.
    Models,
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

fn unit_interval(s: &str) -> Result<f64, String> {
    let v: f64 = s.parse().map_err(|_| format!("'{s}' is not a number"))?;
    if (0.0..=1.0).contains(&v) {
        Ok(v)
    } else {
        Err(format!("{v} is outside 0..1"))
    }
}

fn input_scale(s: &str) -> Result<f64, String> {
    let v: f64 = s.parse().map_err(|_| format!("'{s}' is not a number"))?;
    if (0.25..=4.0).contains(&v) {
        Ok(v)
    } else {
        Err(format!("{v} is outside 0.25..4"))
    }
}

/// The `redactdetect` settings, with the element's defaults.
#[derive(Args, Clone)]
struct DetectorArgs {
    /// Do not detect faces.
    #[arg(long)]
    no_faces: bool,
    /// Do not detect licence plates.
    #[arg(long)]
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
    /// Run the detectors on every Nth frame only.
    #[arg(long, default_value_t = defaults::DEFAULT_INTERVAL, value_parser = clap::value_parser!(u32).range(1..))]
    interval: u32,
    /// Inference threads per model; 0 = one per core.
    #[arg(long, default_value_t = defaults::DEFAULT_THREADS)]
    threads: u32,
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
            interval: self.interval,
            threads: self.threads,
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Detect {
            input,
            output,
            detector,
        } => {
            let options = detector.options();
            detect::run(&input, output.as_deref(), &options, |r| match r {
                Ok(s) => println!("{}", s.line()),
                Err(e) => eprintln!("error: {e}"),
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
