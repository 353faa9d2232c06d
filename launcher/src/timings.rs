//! Where a file's CPU time went (`redact run --timings`): the `stats` of the redact
//! elements in the pipeline, and the whole process's CPU time while the file ran; the rest
//! is decoding, encoding, muxing and the pipeline itself.

use std::time::Duration;

use gst::prelude::*;

/// CPU time used so far by the whole process (every thread: decoder, encoder, workers).
pub fn process_cpu_time() -> Duration {
    // SAFETY: getrusage writes into the zeroed struct we pass; RUSAGE_SELF is valid.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        if libc::getrusage(libc::RUSAGE_SELF, &mut usage) != 0 {
            return Duration::ZERO;
        }
        usage
    };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

/// CPU seconds of one file, split by element.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Timings {
    /// The whole process while the file ran.
    pub process: f64,
    /// `redactdetect`, by class and stage: ("face-inference", seconds), ...; the
    /// verification pass's as "verify-face-inference", ...
    pub detect: Vec<(String, f64)>,
    pub track: f64,
    pub mask: f64,
    pub workers: u32,
    pub threads: u32,
}

impl Timings {
    /// Reads the `stats` of the redact elements in `pipeline` (after it ran).
    pub fn collect(pipeline: &gst::Pipeline, process: Duration) -> Timings {
        let mut t = Timings {
            process: process.as_secs_f64(),
            ..Timings::default()
        };
        for element in pipeline.iterate_recurse().into_iter().flatten() {
            let Some(factory) = element.factory() else {
                continue;
            };
            if element.find_property("stats").is_none() {
                continue;
            }
            let stats = element.property::<gst::Structure>("stats");
            match factory.name().as_str() {
                "redactdetect" => {
                    // The verification pass's costs are named apart: verify-face-inference...
                    let verify = element.property::<bool>("verify");
                    if !verify {
                        t.workers = stats.get("workers").unwrap_or(0);
                        t.threads = stats.get("threads").unwrap_or(0);
                    }
                    for (name, value) in stats.iter() {
                        if let Ok(seconds) = value.get::<f64>() {
                            let name = if verify {
                                format!("verify-{name}")
                            } else {
                                name.to_string()
                            };
                            t.detect.push((name, seconds));
                        }
                    }
                }
                "redacttrack" => t.track += stats.get::<f64>("cpu").unwrap_or(0.0),
                "redactmask" => t.mask += stats.get::<f64>("cpu").unwrap_or(0.0),
                _ => {}
            }
        }
        t
    }

    pub fn detect_total(&self) -> f64 {
        self.detect.iter().map(|(_, s)| s).sum()
    }

    /// One line of `key=seconds` pairs (CPU seconds), easy to read and to parse.
    pub fn line(&self) -> String {
        let other = self.process - self.detect_total() - self.track - self.mask;
        let mut line = format!(
            "timings (CPU s): process={:.2} detect={:.2} track={:.2} mask={:.2} decode+encode+other={:.2}",
            self.process,
            self.detect_total(),
            self.track,
            self.mask,
            other.max(0.0)
        );
        for (name, seconds) in &self.detect {
            line += &format!(" {name}={seconds:.2}");
        }
        line += &format!(" workers={} threads={}", self.workers, self.threads);
        line
    }
}
