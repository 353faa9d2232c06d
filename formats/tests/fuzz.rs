//! Runs each libFuzzer target in `fuzz/` (cargo fuzz) for a bounded number of inputs,
//! starting from its seeds in `fuzz/seeds/TARGET`: a panic, an abort or a hang in any parser
//! fails this test with the input libFuzzer saved. Needs cargo-fuzz (`./setup` installs it);
//! the instrumentation flags are nightly-only in name, so the build runs with
//! RUSTC_BOOTSTRAP=1 on the machine's stable toolchain, without a sanitizer (`-s none`: the
//! code under test is safe Rust; what is looked for is panics).

use std::path::Path;
use std::process::Command;

const TARGETS: [&str; 4] = [
    "detections_json",
    "boxes_json",
    "option_values",
    "container_sizes",
];
/// Inputs per target: a few seconds each here.
const RUNS: u32 = 200_000;

#[test]
fn fuzz_targets_run_without_a_finding() {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
    let has_cargo_fuzz = Command::new("cargo")
        .args(["fuzz", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_cargo_fuzz {
        eprintln!("SKIPPED: cargo-fuzz is not installed (./setup installs it)");
        return;
    }
    for target in TARGETS {
        let corpus =
            std::env::temp_dir().join(format!("redact-fuzz-{target}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&corpus);
        std::fs::create_dir_all(&corpus).unwrap();
        let seeds = fuzz.join("seeds").join(target);
        let mut n = 0;
        for e in std::fs::read_dir(&seeds).unwrap() {
            let e = e.unwrap();
            std::fs::copy(e.path(), corpus.join(e.file_name())).unwrap();
            n += 1;
        }
        assert!(n > 0, "{target}: no seeds in {}", seeds.display());
        let started = std::time::Instant::now();
        let out = Command::new("cargo")
            .current_dir(&fuzz)
            .env("RUSTC_BOOTSTRAP", "1")
            .args(["fuzz", "run", "-s", "none", target])
            .arg(&corpus)
            .arg("--")
            .arg(format!("-runs={RUNS}"))
            .args([
                "-max_len=8192",
                "-timeout=10",
                "-rss_limit_mb=2048",
                "-seed=1",
            ])
            .output()
            .unwrap();
        let log = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "{target}: a finding (input saved under fuzz/artifacts/{target}/):\n{}",
            log.lines()
                .rev()
                .take(40)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect::<Vec<_>>()
                .join("\n")
        );
        let done = log
            .lines()
            .find(|l| l.starts_with("Done "))
            .unwrap_or("no 'Done' line");
        assert!(
            done.contains(&format!("Done {RUNS} runs")),
            "{target}: {done}"
        );
        eprintln!(
            "{target}: {done} ({:.0} s with the build), corpus {n} seeds",
            started.elapsed().as_secs_f64()
        );
        std::fs::remove_dir_all(&corpus).unwrap();
    }
}
