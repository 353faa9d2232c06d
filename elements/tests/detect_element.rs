//! `redactdetect` with several workers: frames come out in order with exactly the
//! detections one worker gives, `interval` still picks frames 0, N, 2N, ..., the frames in
//! flight are reported as latency, and `stats` says what ran and what it cost.

mod support;

use gst::prelude::*;

/// Per output frame: pts in ms and the face / plate boxes on it.
type Boxes = Vec<(u64, Vec<(String, (u32, u32, u32, u32))>)>;

/// The first `frames` frames of the Hamilton clip through `redactdetect {props}`, and the
/// element's stats (which count the frames in flight too when the pipeline stops).
fn detect(clip: &std::path::Path, frames: usize, props: &str) -> (Boxes, gst::Structure) {
    let pipeline = support::pipeline(&format!(
        "filesrc location=\"{}\" ! decodebin ! redactdetect name=detect {props} ! \
         appsink name=sink sync=false",
        clip.display()
    ));
    let sink = support::appsink(&pipeline);
    pipeline.set_state(gst::State::Playing).unwrap();
    let mut out = Vec::new();
    while out.len() < frames
        && let Ok(sample) = sink.pull_sample()
    {
        let buffer = sample.buffer().unwrap();
        let mut boxes: Vec<_> = buffer
            .iter_meta::<gst_video::VideoRegionOfInterestMeta>()
            .map(|m| (m.roi_type().to_string(), m.rect()))
            .collect();
        boxes.sort();
        out.push((buffer.pts().unwrap().mseconds(), boxes));
    }
    let bus = pipeline.bus().unwrap();
    assert!(
        bus.pop_filtered(&[gst::MessageType::Error]).is_none(),
        "the pipeline failed"
    );
    let stats = pipeline
        .by_name("detect")
        .unwrap()
        .property::<gst::Structure>("stats");
    pipeline.set_state(gst::State::Null).unwrap();
    (out, stats)
}

#[test]
fn workers_give_the_same_frames_in_the_same_order() {
    let Some(data) = support::shared_data() else {
        return;
    };
    let clip = data.join("video/short_hamilton_clip.mp4");
    // One thread per session either way, so the arithmetic is the same.
    let (one, one_stats) = detect(&clip, 40, "workers=1 threads=1");
    let (three, three_stats) = detect(&clip, 40, "workers=3 threads=1");
    assert_eq!(one.len(), 40);
    for w in three.windows(2) {
        assert!(w[1].0 > w[0].0, "in order: {} then {}", w[0].0, w[1].0);
    }
    let faces: usize = one.iter().map(|(_, b)| b.len()).sum();
    assert!(
        faces > 40,
        "the clip's stage has faces on most frames ({faces})"
    );
    assert_eq!(one, three, "three workers find exactly what one finds");

    for (stats, workers) in [(&one_stats, 1u32), (&three_stats, 3)] {
        // Frames still in flight when the pipeline stopped count too.
        let done = stats.get::<u64>("frames").unwrap();
        assert!((40..=40 + 2 * workers as u64).contains(&done), "{done}");
        assert_eq!(stats.get::<u64>("detected-frames").unwrap(), done);
        assert_eq!(stats.get::<u32>("workers").unwrap(), workers);
        assert_eq!(stats.get::<u32>("threads").unwrap(), 1);
        for field in [
            "face-inference",
            "license-plate-inference",
            "face-preprocess",
        ] {
            let seconds = stats.get::<f64>(field).unwrap();
            assert!(
                seconds > 0.0 && seconds < 60.0,
                "{field}: {seconds} s for 40 frames"
            );
        }
    }
}

#[test]
fn interval_with_workers_detects_every_nth_frame() {
    let Some(data) = support::shared_data() else {
        return;
    };
    let clip = data.join("video/short_hamilton_clip.mp4");
    let (every, _) = detect(&clip, 30, "workers=1 threads=1");
    let (third, stats) = detect(&clip, 30, "workers=2 threads=1 interval=3");
    assert_eq!(third.len(), 30);
    let frames = stats.get::<u64>("frames").unwrap();
    assert_eq!(
        stats.get::<u64>("detected-frames").unwrap(),
        frames.div_ceil(3)
    );
    for (i, (a, b)) in every.iter().zip(&third).enumerate() {
        assert_eq!(a.0, b.0, "frame {i}: same pts");
        if i % 3 == 0 {
            assert_eq!(a.1, b.1, "frame {i}: detected, same boxes");
        } else {
            assert!(b.1.is_empty(), "frame {i}: skipped, no metas");
        }
    }
}

