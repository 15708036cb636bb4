//! Packing in two steps, for owners and modes: [`stage`] checks the app binary and builds the
//! guest tree from the sources and the default files, writing nothing; the [`Staged`] image
//! then says what a guest path will hold ([`Staged::read`]: `uvm build` reads the image's own
//! /etc/passwd and /etc/group there to resolve owners' names), takes an owner and a mode for a
//! `files` item ([`Staged::set_owner`], [`Staged::set_mode`]) and is written by
//! [`Staged::write`]. [`crate::pack`] is both steps at once, with every entry root's and the
//! host's modes.
//!
//! A `files` item's owner and mode are its entry's and, for a directory, those of everything
//! copied into it, as `COPY --chown` and `COPY --chmod` give them (a mode not to symlinks,
//! which keep 0o777); the directories implied on the way to it, the app binary and the default
//! files stay root's, with their own modes.

use std::fs;
use std::path::Path;

use crate::error::ImageError;
use crate::owners::Owner;
use crate::pack::{write_image, PackInput, PackOutput};
use crate::tree::{Content, Found, SourceAttrs, Tree};

/// An image's contents gathered and checked, not yet written (see [`stage`]).
pub struct Staged<'a> {
    input: PackInput<'a>,
    tree: Tree,
    /// [`crate::ElfInfo::large_page_residue`] of the app.
    large_page_residue: Option<u64>,
    /// The owner and mode of each `files` item, by its index.
    attrs: Vec<SourceAttrs>,
}

/// What a guest path of a [`Staged`] image holds (no symlink followed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StagedData {
    /// A directory.
    Directory,
    /// A regular file, with its bytes.
    File(Vec<u8>),
    /// A symlink, with its target as stored.
    Symlink(Vec<u8>),
}

/// Gathers the image `input` describes without writing it: checks the app binary (read once)
/// and builds the guest tree from the app, the sources and the default files. Fails as
/// [`crate::pack`] does before it writes anything.
pub fn stage<'a>(input: &PackInput<'a>) -> Result<Staged<'a>, ImageError> {
    let read_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ImageError::ReadInput { path, source }
    };
    let app_bytes = fs::read(input.app_binary).map_err(read_err(input.app_binary))?;
    let elf = crate::elf::check_elf(input.app_binary, &app_bytes)?;
    let app_meta = fs::metadata(input.app_binary).map_err(read_err(input.app_binary))?;

    let mut tree = Tree::new();
    tree.add_app(input.app_binary, input.app_guest_path, app_bytes, &app_meta)?;
    for (index, (host, guest)) in input.files.iter().enumerate() {
        tree.add_source(host, guest, index)?;
    }
    for file in input.defaults {
        tree.add_default(file)?;
    }
    let attrs = vec![SourceAttrs::DEFAULT; input.files.len()];
    Ok(Staged { input: *input, tree, large_page_residue: elf.large_page_residue(), attrs })
}

impl Staged<'_> {
    /// What the image will hold at the absolute guest path `guest_path`, no symlink followed
    /// (`None`: nothing). A regular file from the host is read now.
    pub fn read(&self, guest_path: &str) -> Result<Option<StagedData>, ImageError> {
        Ok(Some(match self.tree.find(guest_path) {
            None => return Ok(None),
            Some(Found::Directory) => StagedData::Directory,
            Some(Found::Symlink(target)) => StagedData::Symlink(target.to_vec()),
            Some(Found::File { content: Content::Memory(bytes), .. }) => StagedData::File(bytes.clone()),
            Some(Found::File { content: Content::Host(host), size }) => StagedData::File(read_host_file(host, size)?),
        }))
    }

    /// Gives `PackInput::files` item number `file` (from 0) to `owner`: its entry and, for a
    /// directory, everything copied into it. Items not given an owner are root's. An index
    /// past the list names nothing and changes nothing.
    pub fn set_owner(&mut self, file: usize, owner: Owner) {
        if let Some(attrs) = self.attrs_mut(file) {
            attrs.owner = owner;
        }
    }

    /// Gives `PackInput::files` item number `file` (from 0) the permission bits `mode` (those
    /// above 0o7777 are dropped): its entry and, for a directory, everything copied into it,
    /// files and directories alike, but not its symlinks. Items not given a mode keep the
    /// host's. An index past the list names nothing and changes nothing.
    pub fn set_mode(&mut self, file: usize, mode: u16) {
        if let Some(attrs) = self.attrs_mut(file) {
            attrs.mode = Some(mode & 0o7777);
        }
    }

    /// The owner and mode of `files` item number `file`, if there is one.
    fn attrs_mut(&mut self, file: usize) -> Option<&mut SourceAttrs> {
        debug_assert!(file < self.attrs.len(), "files item {file} of {}", self.attrs.len());
        self.attrs.get_mut(file)
    }

    /// Writes the image at `out_path`, atomically (replacing any file there).
    pub fn write(self, out_path: &Path) -> Result<PackOutput, ImageError> {
        let flat = self.tree.flatten(&self.attrs);
        write_image(flat, &self.input, self.large_page_residue, out_path)
    }
}

/// The bytes of the host file `host`, which had `size` bytes when the tree was built (a
/// change is [`ImageError::InputChanged`], as when the image is written).
fn read_host_file(host: &Path, size: u64) -> Result<Vec<u8>, ImageError> {
    let bytes = fs::read(host).map_err(|source| ImageError::ReadInput { path: host.to_path_buf(), source })?;
    if bytes.len() as u64 != size {
        return Err(ImageError::InputChanged { path: host.to_path_buf(), expected: size });
    }
    Ok(bytes)
}

impl std::fmt::Debug for Staged<'_> {
    // Not derived: the tree holds the app's bytes.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Staged").field("input", &self.input).field("attrs", &self.attrs).finish()
    }
}
