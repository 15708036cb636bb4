//! The file-table builder: turns the app binary and the `files` list (host path -> guest path)
//! into the guest's directory tree, then flattens it into [`FsEntry`] records that satisfy the
//! table invariants of `uvm_abi::image`.
//!
//! Rules:
//! - Directories implied by a guest path are created with mode 0o755 and the build epoch.
//! - A host directory is copied recursively, entries in bytewise name order; symlinks inside
//!   it are stored as symlinks (target verbatim), never followed. A host path given directly
//!   in `files` is followed if it is a symlink.
//! - Modes are the host's permission bits (`& 0o7777`), unless the source's [`SourceAttrs`]
//!   give a mode, which replaces them on every entry it put there but its symlinks (0o777, as
//!   Linux has them). Every mtime is the build epoch ([`build_epoch`]: `SOURCE_DATE_EPOCH`,
//!   else 0), so that copying or touching the inputs does not change the image. The app binary
//!   always gets mode 0o755.
//! - A directory may receive several sources (their contents merge; the first source's mode
//!   and mtime win). Any other second source for one guest path is a [`ImageError::Conflict`];
//!   a non-directory where a directory is needed is a [`ImageError::NotADirectory`].
//! - Default files ([`DefaultFile`]) are added after every source, and only where the sources
//!   left room: nothing at their path, and nothing but directories (or nothing) on the way. If
//!   a source holds the path, or a file or symlink where one of its directories would be, the
//!   default is left out; that is not an error.
//! - Every node remembers which source put it there (its index in the `files` list), so that a
//!   source's owner and mode reach its entry and everything copied into it, and nothing else:
//!   not the directories implied on the way, the app binary or the default files, which are
//!   root's and keep their modes.
//!
//! Flattening is breadth-first: entry 0 is the root, and each directory's children are
//! appended together, sorted by name, when the directory is visited. So children are
//! contiguous and sorted, and the order depends only on the tree, not on the input order.

use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, VecDeque};
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};

use uvm_abi::image::{EntryKind, FsEntry};

use crate::error::ImageError;
use crate::owners::Owner;

/// Longest name a file-table entry may have, in bytes (Linux's `NAME_MAX`).
pub const MAX_NAME_LEN: usize = 255;

/// Mode of directories implied by a guest path, and of the app binary.
const DEFAULT_DIR_MODE: u16 = 0o755;
/// Mode of the app binary.
const APP_MODE: u16 = 0o755;

/// What `COPY`'s flags give the entries a `files` item puts in the image: their owner
/// (`--chown`) and, when set, the permission bits that replace the host's (`--chmod`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SourceAttrs {
    /// Who owns the entries.
    pub owner: Owner,
    /// Their permission bits (at most 0o7777), or `None` for the host's. Symlinks keep theirs.
    pub mode: Option<u16>,
}

impl SourceAttrs {
    /// Root's, with the host's modes: what every entry gets unless told otherwise.
    pub const DEFAULT: SourceAttrs = SourceAttrs { owner: Owner::ROOT, mode: None };
}

/// A file the builder adds to the image unless the sources already provide its path (or
/// block it: a file or symlink where one of its directories would go). Its mtime is the build
/// epoch, like every entry's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DefaultFile<'a> {
    /// Absolute guest path, e.g. `/etc/hosts`.
    pub guest_path: &'a str,
    /// The file's bytes.
    pub content: &'a [u8],
    /// Permission bits, e.g. `0o644`.
    pub mode: u16,
}

/// Where a regular file's bytes come from.
#[derive(Clone, Debug)]
pub(crate) enum Content {
    /// Read from this host file at write time; it must still have `size` bytes.
    Host(PathBuf),
    /// Already in memory (the app binary, read once for the ELF check).
    Memory(Vec<u8>),
}

enum Kind {
    Dir(BTreeMap<Vec<u8>, Node>),
    File { content: Content, size: u64 },
    Symlink(Vec<u8>),
}

/// Who put a node in the tree, for error messages.
#[derive(Clone)]
enum Origin {
    /// The root, or a directory created because a deeper guest path needed it.
    Implied(String),
    /// A source: "the app binary /x" or a host path.
    Source(String),
}

struct Node {
    kind: Kind,
    mode: u16,
    mtime: i64,
    origin: Origin,
    is_app: bool,
    /// The index in the `files` list of the source that put the node here; `None` for the
    /// root, implied directories, the app binary and default files.
    source: Option<usize>,
}

