//! `--boxes` files: regions no detector finds, masked on a range of frames.

use serde::Deserialize;

/// A region no detector finds, masked on a range of frames (`--boxes FILE`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManualBox {
    /// `[x, y, w, h]` in frame pixels.
    #[serde(rename = "box")]
    pub bbox: [f64; 4],
    /// First frame (0-based, default 0).
    #[serde(default)]
    pub from: u64,
    /// Last frame, inclusive (default: to the end).
    #[serde(default)]
    pub to: Option<u64>,
}

/// Parses a `--boxes` file's text: a JSON list of `{"box": [x, y, w, h], "from": 0, "to": 99}`.
pub fn parse(text: &str) -> Result<Vec<ManualBox>, String> {
    let boxes: Vec<ManualBox> = serde_json::from_str(text).map_err(|e| {
        format!(
            "{e}; expected a JSON list like [{{\"box\": [x, y, w, h], \"from\": 0, \"to\": 99}}]"
        )
    })?;
    for b in &boxes {
        if b.bbox.iter().any(|v| !v.is_finite())
            || b.bbox[2] <= 0.0
            || b.bbox[3] <= 0.0
            || b.to.is_some_and(|to| to < b.from)
        {
            return Err(format!(
                "bad box {:?} (width and height must be > 0, to >= from)",
                b
            ));
        }
    }
    Ok(boxes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boxes_parse_and_bad_ones_are_named() {
        let b = parse(r#"[{"box": [1, 2, 3, 4], "from": 5}]"#).unwrap();
        assert_eq!(b[0].bbox, [1.0, 2.0, 3.0, 4.0]);
        assert_eq!((b[0].from, b[0].to), (5, None));
        assert!(
            parse(r#"[{"box": [1, 2]}]"#)
                .unwrap_err()
                .contains("expected a JSON list")
        );
        assert!(
            parse(r#"[{"box": [1, 2, 0, 4]}]"#)
                .unwrap_err()
                .contains("bad box")
        );
        assert!(parse(r#"[{"box": [1, 2, 3, 4], "from": 9, "to": 2}]"#).is_err());
        assert!(parse(r#"[{"box": [1, 2, 3, 4], "colour": 1}]"#).is_err());
    }
}
