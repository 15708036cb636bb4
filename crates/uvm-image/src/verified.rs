//! Verified stamps: a per-user record of the image files whose checksum passed, so that
//! `uvm run` hashes an image once per change instead of on every start (the hash reads every
//! byte: ~0.1 ms for a hello image, ~10 ms for one carrying 48 MiB of files).
//!
//! A stamp names a file by device and inode and holds the size, mtime and ctime it had when it
//! was hashed, and its header checksum. Every write to a file, and every rename over it,
//! changes its ctime (which no user can set back), so a stamp never vouches for bytes that
//! were not hashed. The one gap is the file system's timestamp granularity: a change in the
//! same tick as the ctime the stamp holds would keep that ctime. A stamp is therefore only
//! written for a file whose ctime was over [`SETTLED`] old when it was opened: a later change
//! then always moves its ctime.
//!
//! Stamps live in `$XDG_CACHE_HOME/uvm/verified` (or `~/.cache/uvm/verified`), one small file
//! per image. Everything here is best-effort: without a usable directory, every start hashes.

use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::atomic::write_atomically;

/// How old a file's ctime must be for a stamp of it to be written.
pub const SETTLED: Duration = Duration::from_secs(1);

/// How many stamps a directory keeps: past this, recording one drops the oldest half (stamps
/// of deleted or rebuilt images are never read again; this keeps them from piling up).
pub const MAX_STAMPS: usize = 256;

/// The first line of every stamp (its format version).
const STAMP_MAGIC: &str = "uvm-verified 1";

/// The first line of every large-folios note ([`VerifiedStamps::note_large_folios`]).
const LARGE_FOLIOS_MAGIC: &str = "uvm-large-folios 1";

/// What identifies one version of one file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileIdentity {
    dev: u64,
    ino: u64,
    size: u64,
    mtime_ns: i128,
    ctime_ns: i128,
}

impl FileIdentity {
    /// The identity of the file `metadata` describes (take it from the open file, not the
    /// path, so that it is the file that is read).
    pub fn of(metadata: &std::fs::Metadata) -> FileIdentity {
        let ns = |secs: i64, nsecs: i64| i128::from(secs) * 1_000_000_000 + i128::from(nsecs);
        FileIdentity {
            dev: metadata.dev(),
            ino: metadata.ino(),
            size: metadata.size(),
            mtime_ns: ns(metadata.mtime(), metadata.mtime_nsec()),
            ctime_ns: ns(metadata.ctime(), metadata.ctime_nsec()),
        }
    }

    /// Whether the file had been left alone for [`SETTLED`] at `opened_at` (a time taken
    /// before the identity was).
    fn settled_at(&self, opened_at: SystemTime) -> bool {
        let Ok(since_epoch) = opened_at.duration_since(SystemTime::UNIX_EPOCH) else { return false };
        i128::try_from(since_epoch.as_nanos()).is_ok_and(|now| now - self.ctime_ns >= SETTLED.as_nanos() as i128)
    }

    fn large_folios_note(&self) -> String {
        format!("{LARGE_FOLIOS_MAGIC}\n{} {} {}\n", self.size, self.mtime_ns, self.ctime_ns)
    }

    fn stamp(&self, checksum: u64) -> String {
        format!("{STAMP_MAGIC}\n{} {} {} {checksum:016x}\n", self.size, self.mtime_ns, self.ctime_ns)
    }
}

/// uvm's directory in the user's cache, which `uvm run` keeps what it learnt in (verified
/// stamps; KVM's supported CPUID): `$XDG_CACHE_HOME/uvm`, else `$HOME/.cache/uvm` (`None` when
/// neither variable names an absolute directory).
pub fn user_cache_dir() -> Option<PathBuf> {
    let absolute = |name| std::env::var_os(name).map(PathBuf::from).filter(|p| p.is_absolute());
    let cache = absolute("XDG_CACHE_HOME").or_else(|| absolute("HOME").map(|home| home.join(".cache")))?;
    Some(cache.join("uvm"))
}

