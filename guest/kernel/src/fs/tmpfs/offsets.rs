//! A tmpfs directory's entry names by directory offset: what a listing resumes from.
//!
//! A new entry takes the next offset, higher than every one before, so the names are kept in
//! a list in offset order, appended to; a lookup by offset is a binary search. A removed
//! entry leaves a tombstone (an empty name: real names are never empty), skipped by
//! listings, until tombstones are more than half of the list, which is then compacted: a
//! removal costs O(log n) and, amortised, O(1) moves. (A `BTreeMap` did this before, at ~5
//! KiB of its own B-tree code in the kernel for this one key and value type.)

use alloc::vec::Vec;

use crate::errno::Errno;

/// The names of a directory's entries, in offset order.
#[derive(Default)]
pub(super) struct ByOffset {
    names: Vec<(u64, Vec<u8>)>,
    /// Tombstones among `names`.
    removed: usize,
}

impl ByOffset {
    /// Makes room for one more name, so that the next [`ByOffset::push`] does not allocate
    /// the list anew: `ENOSPC` if the kernel heap cannot give it (the list doubles, and a
    /// large list wants a large contiguous run).
    pub(super) fn make_room(&mut self) -> Result<(), Errno> {
        self.names.try_reserve(1).map_err(|_| Errno::ENOSPC)
    }

    /// Adds `name` at `offset`, which is higher than every offset added before.
    pub(super) fn push(&mut self, offset: u64, name: &[u8]) {
        debug_assert!(self.names.last().is_none_or(|(last, _)| *last < offset));
        self.names.push((offset, Vec::from(name)));
    }

    /// Removes the entry at `offset`, if there is one.
    pub(super) fn remove(&mut self, offset: u64) {
        let Ok(at) = self.names.binary_search_by_key(&offset, |(o, _)| *o) else { return };
        if core::mem::take(&mut self.names[at].1).is_empty() {
            return; // a tombstone already
        }
        self.removed += 1;
        if self.removed * 2 > self.names.len() {
            self.names.retain(|(_, name)| !name.is_empty());
            self.removed = 0;
            if self.names.is_empty() {
                // An emptied directory gives the list's memory back (it may have held
                // hundreds of thousands of names); one that keeps some keeps its capacity.
                self.names = Vec::new();
            }
        }
    }

    /// The entries from offset `from` on, in offset order: `(offset, name)`.
    pub(super) fn from(&self, from: u64) -> impl Iterator<Item = (u64, &[u8])> {
        let start = self.names.partition_point(|(o, _)| *o < from);
        self.names[start..].iter().filter(|(_, name)| !name.is_empty()).map(|(o, name)| (*o, name.as_slice()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listed(names: &ByOffset, from: u64) -> Vec<(u64, &[u8])> {
        names.from(from).collect()
    }

    #[test]
    fn names_list_in_offset_order_from_any_offset_and_removals_skip_nothing_else() {
        let mut names = ByOffset::default();
        for (offset, name) in [(2, "a"), (3, "b"), (5, "c"), (9, "d")] {
            names.push(offset, name.as_bytes());
        }
        assert_eq!(listed(&names, 0), [(2, &b"a"[..]), (3, b"b"), (5, b"c"), (9, b"d")]);
        assert_eq!(listed(&names, 4), [(5, &b"c"[..]), (9, b"d")]);
        assert_eq!(listed(&names, 10), []);
        names.remove(3);
        names.remove(3);
        names.remove(7);
        assert_eq!(listed(&names, 0), [(2, &b"a"[..]), (5, b"c"), (9, b"d")]);
        assert_eq!(names.removed, 1, "one tombstone; removing it again or a missing offset changes nothing");
        names.remove(2);
        names.remove(9);
        assert_eq!(names.names.len(), 1, "compacted once more than half were tombstones");
        assert_eq!(listed(&names, 0), [(5, &b"c"[..])]);
        names.push(10, b"e");
        assert_eq!(listed(&names, 6), [(10, &b"e"[..])]);
    }

    #[test]
    fn many_removals_stay_cheap_and_right() {
        let mut names = ByOffset::default();
        for offset in 0..10_000u64 {
            names.push(offset, alloc::format!("n{offset}").as_bytes());
        }
        for offset in (0..10_000u64).filter(|o| o % 3 != 0) {
            names.remove(offset);
        }
        let left: Vec<u64> = names.from(0).map(|(o, _)| o).collect();
        assert_eq!(left, (0..10_000u64).filter(|o| o % 3 == 0).collect::<Vec<_>>());
        assert!(names.names.len() <= 2 * left.len() + 1, "tombstones never outnumber the living");
    }
}
