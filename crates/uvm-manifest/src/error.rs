//! [`ManifestError`]: every way a manifest, a command-line override or a stored run
//! configuration can be rejected.
//!
//! One variant per rejection. Each message is one sentence (a TOML parser report may add a few
//! lines) that says where the value came from, what the value is, which rule it breaks and how
//! to fix it. "Where" is the `at` field: the manifest path and the key, for example
//! `manifests/hello.toml: [[files]] entry 2: `dst``, or the command-line flag and its value.
//!
//! Variants that wrap an [`io::Error`] print it in their message and do not also report it as
//! [`std::error::Error::source`], so an error chain printer does not show it twice.

use std::io;
use std::path::PathBuf;

use crate::{CPUS_MAX, CPUS_MIN, FORMAT_VERSION, MEMORY_MIB_MAX, MEMORY_MIB_MIN, NAME_MAX_LEN};

/// Why a manifest, an override or a run configuration was rejected.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// The manifest file could not be read.
    #[error("cannot read manifest {}: {error}; check the path given to uvm", path.display())]
    Read {
        /// The manifest path as given.
        path: PathBuf,
        /// What the OS said.
        error: io::Error,
    },

    /// The manifest file is not UTF-8 text.
    #[error(
        "{}: the manifest is not UTF-8 text (invalid byte at offset {offset}); save it as UTF-8",
        path.display()
    )]
    NotUtf8 {
        /// The manifest path.
        path: PathBuf,
        /// Offset of the first byte that is not valid UTF-8.
        offset: usize,
    },

    /// The manifest is not valid TOML, or a key is unknown, missing or of the wrong type.
    /// `message` is the TOML parser's report: line, column, the offending line and the key.
    #[error(
        "{}: {message}\nfix the line shown above; docs/manifest.md lists every key and its type",
        path.display()
    )]
    Syntax {
        /// The manifest path.
        path: PathBuf,
        /// The TOML parser's message.
        message: String,
    },

    /// `version` is not a manifest format version this crate reads.
    #[error(
        "{}: `version` = {version} is not a manifest format this uvm reads (it reads version {FORMAT_VERSION}); write `version = {FORMAT_VERSION}` or remove the key",
        path.display()
    )]
    UnsupportedVersion {
        /// The manifest path.
        path: PathBuf,
        /// The version found.
        version: i64,
    },

    /// The app name is empty or longer than [`NAME_MAX_LEN`] characters.
    #[error("{at} must be 1 to {NAME_MAX_LEN} characters long, got {name:?} ({len} characters); choose a name of 1 to {NAME_MAX_LEN} characters")]
    NameLength {
        /// Where the name came from.
        at: String,
        /// The name.
        name: String,
        /// Its length in characters.
        len: usize,
    },

    /// The app name contains a character outside `[A-Za-z0-9._-]`.
    #[error("{at} may only contain ASCII letters, digits, '.', '_' and '-', got {name:?} (it contains {ch:?}); write {suggestion:?}")]
    NameChar {
        /// Where the name came from.
        at: String,
        /// The name.
        name: String,
        /// The first character that is not allowed.
        ch: char,
        /// The name with every character that is not allowed replaced by '-'.
        suggestion: String,
    },

    /// The app name starts with '.' or '-'.
    #[error("{at} must not start with '.' or '-', got {name:?}; write {suggestion:?}")]
    NameStart {
        /// Where the name came from.
        at: String,
        /// The name.
        name: String,
        /// The name without its leading '.' and '-' characters (or "app" if nothing is left).
        suggestion: String,
    },

    /// A host path (`binary`, `src`) is the empty string.
    #[error("{at} must not be empty; give a host path, relative to the manifest's directory or absolute")]
    EmptyPath {
        /// The manifest path and key.
        at: String,
    },

    /// A host path (`binary`, `src`) does not exist or cannot be inspected.
    #[error("{at}: cannot access {}: {error}; check the path (a relative path starts at the manifest's directory)", resolved.display())]
    HostPathUnreadable {
        /// The manifest path and key.
        at: String,
        /// The path after joining it to the manifest's directory.
        resolved: PathBuf,
        /// What the OS said.
        error: io::Error,
    },

    /// `binary` is a directory or a special file.
    #[error("{at} must be a regular file (a static x86-64 Linux executable), but {} is {kind}; point it at the executable itself", resolved.display())]
    BinaryNotRegular {
        /// The manifest path and key.
        at: String,
        /// The resolved path.
        resolved: PathBuf,
        /// What it is instead ("a directory", "a character device", ...).
        kind: &'static str,
    },

    /// `binary` has no UTF-8 file name to use as `argv[0]` (for example it ends in `..`).
    #[error("{at}: {} has no UTF-8 file name to use as argv[0]; write the path of the executable file itself, ending in its file name", resolved.display())]
    BinaryFileName {
        /// The manifest path and key.
        at: String,
        /// The resolved path.
        resolved: PathBuf,
    },

    /// A `[[files]]` `src` is neither a regular file nor a directory.
    #[error("{at} must be a regular file or a directory, but {} is {kind}; copy what the app needs into a regular file", resolved.display())]
    SrcNotFileOrDir {
        /// The manifest path and key.
        at: String,
        /// The resolved path.
        resolved: PathBuf,
        /// What it is instead ("a character device", "a FIFO", ...).
        kind: &'static str,
    },

    /// A string that becomes a C string in the VM (argument, environment, path, name) contains
    /// a NUL byte.
    #[error("{at} must not contain a NUL byte, got {value:?}; remove the \\0")]
    Nul {
        /// Where the value came from.
        at: String,
        /// The value.
        value: String,
    },

    /// An environment variable name is empty.
    #[error("{at}: an environment variable name must not be empty; give the variable a name")]
    EnvKeyEmpty {
        /// Where the variable came from.
        at: String,
    },

    /// An environment variable name contains '='.
    #[error("{at}: environment variable name {key:?} contains '=', which ends a name; remove the '=' from the name (a value may contain '=')")]
    EnvKeyEquals {
        /// Where the variable came from.
        at: String,
        /// The name.
        key: String,
    },

    /// A variable name of an env file (`--env-file`) contains whitespace.
    #[error("{at}: environment variable name {key:?} contains whitespace; write NAME=VALUE, with no space in NAME (the value may hold spaces)")]
    EnvKeyWhitespace {
        /// Where the variable came from (the file and line).
        at: String,
        /// The name.
        key: String,
    },

    /// A guest path (`dst`, `workdir`) is not absolute.
    #[error("{at} must be an absolute path inside the VM, got {value:?}; write {suggestion:?}")]
    GuestPathRelative {
        /// The manifest path and key.
        at: String,
        /// The value.
        value: String,
        /// The value with a leading '/'.
        suggestion: String,
    },

    /// A guest path contains a `..` component.
    #[error("{at} must not contain a `..` component, got {value:?}; write the path it should name, without `..`")]
    GuestPathDotDot {
        /// The manifest path and key.
        at: String,
        /// The value.
        value: String,
    },

    /// A guest path is longer than [`crate::GUEST_PATH_MAX`] bytes once normalised.
    #[error(
        "{at} is {len} bytes long once normalised, more than the {} a path inside the VM may have; use a shorter path",
        crate::GUEST_PATH_MAX
    )]
    GuestPathTooLong {
        /// The manifest path and key.
        at: String,
        /// The normalised length in bytes.
        len: usize,
    },

    /// A component of a guest path is longer than [`crate::GUEST_NAME_MAX`] bytes.
    #[error("{at}: the path component {component:?} is longer than the {} bytes a file name inside the VM may have; use a shorter name", crate::GUEST_NAME_MAX)]
    GuestPathComponentTooLong {
        /// The manifest path and key.
        at: String,
        /// The component.
        component: String,
    },

    /// A `dst` is the root directory.
    #[error("{at} must name a file or directory below \"/\", got {value:?}; choose a destination such as \"/app\"")]
    DstRoot {
        /// The manifest path and key.
        at: String,
        /// The value as written.
        value: String,
    },

    /// A `dst` is inside a directory the VM provides at run time.
    #[error("{at} is {value:?}, inside {dir}, which the VM provides at run time; choose a destination outside /proc, /dev and /tmp")]
    DstReserved {
        /// The manifest path and key.
        at: String,
        /// The normalised value.
        value: String,
        /// The reserved directory.
        dir: &'static str,
    },

    /// A `[vm] tmpfs` path is, holds or lies in another one, or a `[[files]]` destination.
    #[error("{at} is {value:?}, which is or overlaps {other:?}; a tmpfs mount must not hide packaged files or another tmpfs: choose another path")]
    TmpfsOverlap {
        /// The manifest path and key.
        at: String,
        /// The normalised path.
        value: String,
        /// What it overlaps.
        other: String,
    },

    /// A stop signal that is not a signal, or one the app could not be stopped with.
    #[error("{at} is {value:?}, which is not a signal an app can be stopped with; write a signal's name or number, e.g. SIGTERM, SIGQUIT, SIGINT or 15 (1 to 31; not SIGSTOP, SIGTSTP, SIGTTIN or SIGTTOU, which the guest kernel ignores)")]
    StopSignal {
        /// The manifest path and key, or the flag.
        at: String,
        /// The value as written.
        value: String,
    },

    /// A host name (`[vm] hostname`, `--hostname`) that is not one.
    #[error("{at} is {value:?}, which is not a host name: write 1 to 64 characters, labels of letters, digits and inner hyphens joined by dots, e.g. \"web\" or \"api-1.internal\"")]
    Hostname {
        /// The manifest path and key, or the flag.
        at: String,
        /// The value as written.
        value: String,
    },

    /// A user spec (`[app] user`, `--user`) that is not `USER[:GROUP]`, each an id or a name.
    #[error("{at} is {value:?}, which is not a user spec: {why}; write USER or USER:GROUP, each a name (as in the image's /etc/passwd and /etc/group) or a decimal id, e.g. \"1000\", \"1000:1000\", \"www\" or \"www:www\"")]
    User {
        /// The manifest path and key, or the flag.
        at: String,
        /// The value as written.
        value: String,
        /// What is wrong with it.
        why: String,
    },

    /// A `[[files]]` entry's `mode` that is not octal digits (`COPY --chmod`'s octal form) of
    /// at most [`crate::FILE_MODE_MAX`].
    #[error("{at} is {value:?}, which is not an octal mode: {why}; write the permission bits as octal digits, as COPY --chmod takes them, e.g. \"0644\", \"755\" or \"4755\" (at most \"07777\")")]
    Mode {
        /// The manifest path and key.
        at: String,
        /// The value as written.
        value: String,
        /// What is wrong with it.
        why: String,
    },

    /// More `[vm] tmpfs` paths than [`crate::TMPFS_MAX`].
    #[error("{at} lists {count} paths, more than the {} a VM mounts; mount a common parent instead", crate::TMPFS_MAX)]
    TooManyTmpfs {
        /// The manifest path and key.
        at: String,
        /// How many.
        count: usize,
    },

    /// Two `[[files]]` entries have the same `dst`.
    #[error("{at} is {value:?}, the same destination as [[files]] entry {first_entry}; each destination may appear only once: remove one entry or change its `dst`")]
    DstDuplicate {
        /// The manifest path and key of the later entry.
        at: String,
        /// The normalised destination.
        value: String,
        /// The 1-based number of the earlier entry.
        first_entry: usize,
    },

    /// One `[[files]]` `dst` lies inside another.
    #[error("{at} is {value:?}, which overlaps {other:?}, the destination of [[files]] entry {other_entry} (one lies inside the other); destinations must not nest: put the file into that directory on the host, or choose another `dst`")]
    DstOverlap {
        /// The manifest path and key of the later entry.
        at: String,
        /// The normalised destination.
        value: String,
        /// The other entry's normalised destination.
        other: String,
        /// The 1-based number of the other entry.
        other_entry: usize,
    },

    /// A `dst` is, contains or lies inside the binary's place in the VM (`/bin/<binary name>`).
    #[error("{at} is {value:?}, which overlaps {binary_path:?}, where uvm puts the app's binary; choose another `dst` (for example under \"/app\" or \"/usr/bin\")")]
    DstBinary {
        /// The manifest path and key.
        at: String,
        /// The normalised destination.
        value: String,
        /// The binary's path in the VM.
        binary_path: String,
    },

    /// A memory size is outside [`MEMORY_MIB_MIN`]`..=`[`MEMORY_MIB_MAX`] MiB.
    #[error(
        "{at} must be between {MEMORY_MIB_MIN} and {MEMORY_MIB_MAX} (MiB), got {value}; pick a value in that range"
    )]
    MemoryOutOfRange {
        /// Where the value came from.
        at: String,
        /// The value.
        value: i64,
    },

    /// A CPU count is outside [`CPUS_MIN`]`..=`[`CPUS_MAX`].
    #[error(
        "{at} must be between {CPUS_MIN} and {CPUS_MAX} (app threads running at once), got {value}; pick a value in that range"
    )]
    CpusOutOfRange {
        /// Where the value came from.
        at: String,
        /// The value.
        value: i64,
    },

    /// A `[[ports]]` `host` or `guest` is not a port number.
    #[error("{at} must be a port number from 1 to 65535, got {value}; pick a port in that range")]
    PortOutOfRange {
        /// The manifest path and key.
        at: String,
        /// The value.
        value: i64,
    },

    /// A `[[ports]]` `proto` is neither "tcp" nor "udp".
    #[error(
        "{at} must be \"tcp\" or \"udp\", got {value:?}; write proto = \"udp\" for UDP, or leave the key out for TCP"
    )]
    PortProto {
        /// The manifest path and key.
        at: String,
        /// The value.
        value: String,
    },

    /// A `[[ports]]` `host_ip` is not an IP address.
    #[error(
        "{at} must be a host IP address to bind, such as \"127.0.0.1\", \"0.0.0.0\" or \"::1\", got {value:?}; {fix}"
    )]
    PortHostIp {
        /// The manifest path and key.
        at: String,
        /// The value.
        value: String,
        /// How to write it.
        fix: String,
    },

    /// Two `[[ports]]` entries bind the same host port or lead to the same guest port.
    #[error("{at} (`{value}`) and [[ports]] entry {other_entry} (`{other}`) {explanation}")]
    PortClash {
        /// The manifest path and the later entry.
        at: String,
        /// The later entry, in `-p` syntax.
        value: String,
        /// The 1-based number of the earlier entry.
        other_entry: usize,
        /// The earlier entry, in `-p` syntax.
        other: String,
        /// What they share and how to fix it.
        explanation: String,
    },

    /// A network setting (an egress rule, a stored port mapping) is malformed or clashes.
    #[error("{at}: {error}")]
    Network {
        /// Where the value came from.
        at: String,
        /// What is wrong and how to write it.
        error: uvm_net::NetConfigError,
    },

    /// An image's stored run configuration is not valid TOML of the expected shape.
    #[error("the image's run configuration cannot be read: {message}\nthe image is damaged or was built by another uvm version; rebuild it with `uvm build`")]
    RunConfigSyntax {
        /// The TOML parser's message.
        message: String,
    },

    /// An image's stored run configuration has a value that contradicts another.
    #[error("the image's run configuration has `{key}` = {value:?}, expected {expected:?}; the image is damaged or was built by another uvm version, rebuild it with `uvm build`")]
    RunConfigInconsistent {
        /// The key.
        key: &'static str,
        /// The stored value.
        value: String,
        /// What it should have been.
        expected: String,
    },
}
