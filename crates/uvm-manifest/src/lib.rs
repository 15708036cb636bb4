//! The uvm app manifest: `app.toml` in, a validated [`AppConfig`] out.
//!
//! A manifest names a static Linux x86-64 program, its arguments and environment, host files
//! to copy into the image, the VM's memory size and CPU count, the guest ports it publishes on
//! the host and the destinations the app may reach. This crate reads it, rejects anything
//! that is not exactly right with a [`ManifestError`] that names the manifest, the key, the
//! value and the fix, and hands the CLI and the image builder plain data. It knows nothing of
//! KVM or of the image format. The format is documented in docs/manifest.md.
//!
//! - [`load`] and [`parse`]: manifest text to [`AppConfig`]; [`program_manifest`]: the
//!   manifest of a program run without one.
//! - [`RunConfig`]: the part of an [`AppConfig`] that `uvm run` needs, as stored in an image.
//! - [`parse_env_override`], [`parse_env_file`], [`check_memory_mib`], [`check_cpus`], [`parse_user`] and the
//!   like: the same rules for command-line values.
//! - [`UserSpec`]: `[app] user` and `--user`, docker's `USER[:GROUP]`, and a `[[files]]`
//!   entry's `owner`, docker's `COPY --chown=USER[:GROUP]`.
//!
//! Modules: `raw` (the serde structs), `rules` (checks on single values), `validate`
//! (raw manifest to [`AppConfig`]), `network` (`[[ports]]` and `[network]`), `user` (the user
//! spec's syntax), `run_config`, `overrides`, `error`.
#![forbid(unsafe_code)]

mod error;
mod network;
mod overrides;
mod raw;
mod rules;
mod run_config;
mod user;
mod validate;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use uvm_net::NetworkConfig;

pub use error::ManifestError;
pub use overrides::{
    check_cpus, check_memory_mib, parse_env_file, parse_env_override, parse_stop_signal, parse_user, parse_workdir,
};
pub use rules::check_hostname;
pub use run_config::RunConfig;
pub use user::{IdOrName, UserSpec};

/// The manifest format version this crate reads (`version = 1`).
pub const FORMAT_VERSION: u32 = 1;
/// Longest app name, in characters.
pub const NAME_MAX_LEN: usize = 64;
/// Guest RAM when `[vm] memory_mib` is absent.
pub const MEMORY_MIB_DEFAULT: u32 = 64;
/// Smallest allowed `memory_mib`.
pub const MEMORY_MIB_MIN: u32 = 16;
/// Largest allowed `memory_mib`.
pub const MEMORY_MIB_MAX: u32 = 65536;
/// Smallest allowed `cpus`.
pub const CPUS_MIN: u32 = 1;
/// Largest allowed `cpus` (the most vCPUs a uvm VM has).
pub const CPUS_MAX: u32 = 64;
/// Working directory when `[app] workdir` is absent.
pub const DEFAULT_WORKDIR: &str = "/";
/// The guest directory the binary is placed in, as `/bin/<binary file name>`.
pub const BINARY_GUEST_DIR: &str = "/bin";
/// Guest directories the VM provides at run time; no `[[files]]` destination may be in them.
pub const RESERVED_GUEST_DIRS: [&str; 3] = ["/proc", "/dev", "/tmp"];
/// Longest guest path, in bytes, once normalised (Linux PATH_MAX less the NUL).
pub const GUEST_PATH_MAX: usize = 4095;
/// Longest component of a guest path, in bytes (Linux NAME_MAX).
pub const GUEST_NAME_MAX: usize = 255;
/// Largest `[[files]]` `mode`: the permission bits with setuid, setgid and sticky, as
/// `COPY --chmod` takes them and an image stores them.
pub const FILE_MODE_MAX: u16 = 0o7777;

/// A validated manifest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppConfig {
    /// The manifest's path, as given to [`load`] or [`parse`].
    pub manifest_path: PathBuf,
    /// The image's name: 1..=64 characters from `[A-Za-z0-9._-]`, not starting with '.' or '-'.
    pub name: String,
    /// The binary on the host: the manifest's `binary`, joined to the manifest's directory if
    /// relative. A regular file (not yet checked to be an ELF executable).
    pub binary: PathBuf,
    /// `argv[1..]`.
    pub args: Vec<String>,
    /// The environment.
    pub env: BTreeMap<String, String>,
    /// The working directory, a normalised absolute guest path.
    pub workdir: String,
    /// The signal the app gets when uvm is asked to stop it (`[app] stop_signal`, docker's
    /// STOPSIGNAL): uvm passes SIGTERM on as this one. `None`: SIGTERM itself.
    pub stop_signal: Option<u32>,
    /// The user the app runs as (`[app] user`, docker's USER), its names still to be looked
    /// up in the image's /etc/passwd and /etc/group by `uvm run`. `None`: root.
    pub user: Option<UserSpec>,
    /// Host files and directories to copy into the image, in manifest order.
    pub files: Vec<FileMapping>,
    /// The VM's resources.
    pub vm: VmConfig,
    /// `[[ports]]` in manifest order, and `[network] egress`: checked, no two ports clashing.
    pub network: NetworkConfig,
}

