//! Option values as users type them (`--color`, `--area`, `--crop`, `--track-ids`, numbers
//! in a range): a value or a message that says what was expected.

pub fn parse_color(s: &str) -> Result<u32, String> {
    let named = match s.to_ascii_lowercase().as_str() {
        "black" => Some(0x000000),
        "white" => Some(0xffffff),
        "grey" | "gray" => Some(0x808080),
        "red" => Some(0xff0000),
        "green" => Some(0x00ff00),
        "blue" => Some(0x0000ff),
        _ => None,
    };
    if let Some(c) = named {
        return Ok(c);
    }
    let hex = s.trim_start_matches('#').trim_start_matches("0x");
    if hex.len() == 6
        && hex.bytes().all(|b| b.is_ascii_hexdigit())
        && let Ok(v) = u32::from_str_radix(hex, 16)
    {
        return Ok(v);
    }
    Err(format!(
        "'{s}' is not a colour: use RRGGBB hex (e.g. 000000, #ff0000) or black, white, grey, red, green, blue"
    ))
}

pub fn parse_area(s: &str) -> Result<[f64; 4], String> {
    let v: Vec<f64> = s
        .split(',')
        .map(|p| p.trim().parse::<f64>())
        .collect::<Result<_, _>>()
        .map_err(|_| format!("'{s}': expected TOP,LEFT,BOTTOM,RIGHT fractions, e.g. 0,0,0.5,1"))?;
    match v.as_slice() {
        [t, l, b, r] if v.iter().all(|x| (0.0..=1.0).contains(x)) && t < b && l < r => {
            Ok([*t, *l, *b, *r])
        }
        _ => Err(format!(
            "'{s}': expected TOP,LEFT,BOTTOM,RIGHT fractions in 0..1 with top < bottom and left < right"
        )),
    }
}

pub fn parse_crop(s: &str) -> Result<[f64; 4], String> {
    let v: Vec<f64> = s
        .split(',')
        .map(|p| p.trim().parse::<f64>())
        .collect::<Result<_, _>>()
        .map_err(|_| format!("'{s}': expected X,Y,W,H in pixels, e.g. 100,50,64,80"))?;
    match v.as_slice() {
        [x, y, w, h] if v.iter().all(|x| x.is_finite()) && *w > 0.0 && *h > 0.0 => {
            Ok([*x, *y, *w, *h])
        }
        _ => Err(format!("'{s}': expected X,Y,W,H with W and H > 0")),
    }
}

pub fn parse_ids(s: &str) -> Result<Vec<i64>, String> {
    s.split(',')
        .filter(|p| !p.trim().is_empty())
        .map(|p| {
            p.trim()
                .parse::<i64>()
                .map_err(|_| format!("'{p}' is not a track id (whole number)"))
        })
        .collect()
}

/// A number in `lo..=hi` (NaN is in no range).
fn number_in(s: &str, lo: f64, hi: f64) -> Result<f64, String> {
    let v: f64 = s.parse().map_err(|_| format!("'{s}' is not a number"))?;
    if (lo..=hi).contains(&v) {
        Ok(v)
    } else {
        Err(format!("{v} is outside {lo}..{hi}"))
    }
}

/// Padding: 0..4 (fractions of the box added on each side).
pub fn non_negative(s: &str) -> Result<f64, String> {
    number_in(s, 0.0, 4.0)
}

/// Thresholds and soft edges: 0..1.
pub fn unit_interval(s: &str) -> Result<f64, String> {
    number_in(s, 0.0, 1.0)
}

/// Input scales: 0.25..4.
pub fn input_scale(s: &str) -> Result<f64, String> {
    number_in(s, 0.25, 4.0)
}

/// The scale of an optional extra pass: 0 (none) or an input scale.
pub fn extra_scale(s: &str) -> Result<f64, String> {
    match number_in(s, 0.0, 4.0)? {
        v if v == 0.0 || v >= 0.25 => Ok(v),
        v => Err(format!(
            "{v} is neither 0 (no extra pass) nor within 0.25..4"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_parse_or_say_what_was_expected() {
        assert_eq!(parse_color("#ff0000"), Ok(0xff0000));
        assert_eq!(parse_color("Grey"), Ok(0x808080));
        assert!(
            parse_color("purple-ish")
                .unwrap_err()
                .contains("not a colour")
        );
        assert!(parse_color("+fffff").is_err());
        assert_eq!(parse_area("0,0,0.5,1"), Ok([0.0, 0.0, 0.5, 1.0]));
        assert!(parse_area("0.5,0,0.2,1").is_err());
        assert!(parse_area("NaN,0,1,1").is_err());
        assert_eq!(parse_crop("1,2,3,4"), Ok([1.0, 2.0, 3.0, 4.0]));
        assert!(parse_crop("1,2,inf,4").is_err());
        assert_eq!(parse_ids("3, 7,"), Ok(vec![3, 7]));
        assert!(parse_ids("a").unwrap_err().contains("not a track id"));
        assert!(unit_interval("NaN").is_err() && input_scale("5").is_err());
        assert_eq!(extra_scale("0"), Ok(0.0));
        assert_eq!(extra_scale("1"), Ok(1.0));
        assert!(extra_scale("0.1").unwrap_err().contains("neither 0"));
        assert_eq!(non_negative("0.5"), Ok(0.5));
    }
}
