//! `redact eval`: recall and false boxes of the detector on annotated image sets (the
//! real test data in `../shared/data`), through the same pipeline as `redact detect`.

use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::pipeline::{DetectOptions, detect_file};
use redact_elements::algo::detection::BBox;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dataset {
    /// dlib's face set: `training.xml` + `testing.xml` (imglab boxes).
    FacesDlib,
    /// Crowds and small faces: `gt.json`.
    FacesCrowd,
    /// OpenALPR EU plates: one `.txt` per image.
    Plates,
}

impl Dataset {
    pub fn class(self) -> &'static str {
        match self {
            Dataset::Plates => "license-plate",
            _ => "face",
        }
    }
}

/// One annotated image: ground-truth boxes `[x, y, w, h]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub file: PathBuf,
    pub boxes: Vec<[f64; 4]>,
}

fn attr(tag: &str, name: &str) -> Option<String> {
    let key = format!("{name}='");
    let start = tag.find(&key)? + key.len();
    let end = tag[start..].find('\'')? + start;
    Some(tag[start..end].to_string())
}

/// dlib imglab XML: `<image file='x'>` followed by `<box top left width height/>` tags.
pub fn parse_imglab(xml: &str, dir: &Path) -> Vec<Sample> {
    let mut samples: Vec<Sample> = Vec::new();
    for tag in xml.split('<').map(|t| t.trim()) {
        if tag.starts_with("image ") {
            if let Some(file) = attr(tag, "file") {
                samples.push(Sample {
                    file: dir.join(file),
                    boxes: Vec::new(),
                });
            }
        } else if tag.starts_with("box ")
            && let Some(sample) = samples.last_mut()
        {
            let n = |k: &str| attr(tag, k).and_then(|v| v.parse::<f64>().ok());
            if let (Some(t), Some(l), Some(w), Some(h)) =
                (n("top"), n("left"), n("width"), n("height"))
            {
                sample.boxes.push([l, t, w, h]);
            }
        }
    }
    samples
}

pub fn load(dataset: Dataset, dir: &Path) -> Result<Vec<Sample>, String> {
    let read = |name: &str| {
        std::fs::read_to_string(dir.join(name))
            .map_err(|e| format!("cannot read {}: {e}", dir.join(name).display()))
    };
    match dataset {
        Dataset::FacesDlib => {
            let mut samples = parse_imglab(&read("training.xml")?, dir);
            samples.extend(parse_imglab(&read("testing.xml")?, dir));
            Ok(samples)
        }
        Dataset::FacesCrowd => {
            #[derive(serde::Deserialize)]
            struct Entry {
                file: String,
                boxes: Vec<[f64; 4]>,
            }
            let entries: Vec<Entry> =
                serde_json::from_str(&read("gt.json")?).map_err(|e| format!("gt.json: {e}"))?;
            Ok(entries
                .into_iter()
                .map(|e| Sample {
                    file: dir.join(e.file),
                    boxes: e.boxes,
                })
                .collect())
        }
        Dataset::Plates => {
            let mut samples = Vec::new();
            let mut txts: Vec<PathBuf> = std::fs::read_dir(dir)
                .map_err(|e| format!("cannot read {}: {e}", dir.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|e| e == "txt"))
                .collect();
            txts.sort();
            for txt in txts {
                let text =
                    std::fs::read_to_string(&txt).map_err(|e| format!("{}: {e}", txt.display()))?;
                let f: Vec<&str> = text.trim().split('\t').collect();
                let nums: Option<Vec<f64>> = f
                    .get(1..5)
                    .map(|n| n.iter().filter_map(|v| v.trim().parse().ok()).collect());
                match (f.first(), nums) {
                    (Some(file), Some(n)) if n.len() == 4 => samples.push(Sample {
                        file: dir.join(file),
                        boxes: vec![[n[0], n[1], n[2], n[3]]],
                    }),
                    _ => {
                        return Err(format!(
                            "{}: expected file, x, y, w, h separated by tabs",
                            txt.display()
                        ));
                    }
                }
            }
            Ok(samples)
        }
    }
}

/// IoU of two `[x, y, w, h]` boxes (the detector's own `BBox::iou`).
pub fn iou(a: &[f64; 4], b: &[f64; 4]) -> f64 {
    let bbox = |v: &[f64; 4]| BBox::new(v[0] as f32, v[1] as f32, v[2] as f32, v[3] as f32);
    bbox(a).iou(&bbox(b)) as f64
}

/// One-to-one matching, best overlaps first: for each truth box, whether a found box
/// matched it at IoU >= `min_iou`. The number of unmatched found boxes is the false count.
pub fn match_boxes(truth: &[[f64; 4]], found: &[[f64; 4]], min_iou: f64) -> Vec<bool> {
    let mut pairs: Vec<(f64, usize, usize)> = Vec::new();
    for (t, tb) in truth.iter().enumerate() {
        for (f, fb) in found.iter().enumerate() {
            let v = iou(tb, fb);
            if v >= min_iou {
                pairs.push((v, t, f));
            }
        }
    }
    pairs.sort_by(|a, b| b.0.total_cmp(&a.0));
    let mut truth_used = vec![false; truth.len()];
    let mut found_used = vec![false; found.len()];
    for (_, t, f) in pairs {
        if !truth_used[t] && !found_used[f] {
            truth_used[t] = true;
            found_used[f] = true;
        }
    }
    truth_used
}

