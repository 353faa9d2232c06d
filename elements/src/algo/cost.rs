//! What a piece of work cost in CPU time, measured on the thread that did it: the figure
//! that decides throughput on a machine whose cores are all busy, where wall-clock time
//! would also count the time a thread waited for a core.

use std::ops::AddAssign;
use std::time::Duration;

/// CPU time the calling thread has used so far.
pub fn thread_cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; the clock id is a constant Linux knows.
    let ok = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) } == 0;
    if !ok {
        return Duration::ZERO;
    }
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Times consecutive stages of one piece of work on the current thread.
#[derive(Debug)]
pub struct Stopwatch(Duration);

impl Stopwatch {
    pub fn start() -> Stopwatch {
        Stopwatch(thread_cpu_time())
    }

    /// CPU time since the start or the previous lap.
    pub fn lap(&mut self) -> Duration {
        let now = thread_cpu_time();
        let lap = now.saturating_sub(self.0);
        self.0 = now;
        lap
    }
}

/// CPU time of one model's stages, summed over the frames it ran on.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct DetectCost {
    /// Building the input tensor from the frame.
    pub preprocess: Duration,
    /// ONNX Runtime (on this thread; helper threads of a multi-threaded session are not
    /// included).
    pub inference: Duration,
    /// Decoding the outputs, NMS, mapping back to the frame.
    pub postprocess: Duration,
}

impl AddAssign for DetectCost {
    fn add_assign(&mut self, other: DetectCost) {
        self.preprocess += other.preprocess;
        self.inference += other.inference;
        self.postprocess += other.postprocess;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thread_cpu_time_counts_work_not_sleep() {
        let mut watch = Stopwatch::start();
        std::thread::sleep(Duration::from_millis(30));
        let slept = watch.lap();
        let mut x = 0u64;
        let t = std::time::Instant::now();
        while t.elapsed() < Duration::from_millis(30) {
            x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
        }
        let busy = watch.lap();
        assert!(slept < Duration::from_millis(10), "sleeping cost {slept:?}");
        // Busy for 30 ms of wall time; on a loaded machine the thread may get less CPU.
        assert!(
            busy > Duration::from_millis(5),
            "busy loop cost only {busy:?}"
        );
    }
}