impl Node {
    fn describe(&self) -> String {
        self.origin.describe()
    }
}

impl Origin {
    fn describe(&self) -> String {
        match self {
            Origin::Implied(by) => format!("the directory created for {by}"),
            Origin::Source(s) => s.clone(),
        }
    }
}

/// The guest directory tree being built.
pub(crate) struct Tree {
    root: Node,
}

/// One flattened record: the entry (name offset and data not yet placed, its mode final), its
/// name, what goes in its data, and its owner.
pub(crate) struct FlatEntry {
    pub entry: FsEntry,
    pub name: Vec<u8>,
    pub data: FlatData,
    pub owner: Owner,
}

/// The data of a flattened entry.
pub(crate) enum FlatData {
    None,
    File { content: Content, size: u64 },
    Symlink(Vec<u8>),
}

/// What a guest path holds in a tree being built: see [`Tree::find`].
pub(crate) enum Found<'a> {
    Directory,
    File { content: &'a Content, size: u64 },
    Symlink(&'a [u8]),
}

/// The flattened table.
pub(crate) struct FlatTable {
    pub entries: Vec<FlatEntry>,
    pub app_entry: usize,
}

/// A host file's metadata in the form the table stores.
struct HostMeta {
    mode: u16,
    mtime: i64,
}

/// The modification time every entry gets: `SOURCE_DATE_EPOCH` (the reproducible-builds
/// convention) when set to a whole number of seconds, else 0. Host mtimes are not inputs:
/// the same content staged anew must give the same image.
pub fn build_epoch() -> i64 {
    std::env::var("SOURCE_DATE_EPOCH").ok().and_then(|v| v.trim().parse().ok()).unwrap_or(0)
}

fn host_meta(meta: &fs::Metadata) -> HostMeta {
    // Masked to 12 bits, so the narrowing is exact.
    HostMeta { mode: (meta.permissions().mode() & 0o7777) as u16, mtime: build_epoch() }
}

impl Tree {
    pub(crate) fn new() -> Tree {
        Tree {
            root: Node {
                kind: Kind::Dir(BTreeMap::new()),
                mode: DEFAULT_DIR_MODE,
                mtime: build_epoch(),
                origin: Origin::Implied("the root".into()),
                is_app: false,
                source: None,
            },
        }
    }

    /// Adds the app binary (already read and checked) at `guest`.
    pub(crate) fn add_app(
        &mut self,
        host: &Path,
        guest: &str,
        bytes: Vec<u8>,
        meta: &fs::Metadata,
    ) -> Result<(), ImageError> {
        let desc = format!("the app binary {}", host.display());
        let components = split_guest_path(guest, &desc)?;
        let size = bytes.len() as u64;
        let node = Node {
            kind: Kind::File { content: Content::Memory(bytes), size },
            mode: APP_MODE,
            mtime: host_meta(meta).mtime,
            origin: Origin::Source(desc.clone()),
            is_app: true,
            source: None,
        };
        self.insert(&components, node, &desc)
    }

    /// Adds `files` item number `index`: a host file, or a host directory copied recursively.
    pub(crate) fn add_source(&mut self, host: &Path, guest: &str, index: usize) -> Result<(), ImageError> {
        let desc = host.display().to_string();
        let components = split_guest_path(guest, &desc)?;
        // Follows a symlink given directly: the user named this path on purpose.
        let meta = fs::metadata(host).map_err(|source| ImageError::ReadInput { path: host.to_path_buf(), source })?;
        self.add_host_path(host, &components, &meta, index)
    }

    /// Adds `file` if the tree has room for it (see [`DefaultFile`]); returns whether it did.
    /// Call it after every source has been added.
    pub(crate) fn add_default(&mut self, file: &DefaultFile) -> Result<bool, ImageError> {
        let desc = format!("the default file {}", file.guest_path);
        let components = split_guest_path(file.guest_path, &desc)?;
        if !self.has_room_for(&components) {
            return Ok(false);
        }
        let size = file.content.len() as u64;
        let node = Node {
            kind: Kind::File { content: Content::Memory(file.content.to_vec()), size },
            mode: file.mode & 0o7777,
            mtime: build_epoch(),
            origin: Origin::Source(desc.clone()),
            is_app: false,
            source: None,
        };
        self.insert(&components, node, &desc)?;
        Ok(true)
    }

    /// What the absolute guest path `guest` holds (no symlink followed; `.` and `..` are plain
    /// names): `None` if nothing.
    pub(crate) fn find(&self, guest: &str) -> Option<Found<'_>> {
        let mut node = &self.root;
        for name in guest.split('/').filter(|c| !c.is_empty()) {
            let Kind::Dir(children) = &node.kind else {
                return None;
            };
            node = children.get(name.as_bytes())?;
        }
        Some(match &node.kind {
            Kind::Dir(_) => Found::Directory,
            Kind::File { content, size } => Found::File { content, size: *size },
            Kind::Symlink(target) => Found::Symlink(target),
        })
    }

    /// Whether a file could go at `components` without meeting anything: the path is free and
    /// every existing node on the way to it is a directory. The root is never free.
    fn has_room_for(&self, components: &[Vec<u8>]) -> bool {
        let Some((last, parents)) = components.split_last() else {
            return false;
        };
        let mut node = &self.root;
        for component in parents {
            let Kind::Dir(children) = &node.kind else {
                return false;
            };
            match children.get(component) {
                Some(child) => node = child,
                None => return true,
            }
        }
        match &node.kind {
            Kind::Dir(children) => !children.contains_key(last),
            _ => false,
        }
    }

    /// Adds `host` (whose metadata is `meta`) at the guest path `components`, recursing into
    /// directories; `source` is the index of the `files` item it comes from.
    fn add_host_path(
        &mut self,
        host: &Path,
        components: &[Vec<u8>],
        meta: &fs::Metadata,
        source: usize,
    ) -> Result<(), ImageError> {
        let desc = host.display().to_string();
        let HostMeta { mode, mtime } = host_meta(meta);
        let file_type = meta.file_type();
        let kind = if file_type.is_dir() {
            Kind::Dir(BTreeMap::new())
        } else if file_type.is_file() {
            Kind::File { content: Content::Host(host.to_path_buf()), size: meta.len() }
        } else if file_type.is_symlink() {
            let target =
                fs::read_link(host).map_err(|source| ImageError::ReadInput { path: host.to_path_buf(), source })?;
            Kind::Symlink(target.as_os_str().as_bytes().to_vec())
        } else {
            return Err(ImageError::UnsupportedFileType { path: host.to_path_buf(), kind: special_kind(&file_type) });
        };
        let is_dir = matches!(kind, Kind::Dir(_));
        let node =
            Node { kind, mode, mtime, origin: Origin::Source(desc.clone()), is_app: false, source: Some(source) };
        self.insert(components, node, &desc)?;
        if !is_dir {
            return Ok(());
        }
        let mut children = Vec::new();
        let read_dir =
            fs::read_dir(host).map_err(|source| ImageError::ReadInput { path: host.to_path_buf(), source })?;
        for item in read_dir {
            let item = item.map_err(|source| ImageError::ReadInput { path: host.to_path_buf(), source })?;
            children.push(item.file_name());
        }
        children.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
        for name in children {
            let child_host = host.join(&name);
            let child_meta = fs::symlink_metadata(&child_host)
                .map_err(|source| ImageError::ReadInput { path: child_host.clone(), source })?;
            let child_desc = child_host.display().to_string();
            let mut child_components = components.to_vec();
            child_components.push(check_name(name.as_bytes(), &child_desc)?.to_vec());
            self.add_host_path(&child_host, &child_components, &child_meta, source)?;
        }
        Ok(())
    }

    /// Puts `node` at `components`, creating implied directories on the way.
    fn insert(&mut self, components: &[Vec<u8>], node: Node, desc: &str) -> Result<(), ImageError> {
        let full_path = guest_path_string(components);
        let Some((last, parents)) = components.split_last() else {
            // The guest path is "/": only a directory can go there.
            return merge_into(&mut self.root, node, "/");
        };
        let mut children = match &mut self.root.kind {
            Kind::Dir(children) => children,
            _ => {
                // Unreachable: the root is created as a directory and only merges with directories.
                return Err(ImageError::NotADirectory {
                    guest_path: "/".into(),
                    first: "the root".into(),
                    needed_for: full_path,
                    second: desc.to_string(),
                });
            }
        };
        for (depth, component) in parents.iter().enumerate() {
            let child = children.entry(component.clone()).or_insert_with(|| Node {
                kind: Kind::Dir(BTreeMap::new()),
                mode: DEFAULT_DIR_MODE,
                mtime: build_epoch(),
                origin: Origin::Implied(desc.to_string()),
                is_app: false,
                source: None,
            });
            match &mut child.kind {
                Kind::Dir(grandchildren) => children = grandchildren,
                _ => {
                    return Err(ImageError::NotADirectory {
                        guest_path: guest_path_string(&components[..=depth]),
                        // `origin` is a separate field from the borrowed `kind`.
                        first: child.origin.describe(),
                        needed_for: full_path,
                        second: desc.to_string(),
                    });
                }
            }
        }
        match children.entry(last.clone()) {
            Entry::Vacant(slot) => {
                slot.insert(node);
                Ok(())
            }
            Entry::Occupied(mut slot) => merge_into(slot.get_mut(), node, &full_path),
        }
    }

    /// Flattens the tree breadth-first into file-table records. A node from `files` item `i`
    /// gets `attrs[i]` (its owner, and its mode if set; [`SourceAttrs::DEFAULT`] if there is
    /// none); every other node is root's and keeps its mode.
    pub(crate) fn flatten(self, attrs: &[SourceAttrs]) -> FlatTable {
        let mut entries: Vec<FlatEntry> = Vec::new();
        let mut app_entry = 0;
        let attrs_of = |node: &Node| node.source.and_then(|i| attrs.get(i)).copied().unwrap_or(SourceAttrs::DEFAULT);
        // Directories whose children are still to be appended: (its index, its children).
        let mut queue: VecDeque<(u32, BTreeMap<Vec<u8>, Node>)> = VecDeque::new();
        let root_attrs = attrs_of(&self.root);
        let root_children = push_entry(&mut entries, self.root, Vec::new(), 0, root_attrs, &mut app_entry);
        if let Some(children) = root_children {
            queue.push_back((0, children));
        }
        while let Some((dir_index, children)) = queue.pop_front() {
            let first_child = entries.len() as u32;
            let count = children.len() as u32;
            if let Some(dir) = entries.get_mut(dir_index as usize) {
                dir.entry.first_child = if count == 0 { 0 } else { first_child };
                dir.entry.child_count = count;
            }
            for (name, node) in children {
                let index = entries.len() as u32;
                let given = attrs_of(&node);
                if let Some(grandchildren) = push_entry(&mut entries, node, name, dir_index, given, &mut app_entry) {
                    queue.push_back((index, grandchildren));
                }
            }
        }
        FlatTable { entries, app_entry }
    }
}

