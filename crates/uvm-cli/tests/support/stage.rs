//! Work directories. For a case, `stage` makes a fresh directory holding
//!
//! ```text
//! <dir>/<manifest>.toml   copy of tests/manifests/<manifest>.toml
//! <dir>/<binary>          the built app (or busybox), unless `binary` is an absolute path
//! <dir>/data/...          copy of tests/data/ (what `[[files]] src = "data/..."` refers to)
//! ```
//!
//! so every relative path in a manifest resolves next to it, as `uvm build` expects. For the
//! compatibility suite ([`Suite::Compat`]) the same layout comes from `tests/compat/`.

use super::apps::{self, BuildError, Toolchain};
use super::manifest::{self, Manifest};
use super::Suite;
use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// A staged work directory.
pub struct Staged {
    /// The work directory.
    pub dir: PathBuf,
    /// The manifest inside it.
    pub manifest_path: PathBuf,
    /// What the manifest says.
    pub manifest: Manifest,
    /// The binary the manifest names (inside `dir`, or absolute).
    pub binary: PathBuf,
}

impl Staged {
    /// Where `uvm build` without `-o` puts the image: `<name>.uvm` beside the manifest.
    pub fn default_image(&self) -> PathBuf {
        self.dir.join(format!("{}.uvm", self.manifest.name))
    }
}

/// Reads and parses `tests/manifests/<name>.toml`.
pub fn load_manifest(name: &str) -> (PathBuf, Manifest) {
    load_manifest_in(Suite::Boot, name)
}

/// Reads and parses `<suite dir>/manifests/<name>.toml`.
pub fn load_manifest_in(suite: Suite, name: &str) -> (PathBuf, Manifest) {
    let path = suite.dir().join("manifests").join(format!("{name}.toml"));
    let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let manifest = manifest::parse(&text, &path.display().to_string()).unwrap_or_else(|e| panic!("{e}"));
    (path, manifest)
}

/// Stages `tests/manifests/<manifest>.toml` with `app` built by `toolchain` in `dir` (wiped
/// first). Err: the toolchain is missing. Panics on a failed build.
pub fn stage(dir: &Path, manifest_name: &str, toolchain: Toolchain, app: &str) -> Result<Staged, String> {
    stage_in(Suite::Boot, dir, manifest_name, toolchain, app)
}

/// [`stage`] for a case of `suite`: its manifest, app and `data/` come from [`Suite::dir`].
pub fn stage_in(
    suite: Suite,
    dir: &Path,
    manifest_name: &str,
    toolchain: Toolchain,
    app: &str,
) -> Result<Staged, String> {
    let built = match apps::app_in(suite, toolchain, app) {
        Ok(path) => path,
        Err(BuildError::Unavailable(why)) => return Err(why),
        Err(BuildError::Failed(why)) => panic!("building {toolchain} app `{app}` failed: {why}"),
    };
    let (source, manifest) = load_manifest_in(suite, manifest_name);
    if dir.exists() {
        fs::remove_dir_all(dir).unwrap_or_else(|e| panic!("rm -r {}: {e}", dir.display()));
    }
    fs::create_dir_all(dir).unwrap_or_else(|e| panic!("mkdir {}: {e}", dir.display()));
    let manifest_path = dir.join(format!("{manifest_name}.toml"));
    fs::copy(&source, &manifest_path).unwrap_or_else(|e| panic!("copy {}: {e}", source.display()));
    assert!(
        manifest.binary != "data",
        "{manifest_name}.toml: the binary cannot be called `data` (that is the packaged files' folder)"
    );
    let data = suite.dir().join("data");
    copy_tree(&data, &dir.join("data")).unwrap_or_else(|e| panic!("copy {} to {}: {e}", data.display(), dir.display()));

    let binary = if Path::new(&manifest.binary).is_absolute() {
        let binary = PathBuf::from(&manifest.binary);
        if binary != built {
            panic!("{manifest_name}.toml names {} but the {toolchain} app is {}", binary.display(), built.display());
        }
        binary
    } else {
        let binary = dir.join(&manifest.binary);
        copy_executable(&built, &binary)
            .unwrap_or_else(|e| panic!("copy {} to {}: {e}", built.display(), binary.display()));
        binary
    };
    Ok(Staged { dir: dir.to_path_buf(), manifest_path, manifest, binary })
}

/// Copies a file or a directory tree. A symlink inside the tree is copied as a symlink (its
/// target verbatim); `from` itself is followed. Permissions are normalised as a checkout with
/// umask 022 has them (directories and executables 0755, other files 0644), so what the
/// tests package does not depend on the developer's umask.
pub fn copy_tree(from: &Path, to: &Path) -> io::Result<()> {
    if from.is_dir() {
        fs::create_dir_all(to)?;
        fs::set_permissions(to, fs::Permissions::from_mode(0o755))?;
        for entry in fs::read_dir(from)? {
            let entry = entry?;
            let (path, dest) = (entry.path(), to.join(entry.file_name()));
            if entry.file_type()?.is_symlink() {
                std::os::unix::fs::symlink(fs::read_link(&path)?, &dest)?;
            } else {
                copy_tree(&path, &dest)?;
            }
        }
        Ok(())
    } else if fs::metadata(from)?.permissions().mode() & 0o111 != 0 {
        copy_executable(from, to)
    } else {
        fs::copy(from, to)?;
        fs::set_permissions(to, fs::Permissions::from_mode(0o644))
    }
}

/// Copies an executable (mode 0755) by a `cp` child process, so that this process never holds
/// a descriptor writing it: a child that another test thread forks meanwhile would inherit
/// that descriptor (O_CLOEXEC closes it at the child's exec, not at its fork), and an exec of
/// the copy would fail with ETXTBSY ("Text file busy") until then.
pub fn copy_executable(from: &Path, to: &Path) -> io::Result<()> {
    let status = std::process::Command::new("cp").arg("--").arg(from).arg(to).status()?;
    if !status.success() {
        return Err(io::Error::other(format!("cp {} {}: {status}", from.display(), to.display())));
    }
    fs::set_permissions(to, fs::Permissions::from_mode(0o755))
}
