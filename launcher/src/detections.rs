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
    pub tracks: Vec<serde_json::Value>,
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

impl DetectionsFile {
    pub fn count(&self, class: &str) -> usize {
        self.frames
            .iter()
            .map(|f| f.detections.iter().filter(|d| d.class == class).count())
            .sum()
    }
}
