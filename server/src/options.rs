//! Job options (API.md) and render choices, checked, and turned into `redact` arguments.
//! The server has no defaults of its own: an option left out is left to `redact`.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::{ApiError, ApiResult};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    Blur,
    Pixelate,
    Fill,
    /// Boxes drawn only: a review render, not a redaction.
    Outline,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Strength {
    Low,
    Medium,
    High,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Shape {
    Rect,
    Ellipse,
}

/// Part of the frame, as fractions 0..1: only regions touching it are masked.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Area {
    #[schema(minimum = 0.0, maximum = 1.0)]
    pub top: f64,
    #[schema(minimum = 0.0, maximum = 1.0)]
    pub left: f64,
    #[schema(minimum = 0.0, maximum = 1.0)]
    pub bottom: f64,
    #[schema(minimum = 0.0, maximum = 1.0)]
    pub right: f64,
}

/// How the regions are masked (job options and render choices).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct MaskChoices {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<Method>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub strength: Option<Strength>,
    /// Fill and outline colour, `#rrggbb`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(pattern = "^#[0-9a-fA-F]{6}$")]
    pub color: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shape: Option<Shape>,
    /// Grow each region by this fraction of its size (0..4).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 0.0, maximum = 4.0)]
    pub padding: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub included_area: Option<Area>,
}

/// A job's options (all optional; `redact run`'s defaults otherwise).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct JobOptions {
    /// Detect and mask faces (default true).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub faces: Option<bool>,
    /// Detect and mask licence plates (default true).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plates: Option<bool>,
    /// Minimum detector confidence 0..1 for faces and plates (default: redact's, chosen
    /// for recall).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 0.0, maximum = 1.0)]
    pub threshold: Option<f64>,
    /// Stop at `detected` for review instead of rendering (images and videos, not ZIP).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub review: Option<bool>,
    /// Copy the audio (default true).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keep_audio: Option<bool>,
    /// Receives `POST {id, status, progress, event_id}` on every state change, signed
    /// (`X-Redact-Signature`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(pattern = "^https?://")]
    pub callback_url: Option<String>,
    /// A saved policy whose options these extend (options given here win).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(pattern = "^pol_[0-9a-f]{24}$")]
    pub policy_id: Option<String>,
    #[serde(flatten)]
    pub mask: MaskChoices,
}

/// Which tracks a render masks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TrackChoice {
    /// Track ids from the detections.
    pub ids: Vec<i64>,
    /// `exclude`: mask every track but these (keep them visible); `include`: only these.
    pub scope: Scope,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    Include,
    Exclude,
}

/// A region masked by hand on a range of frames.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ManualBox {
    /// `[x, y, width, height]` in pixels (width and height > 0).
    #[serde(rename = "box")]
    #[schema(min_items = 4, max_items = 4)]
    pub bbox: [f64; 4],
    /// First frame (default 0).
    #[serde(default)]
    pub from: u64,
    /// Last frame, inclusive (default: the end).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<u64>,
}

/// `POST /v1/jobs/{id}/render`: what to mask this time, from the stored detections.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RenderRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tracks: Option<TrackChoice>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub boxes: Vec<ManualBox>,
    #[serde(flatten)]
    pub mask: MaskChoices,
}

const MASK_KEYS: &[&str] = &[
    "method",
    "strength",
    "color",
    "shape",
    "padding",
    "included_area",
];

/// Parses a JSON object into `T`, refusing keys it does not know (serde cannot do that for
/// structs with flattened fields) and giving the reason as a 400.
fn parse_strict<T: serde::de::DeserializeOwned>(
    what: &str,
    value: serde_json::Value,
    keys: &[&str],
) -> ApiResult<T> {
    let serde_json::Value::Object(map) = &value else {
        return Err(ApiError::bad_request(format!(
            "{what}: expected a JSON object"
        )));
    };
    if let Some(k) = map
        .keys()
        .find(|k| !keys.contains(&k.as_str()) && !MASK_KEYS.contains(&k.as_str()))
    {
        return Err(ApiError::bad_request(format!(
            "{what}: unknown option '{k}'"
        )));
    }
    serde_json::from_value(value.clone()).map_err(|e| {
        // Name the option at fault: serde cannot for flattened fields.
        let culprit = map.iter().find(|(k, v)| {
            let one =
                serde_json::Value::Object([((*k).clone(), (*v).clone())].into_iter().collect());
            serde_json::from_value::<T>(one).is_err()
        });
        match culprit {
            Some((k, _)) => ApiError::bad_request(format!("{what}.{k}: {e}")),
            None => ApiError::bad_request(format!("{what}: {e}")),
        }
    })
}