/// Appends `node` as a record with `attrs`' owner and mode; returns its children if it is a
/// directory.
fn push_entry(
    entries: &mut Vec<FlatEntry>,
    node: Node,
    name: Vec<u8>,
    parent: u32,
    attrs: SourceAttrs,
    app_entry: &mut usize,
) -> Option<BTreeMap<Vec<u8>, Node>> {
    if node.is_app {
        *app_entry = entries.len();
    }
    let mode = entry_mode(&node, attrs.mode);
    let (kind, data, children) = match node.kind {
        Kind::Dir(children) => (EntryKind::Directory, FlatData::None, Some(children)),
        Kind::File { content, size } => (EntryKind::File, FlatData::File { content, size }, None),
        Kind::Symlink(target) => (EntryKind::Symlink, FlatData::Symlink(target), None),
    };
    let entry = FsEntry { parent, kind: kind as u8, mode, mtime: node.mtime, ..FsEntry::default() };
    entries.push(FlatEntry { entry, name, data, owner: attrs.owner });
    children
}

/// The mode `node` is stored with: `mode` (masked to 0o7777) when given, as `COPY --chmod`
/// sets it on files and directories alike, else its own; a symlink keeps its own.
fn entry_mode(node: &Node, mode: Option<u16>) -> u16 {
    match (&node.kind, mode) {
        (Kind::Symlink(_), _) | (_, None) => node.mode,
        (_, Some(mode)) => mode & 0o7777,
    }
}