/// A directory of stamps.
#[derive(Clone, Debug)]
pub struct VerifiedStamps {
    dir: PathBuf,
}

impl VerifiedStamps {
    /// The user's stamps: `verified` in [`user_cache_dir`].
    pub fn for_user() -> Option<VerifiedStamps> {
        Some(VerifiedStamps::in_dir(user_cache_dir()?.join("verified")))
    }

    /// Stamps kept in `dir`.
    pub fn in_dir(dir: PathBuf) -> VerifiedStamps {
        VerifiedStamps { dir }
    }

    fn path_of(&self, id: &FileIdentity) -> PathBuf {
        self.dir.join(format!("{:x}-{:x}", id.dev, id.ino))
    }

    /// Whether a stamp says that the file `id` names, with header checksum `checksum`, passed
    /// the checksum as it is now.
    pub fn vouch_for(&self, id: &FileIdentity, checksum: u64) -> bool {
        std::fs::read_to_string(self.path_of(id)).is_ok_and(|stamp| stamp == id.stamp(checksum))
    }

    /// Records that the file `id` names (opened at `opened_at`, a time taken before `id`) passed
    /// the checksum `checksum`, unless it changed too recently to be told apart from a later
    /// change (see the module documentation). Failures are ignored: the next start hashes.
    pub fn record(&self, id: &FileIdentity, checksum: u64, opened_at: SystemTime) {
        if id.settled_at(opened_at) && self.write(&self.path_of(id), id.stamp(checksum).as_bytes()).is_ok() {
            self.prune();
        }
    }

    fn large_folios_path_of(&self, id: &FileIdentity) -> PathBuf {
        self.dir.join(format!("{:x}-{:x}.large", id.dev, id.ino))
    }

    /// Notes that the host's page cache held the file `id` names, as it is now, in 2 MiB folios
    /// where `uvm run` wanted them (the app's read-only chunks, which the guest then maps with
    /// large pages). A later start that finds them in small folios (the cache was reclaimed and
    /// refilled piecemeal, or another program read the file) may read them in again: this host
    /// and file system can give them. Failures are ignored.
    pub fn note_large_folios(&self, id: &FileIdentity) {
        let _ = self.write(&self.large_folios_path_of(id), id.large_folios_note().as_bytes());
    }

    /// Whether [`VerifiedStamps::note_large_folios`] was noted for the file as it is now.
    pub fn large_folios_noted(&self, id: &FileIdentity) -> bool {
        std::fs::read_to_string(self.large_folios_path_of(id)).is_ok_and(|note| note == id.large_folios_note())
    }

    /// Drops the note (reading the file in again did not give 2 MiB folios).
    pub fn forget_large_folios(&self, id: &FileIdentity) {
        let _ = std::fs::remove_file(self.large_folios_path_of(id));
    }

    /// Writes one stamp atomically (a reader sees the old stamp or the new one, never half of
    /// one), creating the directory first.
    fn write(&self, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
        std::fs::create_dir_all(&self.dir)?;
        write_atomically(path, |_, e| e, |mut file, _| file.write_all(bytes))
    }

