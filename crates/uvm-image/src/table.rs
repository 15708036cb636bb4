//! Validation of an image's file table against the invariants of `uvm_abi::image`, so that
//! every later lookup (host or guest) can trust it.
//!
//! Checked, for `entry_count` records followed by the names blob:
//! - entry 0 is a directory with an empty name and is its own parent;
//! - every kind is a known [`EntryKind`], `reserved` is zero, `mode <= 0o7777`;
//! - every name lies inside the names blob; every other name is 1..=255 bytes with no `/` or
//!   NUL and is not `.` or `..`;
//! - a directory's children `first_child .. first_child + child_count` lie inside the table,
//!   exclude entry 0, name it as their parent and are strictly sorted by name (bytewise);
//!   directories carry no data;
//! - every non-root entry is the child of exactly one directory and is reachable from the
//!   root (the table is one tree);
//! - a regular file's data is inside the image at a page-aligned offset past the header;
//!   a symlink's target is inside the image, non-empty and free of NUL; neither has children;
//! - `app_entry` is a regular file.

use uvm_abi::image::{EntryKind, FsEntry, ImageHeader, FS_ENTRY_SIZE, IMAGE_ALIGN, IMAGE_HEADER_SIZE};

use crate::tree::MAX_NAME_LEN;

/// The parsed view of a validated (or being validated) file table.
#[derive(Clone, Copy)]
pub(crate) struct Table<'a> {
    /// The `entry_count` records.
    pub records: &'a [u8],
    /// The names blob that follows them.
    pub names: &'a [u8],
    /// Number of records.
    pub count: u32,
}

impl<'a> Table<'a> {
    /// Splits the file-table section of `image` (whose header was parsed, so the section is in
    /// bounds and holds `entry_count` records).
    pub(crate) fn new(image: &'a [u8], header: &ImageHeader) -> Option<Table<'a>> {
        let start = usize::try_from(header.fs_table.offset).ok()?;
        let end = usize::try_from(header.fs_table.end()?).ok()?;
        let section = image.get(start..end)?;
        let records_len = (header.entry_count as usize).checked_mul(FS_ENTRY_SIZE)?;
        let (records, names) = (section.get(..records_len)?, section.get(records_len..)?);
        Some(Table { records, names, count: header.entry_count })
    }

    /// Record `index`.
    pub(crate) fn entry(&self, index: u32) -> Option<FsEntry> {
        FsEntry::read(self.records, index)
    }

    /// The name of `entry` (empty if out of bounds, which validation rules out).
    pub(crate) fn name(&self, entry: &FsEntry) -> &'a [u8] {
        let start = entry.name_offset as usize;
        start.checked_add(entry.name_len as usize).and_then(|end| self.names.get(start..end)).unwrap_or_default()
    }
}

