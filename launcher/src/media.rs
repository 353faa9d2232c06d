//! Which files the launcher takes, by extension.

use std::path::{Path, PathBuf};

pub const IMAGE_EXTENSIONS: &[&str] = &["jpg", "jpeg", "png", "webp"];
pub const VIDEO_EXTENSIONS: &[&str] = &["mp4", "mov", "mkv", "webm", "avi", "ts", "mts", "m2ts"];

pub fn extension(path: &Path) -> String {
    path.extension()
        .map(|e| e.to_string_lossy().to_lowercase())
        .unwrap_or_default()
}

pub fn is_image(path: &Path) -> bool {
    IMAGE_EXTENSIONS.contains(&extension(path).as_str())
}

/// The largest image decoded: 250 megapixels (a 12000x9000 photo is 108). A decoded
/// picture takes 3 bytes a pixel and more in conversion: larger ones are refused before
/// decoding, as a small file that declares a huge picture is a decompression bomb.
pub const MAX_IMAGE_PIXELS: u64 = 250_000_000;

/// Refuses an image whose header declares more than [`MAX_IMAGE_PIXELS`]. A header that
/// cannot be read passes: the decoder then says what is wrong.
pub fn check_image_size(path: &Path) -> Result<(), String> {
    let Ok(size) = imagesize::size(path) else {
        return Ok(());
    };
    let pixels = size.width as u64 * size.height as u64;
    if pixels > MAX_IMAGE_PIXELS {
        return Err(format!(
            "{}: the image declares {}x{} pixels, more than the {} megapixels this tool decodes (a decompression bomb, or a picture to split first)",
            path.display(),
            size.width,
            size.height,
            MAX_IMAGE_PIXELS / 1_000_000
        ));
    }
    Ok(())
}

pub fn is_supported(path: &Path) -> bool {
    is_image(path) || VIDEO_EXTENSIONS.contains(&extension(path).as_str())
}

/// What is under a folder: supported files, other files, and symbolic links (not
/// followed: a link may loop or lead out of the folder).
#[derive(Debug, Default)]
pub struct Walk {
    pub supported: Vec<PathBuf>,
    pub other: Vec<PathBuf>,
    pub links: Vec<PathBuf>,
}

/// Every file under `dir`, recursively, sorted.
pub fn walk(dir: &Path) -> std::io::Result<Walk> {
    let mut w = Walk::default();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d)? {
            let entry = entry?;
            let kind = entry.file_type()?;
            let path = entry.path();
            if kind.is_symlink() {
                w.links.push(path);
            } else if kind.is_dir() {
                stack.push(path);
            } else if is_supported(&path) {
                w.supported.push(path);
            } else {
                w.other.push(path);
            }
        }
    }
    w.supported.sort();
    w.other.sort();
    w.links.sort();
    Ok(w)
}