#[test]
fn candidates_are_the_finds_below_the_threshold() {
    use redact_elements::roi::candidate_class;
    let Some(data) = support::shared_data() else {
        return;
    };
    let clip = data.join("video/short_hamilton_clip.mp4");
    let props = "workers=1 threads=1";
    let (with, _) = detect(&clip, 12, props);
    let (without, _) = detect(&clip, 12, &format!("{props} candidate-threshold=0"));
    let (low, _) = detect(
        &clip,
        12,
        &format!("{props} candidate-threshold=0 face-threshold=0.1 plate-threshold=0.1"),
    );
    assert_eq!(with.len(), 12);
    let mut candidates = 0;
    for ((a, b), c) in with.iter().zip(&without).zip(&low) {
        let (cands, found): (Vec<_>, Vec<_>) =
            a.1.iter()
                .cloned()
                .partition(|(t, _)| candidate_class(t).is_some());
        // The detections are what the threshold alone gives ...
        assert_eq!(found, b.1, "{} ms: the same detections", a.0);
        // ... and with the candidates, as detections, what the candidate threshold gives.
        let mut all: Vec<_> = found
            .into_iter()
            .chain(
                cands
                    .iter()
                    .map(|(t, r)| (candidate_class(t).unwrap().to_string(), *r)),
            )
            .collect();
        all.sort();
        assert_eq!(all, c.1, "{} ms: detections and candidates", a.0);
        assert!(b.1.iter().all(|(t, _)| candidate_class(t).is_none()));
        candidates += cands.len();
    }
    assert!(candidates > 0, "the clip has finds below the thresholds");
}

#[test]
fn still_images_use_one_worker() {
    let Some(data) = support::shared_data() else {
        return;
    };
    let pipeline = support::pipeline(&format!(
        "filesrc location=\"{}\" ! decodebin ! videoconvert ! redactdetect name=detect ! \
         appsink name=sink",
        data.join("faces-dlib/2008_002470.jpg").display()
    ));
    let sink = support::appsink(&pipeline);
    pipeline.set_state(gst::State::Playing).unwrap();
    let sample = sink.pull_sample().expect("the image comes out");
    let faces = sample
        .buffer()
        .unwrap()
        .iter_meta::<gst_video::VideoRegionOfInterestMeta>()
        .filter(|m| m.roi_type() == "face")
        .count();
    let stats = pipeline
        .by_name("detect")
        .unwrap()
        .property::<gst::Structure>("stats");
    pipeline.set_state(gst::State::Null).unwrap();
    assert!(faces >= 4, "group photo: {faces} face(s)");
    assert_eq!(stats.get::<u32>("workers").unwrap(), 1, "{stats}");
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as u32;
    assert_eq!(stats.get::<u32>("threads").unwrap(), cores, "{stats}");
}

#[test]
fn latency_includes_the_frames_in_flight() {
    let run = |workers: u32| {
        support::latency(&format!(
            "videotestsrc is-live=true ! video/x-raw,format=I420,width=64,height=48,framerate=25/1 ! \
             redactdetect workers={workers} threads=1 classes=face ! fakesink sync=true"
        ))
    };
    let ((live, one), (_, two)) = (run(1), run(2));
    assert!(live);
    // Each worker holds up to two frames of 40 ms.
    assert!(
        one >= gst::ClockTime::from_mseconds(80),
        "one worker: {one}"
    );
    assert!(
        two >= gst::ClockTime::from_mseconds(160),
        "two workers: {two}"
    );
    assert_eq!(
        two - one,
        gst::ClockTime::from_mseconds(80),
        "{one} vs {two}"
    );
}

