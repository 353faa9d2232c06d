//! Progress for `redact run`: a bar with frames, fps and ETA on a terminal; plain lines
//! (at most one every few seconds per file) when stderr is not a terminal.

use std::io::IsTerminal;
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

use crate::run::{FileReport, Reporter};

pub struct Progress {
    bar: Option<ProgressBar>,
    plain: Mutex<PlainState>,
    quiet: bool,
    timings: bool,
}

struct PlainState {
    file: String,
    started: Instant,
    last_line: Instant,
    total: Option<u64>,
}

const PLAIN_EVERY: Duration = Duration::from_secs(5);

impl Progress {
    /// `quiet`: only warnings and errors; `timings`: each file's CPU time by element too
    /// (on stderr, even when quiet).
    pub fn new(quiet: bool, timings: bool) -> Progress {
        let bar = (!quiet && std::io::stderr().is_terminal()).then(|| {
            let bar = ProgressBar::new(0);
            bar.set_style(
                ProgressStyle::with_template(
                    "{msg} [{bar:30}] {pos}/{len} frames  {per_sec}  ETA {eta}",
                )
                .expect("valid template")
                .progress_chars("=> "),
            );
            bar
        });
        Progress {
            bar,
            plain: Mutex::new(PlainState {
                file: String::new(),
                started: Instant::now(),
                last_line: Instant::now(),
                total: None,
            }),
            quiet,
            timings,
        }
    }
}

impl Reporter for Progress {
    fn start(&self, file: &Path) {
        let name = file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if let Some(bar) = &self.bar {
            bar.reset();
            bar.set_length(0);
            bar.set_message(name.clone());
        }
        let mut p = self.plain.lock().unwrap();
        *p = PlainState {
            file: name,
            started: Instant::now(),
            last_line: Instant::now(),
            total: None,
        };
    }

    fn total(&self, frames: u64) {
        if let Some(bar) = &self.bar {
            bar.set_length(frames);
        }
        self.plain.lock().unwrap().total = Some(frames);
    }

    fn frame(&self, done: u64) {
        if let Some(bar) = &self.bar {
            if bar.length().is_some_and(|l| done > l) {
                bar.set_length(done);
            }
            bar.set_position(done);
            return;
        }
        let mut p = self.plain.lock().unwrap();
        if self.quiet || p.last_line.elapsed() < PLAIN_EVERY {
            return;
        }
        p.last_line = Instant::now();
        let fps = done as f64 / p.started.elapsed().as_secs_f64().max(1e-9);
        match p.total {
            Some(total) if total >= done => eprintln!(
                "{}: {done}/{total} frames, {fps:.1} fps, ETA {:.0} s",
                p.file,
                (total - done) as f64 / fps.max(1e-9)
            ),
            _ => eprintln!("{}: {done} frames, {fps:.1} fps", p.file),
        }
    }

    fn finish(&self, report: &FileReport) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        if !self.quiet {
            println!("{}", report.line());
        }
        if self.timings {
            eprintln!("{}: {}", report.input.display(), report.timings.line());
        }
    }

    fn warn(&self, message: &str) {
        match &self.bar {
            Some(bar) => bar.suspend(|| eprintln!("warning: {message}")),
            None => eprintln!("warning: {message}"),
        }
    }
}

/// `--progress-lines`: `progress DONE TOTAL` on stdout (TOTAL 0 while unknown), at most
/// every quarter second and once at the end of each file, for a program that runs `redact`
/// (the job server reads them). Warnings go to stderr as usual.
pub struct ProgressLines {
    state: Mutex<(Instant, u64, u64)>,
}

const LINES_EVERY: Duration = Duration::from_millis(250);

impl Default for ProgressLines {
    fn default() -> Self {
        ProgressLines {
            state: Mutex::new((Instant::now() - LINES_EVERY, 0, 0)),
        }
    }
}

impl ProgressLines {
    /// Frames done of `total` (when known); printed if a quarter second has passed.
    pub fn frames(&self, done: u64, total: Option<u64>) {
        let mut s = self.state.lock().unwrap();
        if let Some(t) = total {
            s.2 = t;
        }
        s.1 = done;
        if s.0.elapsed() >= LINES_EVERY {
            s.0 = Instant::now();
            Self::print(s.1, s.2);
        }
    }

    /// The last count of a file, always printed.
    pub fn done(&self) {
        let s = self.state.lock().unwrap();
        Self::print(s.1, s.2.max(s.1));
    }

    fn print(done: u64, total: u64) {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "progress {done} {total}");
        let _ = out.flush();
    }
}

impl Reporter for ProgressLines {
    fn start(&self, _file: &Path) {
        *self.state.lock().unwrap() = (Instant::now() - LINES_EVERY, 0, 0);
    }

    fn total(&self, frames: u64) {
        self.state.lock().unwrap().2 = frames;
    }

    fn frame(&self, done: u64) {
        self.frames(done, None);
    }

    fn finish(&self, _report: &FileReport) {
        self.done();
    }

    fn warn(&self, message: &str) {
        eprintln!("warning: {message}");
    }
}
