//! The owners section: who owns the entries that are not root's. [`Owner`] is a uid and a
//! gid; the section is `uvm_abi::image::OwnerRecord`s sorted by entry, and an entry it does not
//! list belongs to root (uid 0, gid 0). An image whose entries are all root's has no section
//! at all (offset 0, size 0), so its layout is the one of an image from before owners existed.
//!
//! - [`encode`]: the writer's records, from each entry's owner.
//! - [`validate`]: the reader's checks: whole records, entries strictly ascending and inside
//!   the file table, reserved fields zero.

use std::fmt;

use uvm_abi::image::{ImageHeader, OwnerRecord, OWNER_RECORD_SIZE};

use crate::table::data_of;

/// The owner of an image entry: a user id and a group id.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Owner {
    /// The user id.
    pub uid: u32,
    /// The group id.
    pub gid: u32,
}

impl Owner {
    /// Root, uid 0 and gid 0: the owner of every entry the owners section does not list.
    pub const ROOT: Owner = Owner { uid: 0, gid: 0 };

    /// Whether this is root's (uid 0, gid 0), which the owners section leaves out.
    pub fn is_root(&self) -> bool {
        *self == Owner::ROOT
    }
}

impl fmt::Display for Owner {
    /// `uid:gid`, as `chown` takes them.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.uid, self.gid)
    }
}

/// The owners section's bytes for the entries' owners (`owners[i]` owns entry `i`): a record
/// for each entry that is not root's, in entry order. Empty when every entry is root's.
pub(crate) fn encode(owners: impl IntoIterator<Item = Owner>) -> Vec<u8> {
    let mut section = Vec::new();
    for (entry, owner) in owners.into_iter().enumerate() {
        if owner.is_root() {
            continue;
        }
        // The caller has checked that the entry count fits in u32.
        let Ok(entry) = u32::try_from(entry) else { break };
        let record = OwnerRecord { entry, uid: owner.uid, gid: owner.gid, reserved: 0 };
        let start = section.len();
        section.resize(start + OWNER_RECORD_SIZE, 0);
        record.write_to(&mut section[start..]);
    }
    section
}

/// Checks the owners section of `image` (whose header was parsed, so the section is in bounds,
/// aligned and whole records); the error says what is wrong, for
/// [`crate::ImageError::BadOwners`].
pub(crate) fn validate(image: &[u8], header: &ImageHeader) -> Result<(), String> {
    let section = data_of(image, &header.owners);
    if section.len() as u64 != header.owners.size || !section.len().is_multiple_of(OWNER_RECORD_SIZE) {
        return Err("it lies outside the image or holds a partial record".into());
    }
    let mut previous: Option<u32> = None;
    for index in 0..section.len() / OWNER_RECORD_SIZE {
        let record = OwnerRecord::read(section, index).ok_or_else(|| format!("record {index} is cut short"))?;
        let entry = record.entry;
        if entry >= header.entry_count {
            return Err(format!(
                "record {index} names entry {entry}, but the file table has {} entries",
                header.entry_count
            ));
        }
        if let Some(previous) = previous.filter(|&previous| previous >= entry) {
            return Err(format!(
                "record {index} names entry {entry} after entry {previous}: the records are not strictly sorted by entry"
            ));
        }
        if record.reserved != 0 {
            return Err(format!("record {index} (entry {entry}) has a non-zero reserved field"));
        }
        previous = Some(entry);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_entries_that_are_not_roots_get_a_record() {
        let owner = |uid, gid| Owner { uid, gid };
        let section = encode([Owner::ROOT, owner(1000, 1000), Owner::ROOT, owner(0, 50), owner(7, 0)]);
        assert_eq!(section.len(), 3 * OWNER_RECORD_SIZE);
        let records: Vec<_> = (0..3).filter_map(|i| OwnerRecord::read(&section, i)).collect();
        let entries: Vec<_> = records.iter().map(|r| (r.entry, r.uid, r.gid, r.reserved)).collect();
        assert_eq!(entries, [(1, 1000, 1000, 0), (3, 0, 50, 0), (4, 7, 0, 0)]);
        assert!(encode([Owner::ROOT; 4]).is_empty(), "all root's: no section");
        assert_eq!(owner(33, 50).to_string(), "33:50");
    }
}