#[test]
fn events_keep_their_place_among_the_frames() {
    support::init();
    let pipeline = support::pipeline(
        "appsrc name=src format=time caps=video/x-raw,format=I420,width=64,height=48,framerate=25/1 ! \
         redactdetect workers=2 threads=1 classes=face ! fakesink name=sink sync=false",
    );
    let src = pipeline
        .by_name("src")
        .unwrap()
        .downcast::<gst_app::AppSrc>()
        .unwrap();
    // What reaches the sink, in order: frame numbers (from the pts) and tag titles.
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let record = seen.clone();
    pipeline
        .by_name("sink")
        .unwrap()
        .static_pad("sink")
        .unwrap()
        .add_probe(
            gst::PadProbeType::BUFFER | gst::PadProbeType::EVENT_DOWNSTREAM,
            move |_, info| {
                let mut seen = record.lock().unwrap();
                match &info.data {
                    Some(gst::PadProbeData::Buffer(b)) => {
                        seen.push(format!("frame {}", b.pts().unwrap().mseconds() / 40))
                    }
                    Some(gst::PadProbeData::Event(e)) => {
                        if let gst::EventView::Tag(t) = e.view()
                            && let Some(title) = t.tag().get::<gst::tags::Title>()
                        {
                            seen.push(format!("tag {}", title.get()));
                        }
                    }
                    _ => {}
                }
                gst::PadProbeReturn::Ok
            },
        );
    pipeline.set_state(gst::State::Playing).unwrap();
    let frame = |i: u64| {
        let mut b = gst::Buffer::with_size(64 * 48 * 3 / 2).unwrap();
        {
            let b = b.get_mut().unwrap();
            b.set_pts(gst::ClockTime::from_mseconds(40 * i));
            b.set_duration(gst::ClockTime::from_mseconds(40));
        }
        b
    };
    for i in 0..6 {
        src.push_buffer(frame(i)).unwrap();
    }
    let mut tags = gst::TagList::new();
    tags.get_mut()
        .unwrap()
        .add::<gst::tags::Title>(&"between 5 and 6", gst::TagMergeMode::Append);
    assert!(src.send_event(gst::event::Tag::new(tags)));
    for i in 6..12 {
        src.push_buffer(frame(i)).unwrap();
    }
    src.end_of_stream().unwrap();
    let bus = pipeline.bus().unwrap();
    let msg = bus
        .timed_pop_filtered(
            gst::ClockTime::from_seconds(30),
            &[gst::MessageType::Eos, gst::MessageType::Error],
        )
        .expect("the stream ends");
    pipeline.set_state(gst::State::Null).unwrap();
    assert!(matches!(msg.view(), gst::MessageView::Eos(_)), "{msg:?}");
    let seen = seen.lock().unwrap().clone();
    let mut want: Vec<String> = (0..6).map(|i| format!("frame {i}")).collect();
    want.push("tag between 5 and 6".into());
    want.extend((6..12).map(|i| format!("frame {i}")));
    assert_eq!(seen, want);
}

#[test]
fn a_flushing_seek_restarts_cleanly() {
    let Some(data) = support::shared_data() else {
        return;
    };
    let pipeline = support::pipeline(&format!(
        "filesrc location=\"{}\" ! decodebin ! redactdetect workers=2 threads=1 classes=face ! \
         appsink name=sink sync=false max-buffers=2",
        data.join("video/short_hamilton_clip.mp4").display()
    ));
    let sink = support::appsink(&pipeline);
    pipeline.set_state(gst::State::Paused).unwrap();
    pipeline.state(gst::ClockTime::from_seconds(30)).0.unwrap();
    pipeline.set_state(gst::State::Playing).unwrap();
    // A few frames in, with frames in flight, seek to 6 s.
    for _ in 0..5 {
        sink.pull_sample().expect("frames before the seek");
    }
    assert!(
        pipeline
            .seek_simple(
                gst::SeekFlags::FLUSH | gst::SeekFlags::ACCURATE,
                gst::ClockTime::from_seconds(6),
            )
            .is_ok()
    );
    let mut after = Vec::new();
    while let Ok(sample) = sink.pull_sample() {
        let segment = sample
            .segment()
            .unwrap()
            .downcast_ref::<gst::ClockTime>()
            .unwrap();
        let pts = sample.buffer().unwrap().pts().unwrap();
        after.push(segment.to_stream_time(pts).unwrap());
    }
    let bus = pipeline.bus().unwrap();
    let error = bus.pop_filtered(&[gst::MessageType::Error]);
    pipeline.set_state(gst::State::Null).unwrap();
    assert!(error.is_none(), "{error:?}");
    // The rest of the clip (9.2 s long), in order, from the seek position on: nothing left
    // over from before the seek.
    assert!(after.len() > 60, "{} frames after the seek", after.len());
    assert!(
        after[0] >= gst::ClockTime::from_mseconds(5_900),
        "first {}",
        after[0]
    );
    for w in after.windows(2) {
        assert!(w[1] > w[0], "in order: {} then {}", w[0], w[1]);
    }
}