/// Checks the whole table of `image`; the error says what is wrong, for
/// [`crate::ImageError::BadFsTable`].
pub(crate) fn validate(image: &[u8], header: &ImageHeader) -> Result<(), String> {
    let table = Table::new(image, header).ok_or("it lies outside the image")?;
    let total = image.len() as u64;
    let count = table.count;
    let mut entries = Vec::with_capacity(count as usize);
    for index in 0..count {
        entries.push(table.entry(index).ok_or_else(|| format!("entry {index} lies outside the table"))?);
    }

    let root = entries.first().ok_or("it has no entries")?;
    if EntryKind::from_raw(root.kind) != Some(EntryKind::Directory) || root.parent != 0 || root.name_len != 0 {
        return Err("entry 0 is not the root directory (a directory with an empty name that is its own parent)".into());
    }

    // Whether a directory already lists each entry as a child.
    let mut claimed = vec![false; count as usize];
    for (index, e) in entries.iter().enumerate() {
        let index = index as u32;
        let what = |problem: &str| format!("entry {index} ({}) {problem}", display_name(table.name(e)));
        if e.name_offset.checked_add(e.name_len).is_none_or(|end| end as usize > table.names.len()) {
            return Err(format!("entry {index} has a name outside the names blob"));
        }
        if index != 0 {
            check_name(table.name(e)).map_err(&what)?;
        }
        if e.reserved != 0 {
            return Err(what("has a non-zero reserved byte"));
        }
        if e.mode > 0o7777 {
            return Err(what("has mode bits beyond 0o7777"));
        }
        let kind = EntryKind::from_raw(e.kind)
            .ok_or_else(|| what(&format!("has kind {}, which is not a directory, file or symlink", e.kind)))?;
        if e.parent >= count {
            return Err(what("has a parent index outside the table"));
        }
        match kind {
            EntryKind::Directory => {
                if e.data.offset != 0 || e.data.size != 0 {
                    return Err(what("is a directory with data"));
                }
                if e.child_count == 0 {
                    continue;
                }
                let end = e.first_child.checked_add(e.child_count);
                if e.first_child == 0 || end.is_none_or(|end| end > count) {
                    return Err(what("has children outside the table"));
                }
                let mut previous: Option<&[u8]> = None;
                for child in e.first_child..e.first_child + e.child_count {
                    let c = &entries[child as usize];
                    if c.parent != index {
                        return Err(what(&format!("lists entry {child} as a child, but its parent is {}", c.parent)));
                    }
                    if std::mem::replace(&mut claimed[child as usize], true) {
                        return Err(format!("entry {child} is listed as a child twice"));
                    }
                    let name = table.name(c);
                    if previous.is_some_and(|p| p >= name) {
                        return Err(what("has children that are not strictly sorted by name"));
                    }
                    previous = Some(name);
                }
            }
            EntryKind::File | EntryKind::Symlink => {
                if e.first_child != 0 || e.child_count != 0 {
                    return Err(what("is not a directory but has children"));
                }
                if !e.data.fits_in(total) {
                    return Err(what("has data outside the image"));
                }
                if kind == EntryKind::File {
                    if e.data.offset % IMAGE_ALIGN != 0 {
                        return Err(what("has data at an offset that is not page-aligned"));
                    }
                    if e.data.size != 0 && e.data.offset < IMAGE_HEADER_SIZE {
                        return Err(what("has data inside the image header"));
                    }
                } else {
                    let target = data_of(image, &e.data);
                    if target.is_empty() || target.contains(&0) {
                        return Err(what("is a symlink with an empty target or a NUL byte in it"));
                    }
                }
            }
        }
    }
    if let Some(orphan) = claimed.iter().skip(1).position(|&c| !c) {
        return Err(format!("entry {} is in no directory", orphan + 1));
    }
    // Every non-root entry has exactly one parent directory; it is a tree if all are reachable
    // from the root (a detached cycle of directories would not be).
    let mut reached = 1u64;
    let mut stack = vec![0u32];
    while let Some(dir) = stack.pop() {
        let e = &entries[dir as usize];
        if EntryKind::from_raw(e.kind) != Some(EntryKind::Directory) || e.child_count == 0 {
            continue;
        }
        for child in e.first_child..e.first_child + e.child_count {
            reached += 1;
            stack.push(child);
        }
    }
    if reached != u64::from(count) {
        return Err("some entries are not reachable from the root (the directories form a cycle)".into());
    }
    let app = &entries[header.app_entry as usize];
    if EntryKind::from_raw(app.kind) != Some(EntryKind::File) {
        return Err(format!("the app entry {} is not a regular file", header.app_entry));
    }
    Ok(())
}

/// The bytes of `data` in `image` (empty if out of bounds, which validation rules out).
pub(crate) fn data_of<'a>(image: &'a [u8], data: &uvm_abi::image::Section) -> &'a [u8] {
    let range = usize::try_from(data.offset)
        .ok()
        .and_then(|start| Some(start..start.checked_add(usize::try_from(data.size).ok()?)?));
    range.and_then(|r| image.get(r)).unwrap_or_default()
}

fn check_name(name: &[u8]) -> Result<(), &'static str> {
    if name.is_empty() {
        Err("has an empty name")
    } else if name.len() > MAX_NAME_LEN {
        Err("has a name longer than 255 bytes")
    } else if name.contains(&b'/') || name.contains(&0) {
        Err("has a name containing / or NUL")
    } else if name == b"." || name == b".." {
        Err("is named . or ..")
    } else {
        Ok(())
    }
}

fn display_name(name: &[u8]) -> String {
    format!("{:?}", String::from_utf8_lossy(name))
}
