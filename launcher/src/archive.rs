//! `redact run` on a ZIP of images and videos: each entry read safely (names, links,
//! duplicates, encryption and decompression bombs checked before anything is inflated),
//! redacted, and written under the same name into a ZIP of the output, which appears only
//! when every entry is done.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::media;
use crate::run::{FileReport, Reporter};

/// A ZIP entry may inflate to at most this many times its stored size (media files are
/// compressed already: real ratios are near 1) …
const ZIP_MAX_RATIO: u64 = 100;
/// … or to this many bytes, whichever is more (small, very compressible files: PNG).
const ZIP_SMALL_ENTRY: u64 = 16 << 20;

/// A name as it may be shown on one line: control characters (newlines) escaped.
fn printable(name: &str) -> String {
    name.chars()
        .flat_map(|c| {
            if c.is_control() {
                c.escape_default().collect::<Vec<_>>()
            } else {
                vec![c]
            }
        })
        .collect()
}

/// Redacts each supported image and video of the ZIP `input` with `redact` (entry path
/// in, redacted path out: both in a temporary folder, one entry on disk at a time) into
/// the ZIP `output`, under the same names, stored uncompressed. Unsafe names, links,
/// duplicates and other files are left out with a warning; an encrypted entry, a
/// decompression bomb or an entry that fails to redact fails the whole archive, and no
/// output is left.
pub fn redact_zip(
    input: &Path,
    output: &Path,
    reporter: &Arc<dyn Reporter>,
    mut redact: impl FnMut(&Path, &Path) -> Result<FileReport, String>,
) -> Result<Vec<FileReport>, String> {
    let open_err =
        |e: &dyn std::fmt::Display| format!("{}: not a readable ZIP file: {e}", input.display());
    let file = std::fs::File::open(input).map_err(|e| open_err(&e))?;
    let mut archive = zip::ZipArchive::new(file).map_err(|e| open_err(&e))?;
    let work =
        media::TempDir::new("zip").map_err(|e| format!("cannot create a temporary folder: {e}"))?;
    media::remove_stale_temporaries(output);
    let tmp_zip = media::temporary_name(output);
    if let Some(parent) = output.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
    }
    let out = std::fs::File::create(&tmp_zip)
        .map_err(|e| format!("cannot write {}: {e}", tmp_zip.display()))?;
    let mut writer = zip::ZipWriter::new(out);
    let result = (|| {
        let write_err =
            |e: &dyn std::fmt::Display| format!("cannot write {}: {e}", tmp_zip.display());
        let extract_err =
            |e: &dyn std::fmt::Display| format!("cannot extract {}: {e}", input.display());
        let mut reports = Vec::new();
        let mut skipped = Vec::new();
        let mut failed = Vec::new();
        if archive.has_duplicate_names() {
            reporter.warn(&format!(
                "{}: the ZIP lists some names more than once: one entry of each name is read, the others are left out",
                input.display()
            ));
        }
        let mut seen = std::collections::HashSet::new();
        for i in 0..archive.len() {
            // Metadata first, without decompressing or decrypting anything.
            let (name, encrypted, symlink, is_dir, declared, compressed, rel) = {
                let e = archive.by_index_raw(i).map_err(|e| open_err(&e))?;
                let name = e
                    .name()
                    .map(|n| n.into_owned())
                    .unwrap_or_else(|_| String::from_utf8_lossy(e.name_raw()).into_owned());
                (
                    name,
                    e.encrypted(),
                    e.is_symlink(),
                    e.is_dir(),
                    e.size(),
                    e.compressed_size(),
                    e.enclosed_name(),
                )
            };
            if is_dir {
                continue;
            }
            let shown = printable(&name);
            // Only plain relative names: no "..", no root, no Windows separators or drives
            // (the output ZIP must be as safe to unpack as the input should have been).
            let plain = !name.contains('\\')
                && !name.contains(':')
                && Path::new(&name)
                    .components()
                    .all(|c| matches!(c, std::path::Component::Normal(_)));
            let Some(rel) = rel.filter(|_| plain) else {
                reporter.warn(&format!("left out '{shown}': unsafe path in the archive"));
                continue;
            };
            if shown != name {
                reporter.warn(&format!(
                    "'{shown}': control characters in its name: written under this name"
                ));
            }
            if symlink {
                reporter.warn(&format!("left out '{shown}': a symbolic link, not a file"));
                continue;
            }
            if !media::is_supported(&rel) {
                skipped.push(PathBuf::from(&shown));
                continue;
            }
            if !seen.insert(name.clone()) {
                reporter.warn(&format!("left out a second entry named '{shown}'"));
                continue;
            }
            if encrypted {
                reporter.warn(&format!(
                    "{}: '{shown}' is encrypted: it cannot be read or checked",
                    input.display()
                ));
                failed.push(shown);
                continue;
            }
            // Images and videos are compressed already: an entry that inflates far beyond
            // its stored size is a decompression bomb (the limit also binds what is read,
            // whatever the header claims).
            let limit = compressed
                .saturating_mul(ZIP_MAX_RATIO)
                .max(ZIP_SMALL_ENTRY);
            if declared > limit {
                reporter.warn(&format!(
                    "{}: '{shown}' would inflate {compressed} bytes to {declared}: refused as a decompression bomb",
                    input.display()
                ));
                failed.push(shown);
                continue;
            }
            let src = work.path().join("in").join(&rel);
            let dst = work.path().join("out").join(&rel);
            std::fs::create_dir_all(src.parent().unwrap()).map_err(|e| extract_err(&e))?;
            let mut f = std::fs::File::create(&src).map_err(|e| extract_err(&e))?;
            let mut entry = archive.by_index(i).map_err(|e| open_err(&e))?;
            let copied = std::io::copy(&mut std::io::Read::take(&mut entry, limit + 1), &mut f)
                .map_err(|e| format!("{}: cannot extract '{shown}': {e}", input.display()))?;
            drop(f);
            drop(entry);
            if copied > limit {
                let _ = std::fs::remove_file(&src);
                reporter.warn(&format!(
                    "{}: '{shown}' inflates beyond {limit} bytes from {compressed}: refused as a decompression bomb",
                    input.display()
                ));
                failed.push(shown);
                continue;
            }
            match redact(&src, &dst) {
                Ok(mut r) => {
                    // Images and videos are compressed already: store them as they are.
                    let stored = zip::write::SimpleFileOptions::default()
                        .compression_method(zip::CompressionMethod::Stored);
                    writer
                        .start_file(shown.as_str(), stored)
                        .map_err(|e| write_err(&e))?;
                    let mut redacted = std::fs::File::open(&dst).map_err(|e| write_err(&e))?;
                    std::io::copy(&mut redacted, &mut writer).map_err(|e| write_err(&e))?;
                    r.input = input.join(&shown);
                    r.output = output.join(&shown);
                    reports.push(r);
                }
                Err(e) => {
                    reporter.warn(&e);
                    failed.push(shown);
                }
            }
            // One entry on disk at a time.
            let _ = std::fs::remove_file(&src);
            let _ = std::fs::remove_file(&dst);
        }
        if !skipped.is_empty() {
            reporter.warn(&format!(
                "left out {} file(s) of the ZIP that are not supported images or videos: {}",
                skipped.len(),
                media::short_list(&skipped, Path::new(""))
            ));
        }
        if !failed.is_empty() {
            return Err(format!(
                "{}: {} file(s) inside failed: {}",
                input.display(),
                failed.len(),
                failed.join(", ")
            ));
        }
        if reports.is_empty() {
            return Err(format!(
                "{}: no supported images or videos inside",
                input.display()
            ));
        }
        Ok(reports)
    })();
    let result = match result {
        Ok(reports) => writer
            .finish()
            .map_err(|e| format!("cannot write {}: {e}", tmp_zip.display()))
            .and_then(|_| {
                std::fs::rename(&tmp_zip, output)
                    .map_err(|e| format!("cannot write {}: {e}", output.display()))
            })
            .map(|()| reports),
        Err(e) => {
            // Dropped, the writer would finish the archive being thrown away (and print
            // to stderr when the disk is full): the temporary file is removed instead.
            std::mem::forget(writer);
            Err(e)
        }
    };
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp_zip);
    }
    result
}
