//! What a detector reports: a class, a box in frame pixels, a score and optional points
//! (five face landmarks, or four plate corners).

use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ObjectClass {
    Face,
    LicensePlate,
}

impl ObjectClass {
    pub const ALL: [ObjectClass; 2] = [ObjectClass::Face, ObjectClass::LicensePlate];

    /// The name used for `roi_type`, in the detections JSON and in model manifests.
    pub fn as_str(self) -> &'static str {
        match self {
            ObjectClass::Face => "face",
            ObjectClass::LicensePlate => "license-plate",
        }
    }
}

impl fmt::Display for ObjectClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ObjectClass {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "face" | "faces" => Ok(ObjectClass::Face),
            "license-plate" | "license-plates" | "plate" | "plates" => {
                Ok(ObjectClass::LicensePlate)
            }
            other => Err(format!(
                "unknown class '{other}': use face or license-plate"
            )),
        }
    }
}

/// Axis-aligned box, top-left corner and size, in pixels.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct BBox {
    pub x: f32,
    pub y: f32,
    pub w: f32,
    pub h: f32,
}

impl BBox {
    pub fn new(x: f32, y: f32, w: f32, h: f32) -> BBox {
        BBox { x, y, w, h }
    }

    pub fn from_corners(x1: f32, y1: f32, x2: f32, y2: f32) -> BBox {
        BBox {
            x: x1,
            y: y1,
            w: x2 - x1,
            h: y2 - y1,
        }
    }

    pub fn area(&self) -> f32 {
        self.w.max(0.0) * self.h.max(0.0)
    }

    /// The box's centre (x, y).
    pub fn centre(&self) -> (f32, f32) {
        (self.x + self.w / 2.0, self.y + self.h / 2.0)
    }

    /// The area both boxes cover (0 when they do not overlap).
    pub fn intersection_area(&self, other: &BBox) -> f32 {
        let ix = (self.x + self.w).min(other.x + other.w) - self.x.max(other.x);
        let iy = (self.y + self.h).min(other.y + other.h) - self.y.max(other.y);
        if ix <= 0.0 || iy <= 0.0 { 0.0 } else { ix * iy }
    }

    pub fn iou(&self, other: &BBox) -> f32 {
        let inter = self.intersection_area(other);
        if inter <= 0.0 {
            return 0.0;
        }
        let union = self.area() + other.area() - inter;
        if union <= 0.0 { 0.0 } else { inter / union }
    }

    /// The box cut to the frame; may end up empty (w or h 0).
    pub fn clip(&self, width: f32, height: f32) -> BBox {
        let x1 = self.x.clamp(0.0, width);
        let y1 = self.y.clamp(0.0, height);
        let x2 = (self.x + self.w).clamp(0.0, width);
        let y2 = (self.y + self.h).clamp(0.0, height);
        BBox::from_corners(x1, y1, x2, y2)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Detection {
    pub class: ObjectClass,
    pub bbox: BBox,
    pub score: f32,
    /// Face: eyes, nose, mouth corners. Plate: the four corners, clockwise from top-left.
    pub points: Vec<[f32; 2]>,
}

/// Whether `b` lies (nearly) wholly inside one of `regions`: a verification pass's
/// detection of a face that is masked already. One that sticks out is kept: the face is
/// then only partly under the mask.
pub fn mostly_covered<'a>(b: &BBox, regions: impl IntoIterator<Item = &'a BBox>) -> bool {
    let area = b.area().max(1e-6);
    regions
        .into_iter()
        .any(|r| b.intersection_area(r) >= VERIFIED_COVERED * area)
}

/// Share of a verification detection that must lie inside an existing region for it to
/// count as masked already.
pub const VERIFIED_COVERED: f32 = 0.9;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iou_of_known_boxes() {
        let a = BBox::new(0.0, 0.0, 10.0, 10.0);
        assert_eq!(a.iou(&a), 1.0);
        assert_eq!(a.iou(&BBox::new(20.0, 0.0, 5.0, 5.0)), 0.0);
        // Half overlap: 50 / (100 + 100 - 50).
        let b = BBox::new(5.0, 0.0, 10.0, 10.0);
        assert!((a.iou(&b) - 1.0 / 3.0).abs() < 1e-6);
    }

    #[test]
    fn clip_to_frame() {
        let b = BBox::new(-5.0, 90.0, 20.0, 20.0).clip(100.0, 100.0);
        assert_eq!(b, BBox::new(0.0, 90.0, 15.0, 10.0));
    }

    #[test]
    fn class_names_round_trip() {
        for c in ObjectClass::ALL {
            assert_eq!(c.as_str().parse::<ObjectClass>().unwrap(), c);
        }
        assert!("cat".parse::<ObjectClass>().is_err());
    }
}
