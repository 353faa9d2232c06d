//! Model manifests: flat `key = value` TOML files, one per model, shared with the bash
//! install script (which reads `file`, `sha256` and `upstream` with sed).

use std::fmt;

#[derive(Debug, Clone, PartialEq)]
pub struct Manifest {
    pub name: String,
    /// Decoder family: `yunet`, `hyperlpr3` or `centerface`.
    pub family: String,
    /// `face` or `license-plate`.
    pub class: String,
    pub file: String,
    /// Fixed input size of the graph; 0 when the graph takes any size.
    pub input_width: u32,
    pub input_height: u32,
    pub licence: String,
    pub upstream: String,
    pub sha256: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ManifestError(pub String);

impl fmt::Display for ManifestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid model manifest: {}", self.0)
    }
}

impl std::error::Error for ManifestError {}

impl Manifest {
    pub fn parse(text: &str) -> Result<Manifest, ManifestError> {
        let mut fields = std::collections::HashMap::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (key, value) = line
                .split_once('=')
                .ok_or_else(|| ManifestError(format!("line {}: expected key = value", n + 1)))?;
            let value = value.trim();
            let value = value
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(value);
            fields.insert(key.trim().to_string(), value.to_string());
        }
        let text = |key: &str| {
            fields
                .get(key)
                .cloned()
                .ok_or_else(|| ManifestError(format!("missing '{key}'")))
        };
        let number = |key: &str| -> Result<u32, ManifestError> {
            text(key)?
                .parse()
                .map_err(|_| ManifestError(format!("'{key}' is not a whole number")))
        };
        Ok(Manifest {
            name: text("name")?,
            family: text("family")?,
            class: text("class")?,
            file: text("file")?,
            input_width: number("input_width")?,
            input_height: number("input_height")?,
            licence: text("licence")?,
            upstream: text("upstream")?,
            sha256: text("sha256")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_flat_toml() {
        let m = Manifest::parse(
            "# comment\nname = \"x\"\nfamily = \"yunet\"\nclass = \"face\"\nfile = \"x.onnx\"\n\
             input_width = 0\ninput_height = 32\nlicence = \"MIT\"\nupstream = \"u\"\nsha256 = \"ab\"\n",
        )
        .unwrap();
        assert_eq!(m.name, "x");
        assert_eq!(m.input_height, 32);
        assert_eq!(m.sha256, "ab");
    }

    #[test]
    fn reports_missing_and_bad_fields() {
        assert_eq!(
            Manifest::parse("name = \"x\"").unwrap_err(),
            ManifestError("missing 'family'".into())
        );
        let bad = "name=\"x\"\nfamily=\"f\"\nclass=\"c\"\nfile=\"f\"\ninput_width=big\n";
        assert!(Manifest::parse(bad).unwrap_err().0.contains("input_width"));
        assert!(
            Manifest::parse("just words")
                .unwrap_err()
                .0
                .contains("line 1")
        );
    }
}