/// Job options from a request's JSON, checked.
pub fn parse_job_options(value: serde_json::Value) -> ApiResult<JobOptions> {
    let o: JobOptions = parse_strict(
        "options",
        value,
        &[
            "faces",
            "plates",
            "threshold",
            "review",
            "keep_audio",
            "callback_url",
            "policy_id",
        ],
    )?;
    o.check()?;
    Ok(o)
}

/// A render request's JSON, checked.
pub fn parse_render(value: serde_json::Value) -> ApiResult<RenderRequest> {
    let r: RenderRequest = parse_strict("render", value, &["tracks", "boxes"])?;
    r.check()?;
    Ok(r)
}

fn in_range(name: &str, v: f64, lo: f64, hi: f64) -> ApiResult<()> {
    if v.is_finite() && (lo..=hi).contains(&v) {
        Ok(())
    } else {
        Err(ApiError::bad_request(format!(
            "{name}: {v} is outside {lo}..{hi}"
        )))
    }
}

impl MaskChoices {
    pub fn check(&self) -> ApiResult<()> {
        if let Some(c) = &self.color {
            let hex = c.strip_prefix('#').unwrap_or("");
            if hex.len() != 6 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
                return Err(ApiError::bad_request(format!(
                    "color: '{c}' is not #rrggbb"
                )));
            }
        }
        if let Some(p) = self.padding {
            in_range("padding", p, 0.0, 4.0)?;
        }
        if let Some(a) = self.included_area {
            for (n, v) in [
                ("top", a.top),
                ("left", a.left),
                ("bottom", a.bottom),
                ("right", a.right),
            ] {
                in_range(&format!("included_area.{n}"), v, 0.0, 1.0)?;
            }
            if a.top >= a.bottom || a.left >= a.right {
                return Err(ApiError::bad_request(
                    "included_area: top must be < bottom and left < right",
                ));
            }
        }
        Ok(())
    }

    /// Choices given here win over `base`.
    pub fn over(&self, base: &MaskChoices) -> MaskChoices {
        MaskChoices {
            method: self.method.or(base.method),
            strength: self.strength.or(base.strength),
            color: self.color.clone().or_else(|| base.color.clone()),
            shape: self.shape.or(base.shape),
            padding: self.padding.or(base.padding),
            included_area: self.included_area.or(base.included_area),
        }
    }

    fn args(&self, args: &mut Vec<String>) {
        let mut push = |k: &str, v: String| {
            args.push(k.into());
            args.push(v);
        };
        if let Some(m) = self.method {
            push("--method", enum_name(&m));
        }
        if let Some(s) = self.strength {
            push("--strength", enum_name(&s));
        }
        if let Some(c) = &self.color {
            push("--color", c.trim_start_matches('#').into());
        }
        if let Some(s) = self.shape {
            push(
                "--shape",
                match s {
                    Shape::Rect => "rectangle".into(),
                    Shape::Ellipse => "ellipse".into(),
                },
            );
        }
        if let Some(p) = self.padding {
            push("--padding", p.to_string());
        }
        if let Some(a) = self.included_area {
            push(
                "--area",
                format!("{},{},{},{}", a.top, a.left, a.bottom, a.right),
            );
        }
    }
}

fn enum_name<T: Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

impl JobOptions {
    pub fn check(&self) -> ApiResult<()> {
        if let Some(t) = self.threshold {
            in_range("threshold", t, 0.0, 1.0)?;
        }
        if self.faces == Some(false) && self.plates == Some(false) {
            return Err(ApiError::bad_request(
                "faces and plates are both false: nothing would be redacted",
            ));
        }
        self.mask.check()
    }

    /// These options over a policy's (`policy_id` is the caller's to resolve).
    pub fn over(&self, base: &JobOptions) -> JobOptions {
        JobOptions {
            faces: self.faces.or(base.faces),
            plates: self.plates.or(base.plates),
            threshold: self.threshold.or(base.threshold),
            review: self.review.or(base.review),
            keep_audio: self.keep_audio.or(base.keep_audio),
            callback_url: self
                .callback_url
                .clone()
                .or_else(|| base.callback_url.clone()),
            policy_id: self.policy_id.clone(),
            mask: self.mask.over(&base.mask),
        }
    }