/// One `[[files]]` entry: a host file or directory and where it goes in the VM.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileMapping {
    /// The host path, joined to the manifest's directory if relative. A regular file or a
    /// directory (to be copied recursively).
    pub src: PathBuf,
    /// The normalised absolute guest path: no "." or "..", no repeated or trailing '/', not
    /// "/", not in /proc, /dev or /tmp, and neither equal to nor nested with another entry's
    /// `dst` or the binary's guest path.
    pub dst: String,
    /// Who owns the packaged entry and, for a directory, everything copied into it (`owner`,
    /// docker's `COPY --chown`), its names still to be looked up in the image's /etc/passwd and
    /// /etc/group by `uvm build`. `None`: root.
    pub owner: Option<UserSpec>,
    /// The permission bits (at most [`FILE_MODE_MAX`]) that replace the host's on the packaged
    /// entry and, for a directory, on everything copied into it, files and directories alike
    /// but not symlinks (`mode`, docker's `COPY --chmod`). `None`: the host's modes.
    pub mode: Option<u16>,
}

/// `[vm]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VmConfig {
    /// Guest RAM in MiB, within [`MEMORY_MIB_MIN`]..=[`MEMORY_MIB_MAX`].
    pub memory_mib: u32,
    /// How many app threads may run at once, within [`CPUS_MIN`]..=[`CPUS_MAX`]; `None`: as
    /// many as the host running the image has CPUs (decided by `uvm run`).
    pub cpus: Option<u32>,
    /// Where the VM gets a new, empty tmpfs (`tmpfs`, as `uvm run --tmpfs`): at most
    /// [`TMPFS_MAX`] normalised guest paths, each one a `dst` may be (not "/", not in /proc,
    /// /dev or /tmp), none overlapping another or a `[[files]]` destination.
    pub tmpfs: Vec<String>,
    /// The root file system is the image, read-only (`read_only`, as `docker run --read-only`):
    /// a change outside `/tmp`, the tmpfs mounts and volumes is `EROFS`. Otherwise (the
    /// default) the app may change any file, in guest memory, gone when the VM ends.
    pub read_only: bool,
    /// The VM's host name (`hostname`, as `docker run --hostname`), checked as
    /// [`check_hostname`] checks one; `None`: `uvm`.
    pub hostname: Option<String>,
}

/// The most `[vm] tmpfs` mounts.
pub const TMPFS_MAX: usize = 16;

impl AppConfig {
    /// The host paths an image built from this manifest depends on: the manifest, the binary
    /// and every `[[files]]` `src`, in that order. A `src` may be a directory: a staleness
    /// check must look at the files inside it too, not only at the directory's own mtime.
    pub fn input_paths(&self) -> Vec<PathBuf> {
        let mut paths = Vec::with_capacity(2 + self.files.len());
        paths.push(self.manifest_path.clone());
        paths.push(self.binary.clone());
        paths.extend(self.files.iter().map(|f| f.src.clone()));
        paths
    }

    /// The binary's file name: `argv[0]`, and its name in the VM's /bin.
    pub fn binary_name(&self) -> String {
        // validate() only accepts a binary path that ends in a UTF-8 file name.
        self.binary.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
    }

    /// Where the binary sits in the VM: `/bin/<binary_name>`.
    pub fn binary_guest_path(&self) -> String {
        rules::binary_guest_path(&self.binary_name())
    }
}

/// Reads, parses and validates the manifest at `path`. Relative paths in it are resolved
/// against `path`'s directory, and the files they name must exist.
pub fn load(path: &Path) -> Result<AppConfig, ManifestError> {
    let bytes = fs::read(path).map_err(|error| ManifestError::Read { path: path.to_owned(), error })?;
    let text = String::from_utf8(bytes)
        .map_err(|e| ManifestError::NotUtf8 { path: path.to_owned(), offset: e.utf8_error().valid_up_to() })?;
    parse(&text, path)
}

/// The manifest of a program run without one (`uvm run PROGRAM`): `[app] name` and `binary`
/// alone, checked as a manifest at `manifest_path` with them would be.
pub fn program_manifest(name: &str, binary: &Path, manifest_path: &Path) -> Result<AppConfig, ManifestError> {
    let mut app = toml::Table::new();
    app.insert("name".into(), name.into());
    app.insert("binary".into(), binary.to_string_lossy().into_owned().into());
    let mut manifest = toml::Table::new();
    manifest.insert("app".into(), app.into());
    parse(&manifest.to_string(), manifest_path)
}

/// Parses and validates manifest `text`, as if read from `manifest_path`: errors name that
/// path, and relative paths in the manifest are resolved against its directory (the files they
/// name must exist; `manifest_path` itself need not).
pub fn parse(text: &str, manifest_path: &Path) -> Result<AppConfig, ManifestError> {
    let raw: raw::RawManifest = toml::from_str(text)
        .map_err(|e| ManifestError::Syntax { path: manifest_path.to_owned(), message: raw::describe_toml_error(&e) })?;
    validate::validate(raw, manifest_path)
}
