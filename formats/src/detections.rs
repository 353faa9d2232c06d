//! The detections JSON: one file per input, every frame listed (empty where nothing was
//! found). This format is the project's contract between `redact detect`, `redact run
//! --detections` and review tools.

use serde::{Deserialize, Serialize};

pub const FORMAT_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DetectionsFile {
    pub version: u32,
    pub source: String,
    pub width: u32,
    pub height: u32,
    /// Frames per second; null for still images and variable-rate streams.
    pub fps: Option<f64>,
    pub frame_count: u64,
    pub frames: Vec<FrameDetections>,
    pub tracks: Vec<TrackSummary>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FrameDetections {
    pub index: u64,
    /// Presentation time in seconds from the stream start; null when the frame has none.
    pub pts: Option<f64>,
    pub detections: Vec<DetectionRecord>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DetectionRecord {
    /// `face` or `license-plate` (the ROI meta's `roi_type`).
    pub class: String,
    /// `[x, y, w, h]` in frame pixels.
    #[serde(rename = "box")]
    pub bbox: [f64; 4],
    pub score: f64,
    pub track_id: Option<i64>,
    /// `detected` (by the model on this frame); the tracker adds other origins.
    pub origin: String,
    /// Face landmarks (5 points) or plate corners (4 points), frame pixels.
    pub landmarks: Vec<[f64; 2]>,
}

/// One track over the whole file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrackSummary {
    pub id: i64,
    pub class: String,
    pub first_frame: u64,
    pub last_frame: u64,
    /// Best detector score of the track, and the frame where it was reached.
    pub best_score: f64,
    pub best_frame: u64,
}

/// Parses a detections JSON (`redact detect`'s output, perhaps edited by a reviewer) and
/// checks what the renderer relies on: frames listed in order from 0, boxes with finite
/// coordinates and a positive size, finite scores and points.
pub fn parse(bytes: &[u8]) -> Result<DetectionsFile, String> {
    let file: DetectionsFile =
        serde_json::from_slice(bytes).map_err(|e| format!("not a detections JSON file: {e}"))?;
    if file.version != FORMAT_VERSION {
        return Err(format!(
            "detections format version {} (this redact reads version {FORMAT_VERSION})",
            file.version
        ));
    }
    for (i, f) in file.frames.iter().enumerate() {
        if f.index != i as u64 {
            return Err(format!(
                "frame {i} is listed with index {} (frames must be listed in order from 0)",
                f.index
            ));
        }
        for d in &f.detections {
            let finite = d.bbox.iter().all(|v| v.is_finite())
                && d.score.is_finite()
                && d.landmarks.iter().flatten().all(|v| v.is_finite());
            if !finite || d.bbox[2] <= 0.0 || d.bbox[3] <= 0.0 {
                return Err(format!(
                    "frame {i}: bad detection box {:?} (width and height must be > 0)",
                    d.bbox
                ));
            }
        }
    }
    Ok(file)
}

/// The tracks seen in `frames`, by id.
pub fn summarize_tracks(frames: &[FrameDetections]) -> Vec<TrackSummary> {
    let mut tracks: Vec<TrackSummary> = Vec::new();
    for f in frames {
        for d in &f.detections {
            let Some(id) = d.track_id else { continue };
            let detected = d.origin == "detected";
            match tracks.iter_mut().find(|t| t.id == id && t.class == d.class) {
                Some(t) => {
                    t.first_frame = t.first_frame.min(f.index);
                    t.last_frame = t.last_frame.max(f.index);
                    if detected && d.score > t.best_score {
                        t.best_score = d.score;
                        t.best_frame = f.index;
                    }
                }
                None => tracks.push(TrackSummary {
                    id,
                    class: d.class.clone(),
                    first_frame: f.index,
                    last_frame: f.index,
                    best_score: if detected { d.score } else { 0.0 },
                    best_frame: f.index,
                }),
            }
        }
    }
    tracks.sort_by_key(|t| t.id);
    tracks
}

impl DetectionsFile {
    pub fn count(&self, class: &str) -> usize {
        self.frames
            .iter()
            .map(|f| f.detections.iter().filter(|d| d.class == class).count())
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(id: Option<i64>, score: f64, origin: &str) -> DetectionRecord {
        DetectionRecord {
            class: "face".into(),
            bbox: [0.0, 0.0, 10.0, 10.0],
            score,
            track_id: id,
            origin: origin.into(),
            landmarks: vec![],
        }
    }

    #[test]
    fn tracks_span_their_frames_and_keep_the_best_detection() {
        let frames = vec![
            FrameDetections {
                index: 0,
                pts: None,
                detections: vec![rec(Some(2), 0.5, "backfilled")],
            },
            FrameDetections {
                index: 1,
                pts: None,
                detections: vec![rec(Some(2), 0.7, "detected"), rec(None, 0.3, "detected")],
            },
            FrameDetections {
                index: 2,
                pts: None,
                detections: vec![
                    rec(Some(2), 0.9, "predicted"),
                    rec(Some(1), 0.6, "detected"),
                ],
            },
        ];
        let t = summarize_tracks(&frames);
        assert_eq!(t.len(), 2);
        assert_eq!(
            (t[0].id, t[0].first_frame, t[0].last_frame, t[0].best_frame),
            (1, 2, 2, 2)
        );
        assert_eq!((t[1].id, t[1].first_frame, t[1].last_frame), (2, 0, 2));
        assert_eq!(
            (t[1].best_score, t[1].best_frame),
            (0.7, 1),
            "only detected boxes count for the best score"
        );
    }
}
