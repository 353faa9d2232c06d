// SPDX-License-Identifier: MIT OR Apache-2.0
//! The read-only `stats` property of `redactmask` and `redacttrack`: frames, regions and
//! the CPU time of the element's own work, so a pipeline's cost can be split by element
//! (`redact run --timings`, `bench/run`).

use std::time::Duration;

use gst::glib;
use gst::prelude::*;

#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct ElementStats {
    pub frames: u64,
    /// Regions handled (masked, or tracked boxes written).
    pub regions: u64,
    /// CPU time of the element's own work on the streaming thread.
    pub cpu: Duration,
}

impl ElementStats {
    pub fn add(&mut self, regions: usize, cpu: Duration) {
        self.frames += 1;
        self.regions += regions as u64;
        self.cpu += cpu;
    }

    /// `<name>, frames=(guint64), regions=(guint64), cpu=(double)` seconds.
    pub fn structure(&self, name: &str) -> gst::Structure {
        gst::Structure::builder(name)
            .field("frames", self.frames)
            .field("regions", self.regions)
            .field("cpu", self.cpu.as_secs_f64())
            .build()
    }

    /// The property spec; `blurb` says what `regions` counts.
    pub fn param_spec(blurb: &str) -> glib::ParamSpec {
        glib::ParamSpecBoxed::builder::<gst::Structure>("stats")
            .nick("Statistics")
            .blurb(blurb)
            .read_only()
            .build()
    }
}
