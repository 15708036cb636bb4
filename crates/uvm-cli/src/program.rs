//! `uvm run PROGRAM`: a static program run without a manifest, as `ops run` runs one. The
//! program is packed alone (with the `/etc` files every image gets) into an image kept in
//! uvm's cache, `programs/NAME-KEY.uvm` in [`uvm_image::user_cache_dir`] (the system's
//! temporary directory without one), and built again only when the program (or uvm) is newer
//! than it. Its name is the program's file name, made fit for a manifest's `name`; it runs
//! with no arguments but those after `--`, no environment but `-e` and `--env-file`, as root
//! in `/`. An app that needs files, ports or settings of its own has a manifest. Whenever an
//! image is built there, the cache's images neither built nor read for [`PRUNE_AFTER`] go (a
//! program still in use is packed again at its next run, in milliseconds), so programs run
//! once do not pile up.

use std::hash::{Hash, Hasher};
use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::build::build_image;

/// Whether `path` is an ELF file (its first bytes), which `uvm run` then takes for a program
/// to pack, not an image.
pub fn is_program(path: &Path) -> bool {
    let mut magic = [0u8; 4];
    std::fs::File::open(path).and_then(|mut file| file.read_exact(&mut magic)).is_ok() && magic == *b"\x7fELF"
}

/// The image of the program at `path`, built into uvm's cache when it is missing or stale.
pub fn program_image(path: &Path) -> Result<PathBuf> {
    let program = std::fs::canonicalize(path).with_context(|| format!("cannot find the program {}", path.display()))?;
    let name = app_name(&program);
    let dir = program.parent().unwrap_or(Path::new("/"));
    let app = uvm_manifest::program_manifest(&name, &program, &dir.join(format!("{name}.toml")))
        .with_context(|| format!("cannot run {} without a manifest; write one (docs/manifest.md)", path.display()))?;
    let cache = uvm_image::user_cache_dir().unwrap_or_else(std::env::temp_dir).join("programs");
    std::fs::create_dir_all(&cache).with_context(|| format!("cannot make {}", cache.display()))?;
    let image = cache.join(format!("{name}-{:016x}.uvm", key_of(&program)));
    // The program is the one input (the manifest is made up here, and is no file).
    if crate::run::is_stale(&image, std::slice::from_ref(&app.binary)) {
        build_image(&app, &image)?;
        prune(&cache, &image, std::time::SystemTime::now());
    }
    Ok(image)
}

/// How old a cached program image may grow (since it was built) before a build prunes it.
const PRUNE_AFTER: std::time::Duration = std::time::Duration::from_secs(30 * 24 * 3600);

/// Removes the images in `cache` built and last read more than [`PRUNE_AFTER`] before `now`,
/// but `keep`. Best effort: what cannot be read or removed stays. (A run that found such an
/// image fresh and is about to open it as another build prunes it fails to open it: a month
/// unused, at that very moment.)
fn prune(cache: &Path, keep: &Path, now: std::time::SystemTime) {
    let Ok(entries) = std::fs::read_dir(cache) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        // Built long ago and not read since (the access time, where the mount keeps one:
        // Linux's default `relatime` moves it at least daily).
        let last_used = entry.metadata().and_then(|m| {
            let built = m.modified()?;
            Ok(m.accessed().map_or(built, |read| read.max(built)))
        });
        let old = last_used.is_ok_and(|used| now.duration_since(used).is_ok_and(|age| age > PRUNE_AFTER));
        if old && path != keep && path.extension().is_some_and(|e| e == "uvm") {
            let _ = std::fs::remove_file(&path);
        }
    }
}

/// An app name for the program at `path` (see docs/manifest.md, `name`): its file name with
/// each character a name may not hold as `-`, no leading `.` or `-`, at most 64 characters;
/// `app` if nothing is left.
fn app_name(path: &Path) -> String {
    let file_name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let fitting: String =
        file_name.chars().map(|c| if c.is_ascii_alphanumeric() || "._-".contains(c) { c } else { '-' }).collect();
    let name: String = fitting.trim_start_matches(['.', '-']).chars().take(64).collect();
    if name.is_empty() {
        "app".to_owned()
    } else {
        name
    }
}

/// A key for the program's image: the same program path, the same image file.
fn key_of(program: &Path) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    program.hash(&mut hasher);
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_programs_file_name_becomes_an_app_name() {
        assert_eq!(app_name(Path::new("/usr/bin/hello")), "hello");
        assert_eq!(app_name(Path::new("/x/web server v1.2")), "web-server-v1.2");
        assert_eq!(app_name(Path::new("/x/.hidden")), "hidden");
        assert_eq!(app_name(Path::new("/x/--")), "app");
        assert_eq!(app_name(Path::new("/x/ünï")), "n-", "non-ASCII letters become '-', leading ones dropped");
        assert_eq!(app_name(Path::new(&"a".repeat(100))).len(), 64);
    }

    #[test]
    fn a_build_prunes_the_images_built_long_ago_but_the_new_one() {
        let dir = std::env::temp_dir().join(format!("uvm-program-prune-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let now = std::time::SystemTime::now();
        let days = |n: u64| now - std::time::Duration::from_secs(n * 24 * 3600);
        let files = ["old.uvm", "new.uvm", "kept.uvm", "old.txt", "read.uvm"];
        for (name, (built, read)) in files.iter().zip([(40, 40), (1, 1), (40, 40), (40, 40), (40, 2)]) {
            let file = std::fs::File::create(dir.join(name)).unwrap();
            file.set_times(std::fs::FileTimes::new().set_modified(days(built)).set_accessed(days(read))).unwrap();
        }
        prune(&dir, &dir.join("kept.uvm"), now);
        let left = |name: &str| dir.join(name).exists();
        assert!(!left("old.uvm"), "built 40 days ago");
        assert!(left("new.uvm") && left("kept.uvm") && left("old.txt"), "recent, the one just built, not an image");
        assert!(left("read.uvm"), "built long ago, read two days ago");
        prune(&dir.join("missing"), &dir.join("kept.uvm"), now);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn only_elf_files_are_programs() {
        let dir = std::env::temp_dir().join(format!("uvm-program-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (elf, other, short) = (dir.join("elf"), dir.join("other"), dir.join("short"));
        std::fs::write(&elf, b"\x7fELF\x02\x01\x01").unwrap();
        std::fs::write(&other, b"UVMIMAGE").unwrap();
        std::fs::write(&short, b"\x7fE").unwrap();
        assert!(is_program(&elf));
        assert!(!is_program(&other));
        assert!(!is_program(&short));
        assert!(!is_program(&dir.join("missing")));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
