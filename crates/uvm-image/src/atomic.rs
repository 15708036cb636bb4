//! Writing a file atomically: into a fresh temporary file beside the destination, renamed
//! over it only when complete, so a reader sees the old file or the new one, never part of
//! one. Used for images ([`crate::pack`]) and verified stamps ([`crate::VerifiedStamps`]).

use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Runs `write` on a fresh temporary file beside `out_path` (`.<name>.<pid>-<n>.tmp`), then
/// renames it to `out_path`. The temporary file is removed if anything fails. `io_err` turns
/// an error of the temporary file's creation or of the rename into `E`, given the path
/// concerned.
pub(crate) fn write_atomically<T, E>(
    out_path: &Path,
    io_err: impl Fn(&Path, io::Error) -> E,
    write: impl FnOnce(File, &Path) -> Result<T, E>,
) -> Result<T, E> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let Some(name) = out_path.file_name() else {
        return Err(io_err(out_path, io::Error::new(io::ErrorKind::InvalidInput, "the path does not name a file")));
    };
    let dir = match out_path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let unique = COUNTER.fetch_add(1, Ordering::Relaxed);
    let tmp = dir.join(format!(".{}.{}-{unique}.tmp", name.to_string_lossy(), std::process::id()));
    let file = OpenOptions::new().read(true).write(true).create_new(true).open(&tmp).map_err(|e| io_err(&tmp, e))?;
    let guard = RemoveOnDrop(Some(tmp));
    let tmp = guard.0.as_deref().unwrap_or(out_path);
    let value = write(file, tmp)?;
    fs::rename(tmp, out_path).map_err(|e| io_err(out_path, e))?;
    guard.disarm();
    Ok(value)
}

/// Removes a temporary file when dropped, unless disarmed.
struct RemoveOnDrop(Option<PathBuf>);

impl RemoveOnDrop {
    fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        if let Some(path) = self.0.take() {
            // Best effort: the error that brought us here matters more.
            let _ = fs::remove_file(path);
        }
    }
}