    /// Past [`MAX_STAMPS`], removes the older half (by when they were written).
    fn prune(&self) {
        let Ok(entries) = std::fs::read_dir(&self.dir) else { return };
        let mut stamps: Vec<(SystemTime, PathBuf)> =
            entries.flatten().filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path()))).collect();
        if stamps.len() <= MAX_STAMPS {
            return;
        }
        stamps.sort();
        for (_, path) in &stamps[..stamps.len() - MAX_STAMPS / 2] {
            let _ = std::fs::remove_file(path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("uvm-verified-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("scratch dir");
        dir
    }

    fn identity(path: &Path) -> FileIdentity {
        FileIdentity::of(&std::fs::metadata(path).expect("stat"))
    }

    /// A scratch directory with a stamp directory and an image file (`image bytes`) in it.
    fn scratch_image(name: &str) -> (PathBuf, VerifiedStamps, PathBuf) {
        let dir = scratch(name);
        let stamps = VerifiedStamps::in_dir(dir.join("stamps"));
        let file = dir.join("image");
        std::fs::write(&file, b"image bytes").unwrap();
        (dir, stamps, file)
    }

    /// A time well after any ctime the tests make.
    fn later() -> SystemTime {
        SystemTime::now() + Duration::from_secs(5)
    }

    #[test]
    fn a_recorded_file_is_vouched_for_until_it_changes() {
        let (dir, stamps, file) = scratch_image("changes");
        let id = identity(&file);
        assert!(!stamps.vouch_for(&id, 7), "nothing recorded yet");
        stamps.record(&id, 7, later());
        assert!(stamps.vouch_for(&id, 7));
        assert!(!stamps.vouch_for(&id, 8), "another header checksum");
        // Rewritten in place with bytes of the same length: the ctime moves.
        std::thread::sleep(Duration::from_millis(20));
        std::fs::write(&file, b"IMAGE BYTES").unwrap();
        assert!(!stamps.vouch_for(&identity(&file), 7));
        // Replaced by another file: another inode.
        let other = dir.join("other");
        std::fs::write(&other, b"image bytes").unwrap();
        std::fs::rename(&other, &file).unwrap();
        assert!(!stamps.vouch_for(&identity(&file), 7));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_large_folios_note_holds_for_the_file_as_it_was_and_can_be_dropped() {
        let (dir, stamps, file) = scratch_image("large");
        let id = identity(&file);
        assert!(!stamps.large_folios_noted(&id));
        stamps.note_large_folios(&id);
        assert!(stamps.large_folios_noted(&id));
        assert!(!stamps.vouch_for(&id, 7), "a note is no stamp");
        stamps.forget_large_folios(&id);
        assert!(!stamps.large_folios_noted(&id));
        stamps.note_large_folios(&id);
        std::thread::sleep(Duration::from_millis(20));
        std::fs::write(&file, b"IMAGE BYTES").unwrap();
        assert!(!stamps.large_folios_noted(&identity(&file)), "the file changed");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_file_changed_within_a_second_of_opening_is_not_recorded() {
        let dir = scratch("recent");
        let stamps = VerifiedStamps::in_dir(dir.join("stamps"));
        let file = dir.join("image");
        std::fs::write(&file, b"image bytes").unwrap();
        let id = identity(&file);
        stamps.record(&id, 7, SystemTime::now());
        assert!(!stamps.vouch_for(&id, 7), "ctime too recent to be told from a later change");
        stamps.record(&id, 7, later());
        assert!(stamps.vouch_for(&id, 7));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn past_the_limit_the_oldest_stamps_go() {
        let dir = scratch("prune");
        let stamps = VerifiedStamps::in_dir(dir.join("stamps"));
        let file = dir.join("image");
        std::fs::write(&file, b"image bytes").unwrap();
        let id = identity(&file);
        std::fs::create_dir_all(&stamps.dir).unwrap();
        for i in 0..MAX_STAMPS {
            std::fs::write(stamps.dir.join(format!("old-{i}")), b"x").unwrap();
        }
        std::thread::sleep(Duration::from_millis(20));
        stamps.record(&id, 7, later());
        let left = std::fs::read_dir(&stamps.dir).unwrap().count();
        assert_eq!(left, MAX_STAMPS / 2);
        assert!(stamps.vouch_for(&id, 7), "the newest stamp stays");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn an_unusable_directory_only_means_no_stamps() {
        let dir = scratch("unusable");
        let blocker = dir.join("not-a-dir");
        std::fs::write(&blocker, b"").unwrap();
        let stamps = VerifiedStamps::in_dir(blocker.join("stamps"));
        let id = identity(&blocker);
        stamps.record(&id, 7, later());
        assert!(!stamps.vouch_for(&id, 7));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