    /// Detector arguments shared by `redact detect` and `redact run`.
    pub fn detector_args(&self) -> Vec<String> {
        let mut args = Vec::new();
        if self.faces == Some(false) {
            args.push("--no-faces".into());
        }
        if self.plates == Some(false) {
            args.push("--no-plates".into());
        }
        if let Some(t) = self.threshold {
            for k in ["--face-threshold", "--plate-threshold"] {
                args.push(k.into());
                args.push(t.to_string());
            }
        }
        args
    }

    /// Mask and output arguments of `redact run`, with a render's choices over the job's.
    pub fn render_args(&self, render: Option<&RenderRequest>) -> Vec<String> {
        let mut args = self.detector_args();
        let mask = match render {
            Some(r) => r.mask.over(&self.mask),
            None => self.mask.clone(),
        };
        mask.args(&mut args);
        if self.keep_audio == Some(false) {
            args.push("--no-audio".into());
        }
        if let Some(t) = render.and_then(|r| r.tracks.as_ref()) {
            let ids: Vec<String> = t.ids.iter().map(i64::to_string).collect();
            args.extend([
                "--track-ids".into(),
                ids.join(","),
                "--scope".into(),
                enum_name(&t.scope),
            ]);
        }
        args
    }
}

impl RenderRequest {
    pub fn check(&self) -> ApiResult<()> {
        for b in &self.boxes {
            if !b.bbox.iter().all(|v| v.is_finite())
                || b.bbox[2] <= 0.0
                || b.bbox[3] <= 0.0
                || b.to.is_some_and(|to| to < b.from)
            {
                return Err(ApiError::bad_request(format!(
                    "boxes: bad box {:?} (width and height > 0, to >= from)",
                    b.bbox
                )));
            }
        }
        self.mask.check()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_parse_check_and_become_arguments() {
        let o = parse_job_options(
            serde_json::from_str(
                r##"{"faces": true, "plates": false, "method": "pixelate", "strength": "low",
                 "color": "#00ff00", "shape": "ellipse", "padding": 0.25, "threshold": 0.4,
                 "included_area": {"top": 0, "left": 0, "bottom": 0.5, "right": 1},
                 "keep_audio": false}"##,
            )
            .unwrap(),
        )
        .unwrap();
        let args = o.render_args(None).join(" ");
        assert_eq!(
            args,
            "--no-plates --face-threshold 0.4 --plate-threshold 0.4 --method pixelate \
             --strength low --color 00ff00 --shape ellipse --padding 0.25 --area 0,0,0.5,1 --no-audio"
        );
        // A render's choices win over the job's; tracks become --track-ids/--scope.
        let r = parse_render(serde_json::json!(
            {"tracks": {"ids": [3, 7], "scope": "exclude"}, "method": "fill"}
        ))
        .unwrap();
        let args = o.render_args(Some(&r)).join(" ");
        assert!(args.contains("--method fill"), "{args}");
        assert!(args.ends_with("--track-ids 3,7 --scope exclude"), "{args}");

        for bad in [
            r#"{"method": "smudge"}"#,
            r#"{"threshold": 1.5}"#,
            r#"{"color": "red"}"#,
            r#"{"padding": -1}"#,
            r#"{"included_area": {"top": 0.6, "left": 0, "bottom": 0.5, "right": 1}}"#,
            r#"{"faces": false, "plates": false}"#,
            r#"{"unknown": 1}"#,
            r#"[1, 2]"#,
        ] {
            assert!(
                parse_job_options(serde_json::from_str(bad).unwrap()).is_err(),
                "accepted {bad}"
            );
        }
        assert!(parse_render(serde_json::json!({"boxes": [{"box": [0, 0, 0, 5]}]})).is_err());
        assert!(parse_render(serde_json::json!({"tracks": {"ids": [1]}})).is_err());
    }

    #[test]
    fn job_options_over_a_policy() {
        let policy: JobOptions =
            serde_json::from_str(r#"{"method": "fill", "plates": false, "padding": 1}"#).unwrap();
        let job: JobOptions = serde_json::from_str(r#"{"padding": 0.2}"#).unwrap();
        let merged = job.over(&policy);
        assert_eq!(merged.mask.method, Some(Method::Fill));
        assert_eq!(merged.plates, Some(false));
        assert_eq!(merged.mask.padding, Some(0.2));
    }
}