/// A second source arrives at an occupied guest path: directories merge, anything else
/// conflicts.
fn merge_into(existing: &mut Node, incoming: Node, guest_path: &str) -> Result<(), ImageError> {
    match (&existing.kind, &incoming.kind) {
        (Kind::Dir(_), Kind::Dir(_)) => {
            if let Origin::Implied(_) = existing.origin {
                existing.mode = incoming.mode;
                existing.mtime = incoming.mtime;
                existing.origin = incoming.origin;
                existing.source = incoming.source;
            }
            Ok(())
        }
        _ => Err(ImageError::Conflict {
            guest_path: guest_path.to_string(),
            first: existing.describe(),
            second: incoming.describe(),
        }),
    }
}

/// Splits an absolute guest path into checked names. Empty components (`//`, a trailing
/// `/`) are ignored; `.` and `..` are refused.
fn split_guest_path(guest: &str, desc: &str) -> Result<Vec<Vec<u8>>, ImageError> {
    let bad =
        |reason| ImageError::BadGuestPath { guest_path: guest.to_string(), source_desc: desc.to_string(), reason };
    if !guest.starts_with('/') {
        return Err(bad("it is not absolute (it must start with /)"));
    }
    let mut out = Vec::new();
    for component in guest.split('/').filter(|c| !c.is_empty()) {
        if component == "." || component == ".." {
            return Err(bad("it contains a . or .. component"));
        }
        out.push(check_name(component.as_bytes(), desc)?.to_vec());
    }
    Ok(out)
}

