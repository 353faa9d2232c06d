//! `redact detect`: detections JSON for an image, a video, or a folder of them.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use crate::detections::DetectionsFile;
use crate::media;
use crate::pipeline::{DetectOptions, detect_file};
use crate::progress::ProgressLines;

/// What one file gave, for the summary line.
#[derive(Debug, Clone)]
pub struct FileSummary {
    pub input: PathBuf,
    pub output: PathBuf,
    pub detections: DetectionsFile,
    pub seconds: f64,
}

impl FileSummary {
    pub fn line(&self) -> String {
        let d = &self.detections;
        let with_any = d.frames.iter().filter(|f| !f.detections.is_empty()).count();
        let detected = |class: &str| {
            d.frames
                .iter()
                .flat_map(|f| &f.detections)
                .filter(|x| x.class == class && x.origin == "detected")
                .count()
        };
        format!(
            "{}: {}x{}, {} frame(s), {} face box(es) ({} detected), {} plate box(es) ({} detected), {} track(s), {} frame(s) with boxes, {:.1} s ({:.1} fps) -> {}",
            self.input.display(),
            d.width,
            d.height,
            d.frame_count,
            d.count("face"),
            detected("face"),
            d.count("license-plate"),
            detected("license-plate"),
            d.tracks.len(),
            with_any,
            self.seconds,
            d.frame_count as f64 / self.seconds.max(1e-9),
            self.output.display()
        )
    }
}

fn detect_one(
    input: &Path,
    output: &Path,
    options: &DetectOptions,
    progress: Option<&Arc<ProgressLines>>,
) -> Result<FileSummary, String> {
    let start = Instant::now();
    let lines = progress.cloned();
    let detections = detect_file(
        input,
        options,
        move |done, total| {
            if let Some(p) = &lines {
                p.frames(done, total)
            }
        },
        |w| eprintln!("warning: {w}"),
    )?;
    if let Some(p) = progress {
        p.done();
    }
    let json = serde_json::to_vec_pretty(&detections).map_err(|e| e.to_string())?;
    media::write_atomically(output, &json)
        .map_err(|e| format!("cannot write {}: {e}", output.display()))?;
    Ok(FileSummary {
        input: input.into(),
        output: output.into(),
        detections,
        seconds: start.elapsed().as_secs_f64(),
    })
}

/// Default output: `X.json` beside a file, `X.detections/` beside a folder.
pub fn default_output(input: &Path) -> PathBuf {
    let name = input
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "input".into());
    if input.is_dir() {
        input.with_file_name(format!("{name}.detections"))
    } else {
        input.with_file_name(format!("{name}.json"))
    }
}

/// Runs detection on `input` (file or folder). `report` receives each file's summary as it
/// finishes; a failing file is named in a warning and the others still run. Fails if any
/// file failed. `progress`: `--progress-lines`.
pub fn run(
    input: &Path,
    output: Option<&Path>,
    options: &DetectOptions,
    progress: Option<&Arc<ProgressLines>>,
    mut report: impl FnMut(&FileSummary),
) -> Result<Vec<FileSummary>, String> {
    crate::pipeline::init()?;
    // `--device cuda` without a GPU: one error before any file.
    crate::device::video_path(options.device)?;
    let output = output
        .map(Path::to_path_buf)
        .unwrap_or_else(|| default_output(input));
    if input.is_file() {
        let summary = detect_one(input, &output, options, progress)?;
        report(&summary);
        return Ok(vec![summary]);
    }
    if !input.is_dir() {
        return Err(format!("{}: no such file or folder", input.display()));
    }
    if output.is_file() {
        return Err(format!(
            "{}: the input is a folder, so -o must be a folder, not a file",
            output.display()
        ));
    }
    media::for_each_file(
        input,
        |w| eprintln!("warning: {w}"),
        |file, rel| {
            let summary = detect_one(
                file,
                &output.join(format!("{}.json", rel.display())),
                options,
                progress,
            )?;
            report(&summary);
            Ok(summary)
        },
    )
}
