//! `redacttrack` in a pipeline: frames held for the lookahead all come out, in order, with
//! track ids and origins on their metas, and the added latency is reported.

mod support;

use gst::prelude::*;

/// 30 frames of 30 fps video; frames listed in `detected_on` get a face meta at a box moving
/// 4 px per frame. Returns (pts, [(id, origin, x)]) per output frame.
/// A region: x, y, w, h.
type Rect = (u32, u32, u32, u32);

/// Per output frame: pts in ms, and (track id, origin, x) of each meta.
type Output = Vec<(u64, Vec<(i32, String, u32)>)>;

fn track(detected_on: &[u64], props: &str) -> Output {
    track_with_candidates(detected_on, &[], props)
}

/// [`track`], and on the frames in `candidate_on` the face as a candidate (score 0.15)
/// with another candidate far from it.
fn track_with_candidates(detected_on: &[u64], candidate_on: &[u64], props: &str) -> Output {
    support::init();
    let pipeline = support::pipeline(&format!(
        "videotestsrc num-buffers=30 ! video/x-raw,format=I420,width=320,height=240,framerate=30/1 ! \
         identity name=feed ! redacttrack name=track {props} ! appsink name=sink sync=false"
    ));
    let detected_on = detected_on.to_vec();
    let candidate_on = candidate_on.to_vec();
    let counter = std::sync::atomic::AtomicU64::new(0);
    pipeline
        .by_name("feed")
        .unwrap()
        .static_pad("src")
        .unwrap()
        .add_probe(gst::PadProbeType::BUFFER, move |_, info| {
            let frame = counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let face = (20 + 4 * frame as u32, 50, 40, 40);
            let regions: Vec<(&str, Rect, f64)> = if detected_on.contains(&frame) {
                vec![("face", face, 0.9)]
            } else if candidate_on.contains(&frame) {
                vec![
                    ("face-candidate", face, 0.15),
                    ("face-candidate", (250, 180, 40, 40), 0.15),
                ]
            } else {
                vec![]
            };
            if let Some(gst::PadProbeData::Buffer(buffer)) = info.data.as_mut()
                && !regions.is_empty()
            {
                let buffer = buffer.make_mut();
                for (roi_type, rect, confidence) in regions {
                    let mut meta =
                        gst_video::VideoRegionOfInterestMeta::add(buffer, roi_type, rect);
                    meta.add_param(
                        gst::Structure::builder("detection")
                            .field("confidence", confidence)
                            .build(),
                    );
                }
            }
            gst::PadProbeReturn::Ok
        });
    let sink = support::appsink(&pipeline);
    pipeline.set_state(gst::State::Playing).unwrap();
    let mut out = Vec::new();
    while let Ok(sample) = sink.pull_sample() {
        let buffer = sample.buffer().unwrap();
        let metas = buffer
            .iter_meta::<gst_video::VideoRegionOfInterestMeta>()
            .map(|m| {
                let p = m.param("detection").unwrap();
                assert_eq!(m.roi_type(), "face", "the tracker removes the candidates");
                assert_eq!(p.get::<i32>("track_id").unwrap(), m.id());
                (m.id(), p.get::<String>("origin").unwrap(), m.rect().0)
            })
            .collect();
        out.push((buffer.pts().unwrap().mseconds(), metas));
    }
    pipeline.set_state(gst::State::Null).unwrap();
    out
}

#[test]
fn lookahead_frames_all_come_out_in_order() {
    // Detected every third frame from frame 9 to 27.
    let detected: Vec<u64> = (9..30).step_by(3).collect();
    let last = *detected.last().unwrap() as usize;
    let out = track(&detected, "lookahead=5");
    assert_eq!(
        out.len(),
        30,
        "every frame comes out, held ones at the end of stream"
    );
    for w in out.windows(2) {
        assert!(w[1].0 > w[0].0, "in order");
    }
    for (i, (_, metas)) in out.iter().enumerate() {
        let origins: Vec<&str> = metas.iter().map(|m| m.1.as_str()).collect();
        match i {
            // Backfill waits for the second detection (frame 12, when the motion is
            // known); the 5 frames held then reach back to frame 7.
            0..=6 => assert!(
                metas.is_empty(),
                "frame {i}: before the lookahead reach: {origins:?}"
            ),
            7..=8 => assert_eq!(origins, ["backfilled"], "frame {i}"),
            _ if detected.contains(&(i as u64)) => assert_eq!(origins, ["detected"], "frame {i}"),
            _ if i > last => assert_eq!(
                origins,
                ["predicted"],
                "frame {i}: after the last detection"
            ),
            _ => assert_eq!(origins, ["interpolated"], "frame {i}"),
        }
        assert!(metas.iter().all(|m| m.0 == 1), "one track id");
        // Where the face is, to a pixel: interpolated boxes follow the picture's motion,
        // which the tracker measures on the test pattern (its noise patch changes every
        // frame) as a fraction of a pixel.
        if let Some(m) = metas.first().filter(|m| m.1 == "interpolated") {
            let x = 20 + 4 * i as i64;
            assert!(
                (m.2 as i64 - x).abs() <= 1,
                "frame {i}: interpolated box at x = {}, the face at {x}",
                m.2
            );
        }
    }
}