/// Recall and false boxes at one IoU.
#[derive(Debug, Clone, PartialEq)]
pub struct AtIou {
    pub iou: f64,
    pub matched: usize,
    pub recall: f64,
    pub false_boxes: usize,
    pub false_per_image: f64,
    /// Recall on truth boxes under 16 px high.
    pub small_recall: Option<f64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub images: usize,
    pub truths: usize,
    pub found: usize,
    pub small_truths: usize,
    pub at: Vec<AtIou>,
    pub ms_per_image: f64,
    /// Truth boxes missed at the first IoU: (file, box).
    pub missed: Vec<(PathBuf, [f64; 4])>,
}

pub const SMALL_FACE_HEIGHT: f64 = 16.0;

pub fn evaluate(
    dataset: Dataset,
    dir: &Path,
    options: &DetectOptions,
    ious: &[f64],
) -> Result<Report, String> {
    let samples = load(dataset, dir)?;
    let mut options = options.clone();
    options.faces = dataset.class() == "face";
    options.plates = !options.faces;
    let mut found_per_image = Vec::new();
    let start = Instant::now();
    for s in &samples {
        let d = detect_file(&s.file, &options, |_, _| {}, |w| eprintln!("warning: {w}"))?;
        let boxes: Vec<[f64; 4]> = d.frames[0]
            .detections
            .iter()
            .filter(|r| r.class == dataset.class())
            .map(|r| r.bbox)
            .collect();
        found_per_image.push(boxes);
    }
    let ms_per_image = start.elapsed().as_secs_f64() * 1000.0 / samples.len().max(1) as f64;
    let truths: usize = samples.iter().map(|s| s.boxes.len()).sum();
    let small_truths = samples
        .iter()
        .flat_map(|s| &s.boxes)
        .filter(|b| b[3] < SMALL_FACE_HEIGHT)
        .count();
    let mut at = Vec::new();
    let mut missed = Vec::new();
    for (k, &min_iou) in ious.iter().enumerate() {
        let (mut matched, mut false_boxes, mut small_matched) = (0, 0, 0);
        for (s, found) in samples.iter().zip(&found_per_image) {
            let m = match_boxes(&s.boxes, found, min_iou);
            let hits = m.iter().filter(|&&x| x).count();
            matched += hits;
            false_boxes += found.len() - hits;
            small_matched += s
                .boxes
                .iter()
                .zip(&m)
                .filter(|(b, hit)| **hit && b[3] < SMALL_FACE_HEIGHT)
                .count();
            if k == 0 {
                missed.extend(
                    s.boxes
                        .iter()
                        .zip(&m)
                        .filter(|(_, hit)| !**hit)
                        .map(|(b, _)| (s.file.clone(), *b)),
                );
            }
        }
        at.push(AtIou {
            iou: min_iou,
            matched,
            recall: matched as f64 / truths.max(1) as f64,
            false_boxes,
            false_per_image: false_boxes as f64 / samples.len().max(1) as f64,
            small_recall: (small_truths > 0).then(|| small_matched as f64 / small_truths as f64),
        });
    }
    Ok(Report {
        images: samples.len(),
        truths,
        found: found_per_image.iter().map(Vec::len).sum(),
        small_truths,
        at,
        ms_per_image,
        missed,
    })
}

impl Report {
    pub fn table(&self) -> String {
        let mut s = format!(
            "{} images, {} annotated, {} found, {:.1} ms/image (decode + detect)\n",
            self.images, self.truths, self.found, self.ms_per_image
        );
        s += "IoU   matched  recall  false boxes  false/image  recall <16px\n";
        for a in &self.at {
            s += &format!(
                "{:<5} {:>7}  {:>6.3}  {:>11}  {:>11.3}  {}\n",
                a.iou,
                a.matched,
                a.recall,
                a.false_boxes,
                a.false_per_image,
                a.small_recall
                    .map_or("-".into(), |r| format!("{r:.3} of {}", self.small_truths))
            );
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn imglab_boxes_belong_to_their_image() {
        let xml = "<images>\n<image file='a.jpg' width='5'>\n<box top='1' left='2' width='3' height='4'/>\n\
                   <box top='5' left='6' width='7' height='8'/>\n</image>\n<image file='b.jpg'>\n</image>\n</images>";
        let s = parse_imglab(xml, Path::new("/d"));
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].file, PathBuf::from("/d/a.jpg"));
        assert_eq!(s[0].boxes, vec![[2.0, 1.0, 3.0, 4.0], [6.0, 5.0, 7.0, 8.0]]);
        assert!(s[1].boxes.is_empty());
    }

    #[test]
    fn matching_is_one_to_one_best_first() {
        let truth = [[0.0, 0.0, 10.0, 10.0], [8.0, 0.0, 10.0, 10.0]];
        // One found box overlapping both: it goes to the better overlap only.
        let found = [[7.0, 0.0, 10.0, 10.0]];
        assert_eq!(match_boxes(&truth, &found, 0.3), vec![false, true]);
        assert_eq!(match_boxes(&truth, &[], 0.3), vec![false, false]);
        // Below the IoU limit nothing matches.
        assert_eq!(
            match_boxes(&truth[..1], &[[5.0, 5.0, 10.0, 10.0]], 0.3),
            vec![false]
        );
    }
}