/// Checks one name against the table's rules: non-empty, at most [`MAX_NAME_LEN`] bytes, no
/// `/` or NUL, not `.` or `..`.
fn check_name<'a>(name: &'a [u8], desc: &str) -> Result<&'a [u8], ImageError> {
    let reason = if name.is_empty() {
        Some("it is empty")
    } else if name.len() > MAX_NAME_LEN {
        Some("it is longer than 255 bytes")
    } else if name.contains(&b'/') {
        Some("it contains a /")
    } else if name.contains(&0) {
        Some("it contains a NUL byte")
    } else if name == b"." || name == b".." {
        Some("it is . or ..")
    } else {
        None
    };
    match reason {
        None => Ok(name),
        Some(reason) => Err(ImageError::BadName {
            name: String::from_utf8_lossy(name).into_owned(),
            source_desc: desc.to_string(),
            reason,
        }),
    }
}

fn guest_path_string(components: &[Vec<u8>]) -> String {
    if components.is_empty() {
        return "/".to_string();
    }
    let mut out = String::new();
    for c in components {
        out.push('/');
        out.push_str(&String::from_utf8_lossy(c));
    }
    out
}

fn special_kind(file_type: &fs::FileType) -> &'static str {
    if file_type.is_socket() {
        "socket"
    } else if file_type.is_fifo() {
        "FIFO (named pipe)"
    } else if file_type.is_block_device() {
        "block device"
    } else if file_type.is_char_device() {
        "character device"
    } else {
        "special file"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guest_paths_are_split_and_checked() {
        assert_eq!(split_guest_path("/a//b/", "x").ok(), Some(vec![b"a".to_vec(), b"b".to_vec()]));
        assert_eq!(split_guest_path("/", "x").ok(), Some(vec![]));
        assert!(matches!(split_guest_path("a/b", "x"), Err(ImageError::BadGuestPath { .. })));
        assert!(matches!(split_guest_path("/a/../b", "x"), Err(ImageError::BadGuestPath { .. })));
        assert!(matches!(split_guest_path("/a\0b", "x"), Err(ImageError::BadName { .. })));
        let long = format!("/{}", "n".repeat(256));
        assert!(matches!(split_guest_path(&long, "x"), Err(ImageError::BadName { .. })));
        assert!(split_guest_path(&format!("/{}", "n".repeat(255)), "x").is_ok());
    }

    #[test]
    fn flattening_keeps_children_contiguous_and_sorted() {
        let mut tree = Tree::new();
        let file = |name: &str| Node {
            kind: Kind::File { content: Content::Memory(name.as_bytes().to_vec()), size: name.len() as u64 },
            mode: 0o644,
            mtime: 1,
            origin: Origin::Source(name.to_string()),
            is_app: name == "app",
            source: None,
        };
        for path in ["/z/b", "/a/y/x", "/z/a", "/app", "/a/c"] {
            let components = split_guest_path(path, "t").unwrap_or_default();
            let name = path.rsplit('/').next().unwrap_or_default();
            assert!(tree.insert(&components, file(name), path).is_ok());
        }
        let flat = tree.flatten(&[]);
        let names: Vec<&[u8]> = flat.entries.iter().map(|e| e.name.as_slice()).collect();
        assert_eq!(names, [&b""[..], b"a", b"app", b"z", b"c", b"y", b"a", b"b", b"x"]);
        assert_eq!(flat.app_entry, 2);
        let root = &flat.entries[0].entry;
        assert_eq!((root.first_child, root.child_count), (1, 3));
        let a = &flat.entries[1].entry;
        assert_eq!((a.first_child, a.child_count), (4, 2));
        let y = &flat.entries[5].entry;
        assert_eq!((y.first_child, y.child_count, flat.entries[8].entry.parent), (8, 1, 5));
    }

    fn default_file(guest_path: &str) -> DefaultFile<'_> {
        DefaultFile { guest_path, content: b"default\n", mode: 0o644 }
    }

    fn source_file(origin: &str) -> Node {
        Node {
            kind: Kind::File { content: Content::Memory(b"app's own\n".to_vec()), size: 10 },
            mode: 0o600,
            mtime: 0,
            origin: Origin::Source(origin.to_string()),
            is_app: false,
            source: None,
        }
    }

    /// The bytes of the one in-memory file named `name` in the flattened tree.
    fn file_bytes(tree: Tree, name: &str) -> Option<Vec<u8>> {
        tree.flatten(&[]).entries.into_iter().find(|e| e.name == name.as_bytes()).and_then(|e| match e.data {
            FlatData::File { content: Content::Memory(bytes), .. } => Some(bytes),
            _ => None,
        })
    }

    #[test]
    fn a_default_file_goes_where_there_is_room() {
        let mut tree = Tree::new();
        assert!(matches!(tree.add_default(&default_file("/etc/hosts")), Ok(true)));
        assert!(matches!(tree.add_default(&default_file("/etc/resolv.conf")), Ok(true)));
        assert_eq!(file_bytes(tree, "hosts").as_deref(), Some(&b"default\n"[..]));
    }

    #[test]
    fn a_source_at_the_path_wins_over_a_default_file() {
        let mut tree = Tree::new();
        let p = |s: &str| split_guest_path(s, "t").unwrap_or_default();
        assert!(tree.insert(&p("/etc/hosts"), source_file("/host/hosts"), "/host/hosts").is_ok());
        assert!(matches!(tree.add_default(&default_file("/etc/hosts")), Ok(false)));
        assert_eq!(file_bytes(tree, "hosts").as_deref(), Some(&b"app's own\n"[..]));
    }

    #[test]
    fn a_file_where_a_default_needs_a_directory_leaves_the_default_out() {
        let mut tree = Tree::new();
        let p = |s: &str| split_guest_path(s, "t").unwrap_or_default();
        assert!(tree.insert(&p("/etc"), source_file("/host/etc"), "/host/etc").is_ok());
        assert!(matches!(tree.add_default(&default_file("/etc/hosts")), Ok(false)));
        assert!(matches!(tree.add_default(&default_file("/etc/deeper/hosts")), Ok(false)));
        assert!(matches!(tree.add_default(&default_file("/")), Ok(false)));
        assert!(matches!(tree.add_default(&default_file("etc/hosts")), Err(ImageError::BadGuestPath { .. })));
        assert_eq!(tree.flatten(&[]).entries.len(), 2, "the root and /etc only");
    }

    #[test]
    fn conflicts_name_both_sources() {
        let mut tree = Tree::new();
        let file = |origin: &str| Node {
            kind: Kind::File { content: Content::Memory(Vec::new()), size: 0 },
            mode: 0o644,
            mtime: 0,
            origin: Origin::Source(origin.to_string()),
            is_app: false,
            source: None,
        };
        let p = |s: &str| split_guest_path(s, "t").unwrap_or_default();
        assert!(tree.insert(&p("/etc/x"), file("/host/one"), "/host/one").is_ok());
        let err = tree.insert(&p("/etc/x"), file("/host/two"), "/host/two").err().map(|e| e.to_string());
        let err = err.unwrap_or_default();
        assert!(err.contains("/host/one") && err.contains("/host/two") && err.contains("/etc/x"), "{err}");
        let err = tree.insert(&p("/etc/x/y"), file("/host/three"), "/host/three").err();
        assert!(
            matches!(&err, Some(ImageError::NotADirectory { guest_path, .. }) if guest_path == "/etc/x"),
            "{err:?}"
        );
        let err =
            tree.insert(&p("/etc"), file("/host/four"), "/host/four").err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.contains("the directory created for /host/one") && err.contains("/host/four"), "{err}");
    }
}