/// Runs `each(file, path relative to dir)` on every supported file under `dir`, in order.
/// Unsupported files are named to `warn` and left out; a failing file is named to `warn`
/// and the others still run. Fails if there is nothing to do or any file failed.
pub fn for_each_file<T>(
    dir: &Path,
    warn: impl Fn(&str),
    mut each: impl FnMut(&Path, &Path) -> Result<T, String>,
) -> Result<Vec<T>, String> {
    let Walk {
        supported: files,
        other: others,
        links,
    } = walk(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    if !links.is_empty() {
        warn(&format!(
            "left out {} symbolic link(s), which are not followed: {}",
            links.len(),
            short_list(&links, dir)
        ));
    }
    if !others.is_empty() {
        warn(&format!(
            "left out {} file(s) that are not supported images or videos: {}",
            others.len(),
            short_list(&others, dir)
        ));
    }
    if files.is_empty() {
        return Err(format!(
            "{}: no supported images or videos in this folder",
            dir.display()
        ));
    }
    let mut done = Vec::new();
    let mut failed = Vec::new();
    for file in &files {
        let rel = file.strip_prefix(dir).unwrap_or(file);
        match each(file, rel) {
            Ok(t) => done.push(t),
            Err(e) => {
                warn(&e);
                failed.push(rel.display().to_string());
            }
        }
    }
    if !failed.is_empty() {
        return Err(format!(
            "{} of {} file(s) failed: {}",
            failed.len(),
            files.len(),
            failed.join(", ")
        ));
    }
    Ok(done)
}

/// Writes `bytes` to `path` through a temporary name in the same folder, so that a failure
/// never leaves a half-written file under the final name.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.part-{}", std::process::id()));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

/// The temporary name an output is written under before it is renamed into place: hidden,
/// in the same folder (so the rename is atomic), with the same extension.
pub fn temporary_name(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let ext = path
        .extension()
        .map(|e| format!(".{}", e.to_string_lossy()))
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.part-{}{ext}", std::process::id()))
}

/// A file read at offsets, for the parsers of `redact_formats`.
pub(crate) struct FileAt(std::fs::File);

impl FileAt {
    pub(crate) fn open(path: &Path) -> Option<(FileAt, u64)> {
        let file = std::fs::File::open(path).ok()?;
        let len = file.metadata().ok()?.len();
        Some((FileAt(file), len))
    }
}

impl From<std::fs::File> for FileAt {
    fn from(file: std::fs::File) -> Self {
        FileAt(file)
    }
}

impl redact_formats::truncation::ReadAt for FileAt {
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> usize {
        // read_at may return less than asked before the end: read until full or 0.
        let mut done = 0;
        while done < buf.len() {
            match std::os::unix::fs::FileExt::read_at(
                &self.0,
                &mut buf[done..],
                offset + done as u64,
            ) {
                Ok(0) | Err(_) => break,
                Ok(n) => done += n,
            }
        }
        done
    }
}

/// `Some((declared, len))` when the file holds fewer bytes than its container declares
/// (cut off); see `redact_formats::truncation`.
pub fn truncated(path: &Path) -> Option<(u64, u64)> {
    let (mut file, len) = FileAt::open(path)?;
    redact_formats::truncation::declared_past_end(&mut file, len)
}

/// Removes temporary outputs for `path` left by runs that were killed (their process is
/// gone): a SIGKILL or a power cut leaves no file under the final name, only these.
pub fn remove_stale_temporaries(path: &Path) {
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
        return;
    };
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let prefix = format!(".{}.part-", name.to_string_lossy());
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let file = entry.file_name().to_string_lossy().into_owned();
        let Some(rest) = file.strip_prefix(&prefix) else {
            continue;
        };
        let pid: String = rest.chars().take_while(char::is_ascii_digit).collect();
        if !pid.is_empty()
            && pid != std::process::id().to_string()
            && !Path::new("/proc").join(&pid).exists()
        {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Up to five names relative to `base`, then "and N more".
pub fn short_list(paths: &[PathBuf], base: &Path) -> String {
    let mut names: Vec<String> = paths
        .iter()
        .take(5)
        .map(|p| p.strip_prefix(base).unwrap_or(p).display().to_string())
        .collect();
    if paths.len() > 5 {
        names.push(format!("and {} more", paths.len() - 5));
    }
    names.join(", ")
}

/// A temporary folder removed when dropped.
#[derive(Debug)]
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(what: &str) -> std::io::Result<TempDir> {
        static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("redact-{what}-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        Ok(TempDir(dir))
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extensions_are_case_insensitive() {
        assert!(is_image(Path::new("a/B.JPG")));
        assert!(is_supported(Path::new("clip.MkV")));
        assert!(!is_supported(Path::new("notes.txt")));
        assert!(!is_supported(Path::new("noext")));
    }

    #[test]
    fn atomic_write_leaves_no_temporary() {
        let dir = std::env::temp_dir().join(format!("redact-media-test-{}", std::process::id()));
        let path = dir.join("sub/out.json");
        write_atomically(&path, b"{}").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"{}");
        let names: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("out.json")]);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