#[test]
fn without_lookahead_gaps_are_predicted() {
    let out = track(&[0, 3, 6], "lookahead=0 max-age=5");
    let origins: Vec<String> = out
        .iter()
        .take(12)
        .map(|(_, m)| m.first().map_or("-".into(), |x| x.1.clone()))
        .collect();
    assert_eq!(
        origins,
        [
            "detected",
            "predicted",
            "predicted",
            "detected",
            "predicted",
            "predicted",
            "detected",
            "predicted",
            "predicted",
            "predicted",
            "predicted",
            "predicted"
        ]
    );
    assert!(out[12].1.is_empty(), "max-age 5: the track ends");
}

#[test]
fn candidates_continue_a_track_and_are_removed() {
    // Found on frames 0 and 1, then only as a candidate up to frame 20: max-age 3 would
    // end the track on frame 5 without the candidates.
    let out = track_with_candidates(&[0, 1], &(2..=20).collect::<Vec<_>>(), "max-age=3");
    for (i, (_, metas)) in out.iter().enumerate() {
        let expected: &[(i32, &str, u32)] = match i {
            0..=20 => &[(1, "detected", 20 + 4 * i as u32)],
            21..=23 => &[(1, "predicted", 0)],
            _ => &[],
        };
        assert_eq!(metas.len(), expected.len(), "frame {i}: {metas:?}");
        for (m, e) in metas.iter().zip(expected) {
            assert_eq!((m.0, m.1.as_str()), (e.0, e.1), "frame {i}");
            if e.1 == "detected" {
                assert_eq!(m.2, e.2, "frame {i}: the candidate's box");
            }
        }
    }
    // Candidates alone start no track and are masked nowhere without a lookahead, where
    // none can be seen to recur.
    let out = track_with_candidates(&[], &(0..30).collect::<Vec<_>>(), "");
    assert!(out.iter().all(|(_, metas)| metas.is_empty()));
}

#[test]
fn recurring_candidates_start_tracks() {
    // Both candidates (the moving face and the still one) recur on every frame: on the
    // sixth (candidate-run 6, the default) each starts a track, backfilled along them.
    let out = track_with_candidates(&[], &(0..30).collect::<Vec<_>>(), "lookahead=10");
    assert_eq!(out.len(), 30);
    for (i, (_, metas)) in out.iter().enumerate() {
        let origin = if i < 5 { "backfilled" } else { "detected" };
        let mut got: Vec<_> = metas.iter().map(|m| (m.1.as_str(), m.2)).collect();
        got.sort_by_key(|m| m.1);
        assert_eq!(
            got,
            [(origin, 20 + 4 * i as u32), (origin, 250)],
            "frame {i}"
        );
        let ids: Vec<i32> = metas.iter().map(|m| m.0).collect();
        assert!(ids.contains(&1) && ids.contains(&2), "frame {i}: {ids:?}");
    }
    // Off, or on fewer runs than asked for: none.
    let out = track_with_candidates(
        &[],
        &(0..30).collect::<Vec<_>>(),
        "lookahead=10 candidate-run=0",
    );
    assert!(out.iter().all(|(_, metas)| metas.is_empty()));
    let out = track_with_candidates(&[], &[0, 1, 2, 3, 4, 10, 11, 12], "lookahead=10");
    assert!(out.iter().all(|(_, metas)| metas.is_empty()));
}

#[test]
fn latency_includes_the_lookahead() {
    let (live, min) = support::latency(
        "videotestsrc is-live=true ! video/x-raw,format=I420,width=64,height=48,framerate=30/1 ! redacttrack lookahead=10 ! fakesink sync=true",
    );
    assert!(live);
    // Ten frames of 1/30 s.
    assert!(min >= gst::ClockTime::from_mseconds(333), "latency {min}");
}
