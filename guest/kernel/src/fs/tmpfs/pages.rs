//! A tmpfs file's pages by index: leaves of [`LEAF`] consecutive slots, in a vector sorted by
//! their first index, found by binary search. A file written from its start fills its leaves
//! in order (each new one appended); a hole costs nothing past its leaf; a page added in the
//! middle of a large sparse file moves the leaves after it (16 bytes each, a few thousand for
//! a GiB), never pages. One concrete type instead of a `BTreeMap<u64, Page>`, whose B-tree
//! code for this key and value was ~7 KiB of the kernel's text.

use alloc::boxed::Box;
use alloc::vec::Vec;

use super::page::Page;

/// Pages per leaf: a leaf is 512 bytes of slots, a file's first page takes one.
const LEAF: u64 = 32;

/// [`LEAF`] consecutive page slots.
struct Leaf {
    /// The first index's leaf number (`index / LEAF`).
    number: u64,
    /// How many slots hold a page (a leaf that holds none is removed).
    count: u32,
    slots: Box<[Option<Page>; LEAF as usize]>,
}

/// A file's pages by index.
#[derive(Default)]
pub struct PageMap {
    leaves: Vec<Leaf>,
    len: usize,
}

impl PageMap {
    /// How many pages there are.
    pub fn len(&self) -> usize {
        self.len
    }

    /// The position of `index`'s leaf in `leaves`, or where it would go.
    fn leaf(&self, index: u64) -> Result<usize, usize> {
        self.leaves.binary_search_by_key(&(index / LEAF), |leaf| leaf.number)
    }

    /// The page at `index`.
    pub fn get(&self, index: u64) -> Option<&Page> {
        let at = self.leaf(index).ok()?;
        self.leaves[at].slots[(index % LEAF) as usize].as_ref()
    }

    /// The page at `index`, to change.
    pub fn get_mut(&mut self, index: u64) -> Option<&mut Page> {
        let at = self.leaf(index).ok()?;
        self.leaves[at].slots[(index % LEAF) as usize].as_mut()
    }

    /// Whether there is a page at `index`.
    pub fn contains(&self, index: u64) -> bool {
        self.get(index).is_some()
    }

    /// Puts `page` at `index` (dropping one that was there) and returns it.
    pub fn insert(&mut self, index: u64, page: Page) -> &mut Page {
        let at = match self.leaf(index) {
            Ok(at) => at,
            Err(at) => {
                let slots = Box::new([const { None }; LEAF as usize]);
                self.leaves.insert(at, Leaf { number: index / LEAF, count: 0, slots });
                at
            }
        };
        let leaf = &mut self.leaves[at];
        let slot = &mut leaf.slots[(index % LEAF) as usize];
        if slot.is_none() {
            leaf.count += 1;
            self.len += 1;
        }
        slot.insert(page)
    }

    /// The indices of the pages from `first` to `last` (both included), in order.
    pub fn indices(&self, first: u64, last: u64) -> Vec<u64> {
        let start = self.leaf(first).unwrap_or_else(|at| at);
        let mut found = Vec::new();
        for leaf in self.leaves[start..].iter().take_while(|leaf| leaf.number <= last / LEAF) {
            let base = leaf.number * LEAF;
            let present = leaf.slots.iter().enumerate().filter(|(_, slot)| slot.is_some());
            found.extend(present.map(|(i, _)| base + i as u64).filter(|index| (first..=last).contains(index)));
        }
        found
    }

    /// The first index with a page at or after `first`.
    pub fn first_from(&self, first: u64) -> Option<u64> {
        let start = self.leaf(first).unwrap_or_else(|at| at);
        self.leaves[start..].iter().find_map(|leaf| {
            let base = leaf.number * LEAF;
            (0..LEAF).map(|i| base + i).find(|&index| index >= first && leaf.slots[(index - base) as usize].is_some())
        })
    }

    /// Drops the pages from `first` to `last` (both included); returns how many went. One pass
    /// over the leaves: a truncation or a punched hole moves each remaining leaf at most once.
    pub fn remove_range(&mut self, first: u64, last: u64) -> usize {
        let before = self.len;
        let start = self.leaf(first).unwrap_or_else(|at| at);
        for leaf in self.leaves[start..].iter_mut().take_while(|leaf| leaf.number <= last / LEAF) {
            let base = leaf.number * LEAF;
            for (i, slot) in leaf.slots.iter_mut().enumerate() {
                if (first..=last).contains(&(base + i as u64)) && slot.take().is_some() {
                    leaf.count -= 1;
                    self.len -= 1;
                }
            }
        }
        self.leaves.retain(|leaf| leaf.count > 0);
        before - self.len
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::tmpfs::page::test_frames;

    fn map_of(indices: &[u64]) -> PageMap {
        let mut map = PageMap::default();
        for &index in indices {
            map.insert(index, Page::new(test_frames()).unwrap());
        }
        map
    }

    #[test]
    fn pages_are_found_by_index_across_leaves_and_holes() {
        let indices = [0, 1, 31, 32, 95, 1 << 40, 7];
        let map = map_of(&indices);
        assert_eq!(map.len(), indices.len());
        for index in indices {
            assert!(map.contains(index) && map.get(index).is_some(), "{index}");
        }
        for hole in [2, 30, 33, 64, 96, (1 << 40) - 1, (1 << 40) + 1] {
            assert!(!map.contains(hole), "{hole}");
        }
        assert_eq!(map.indices(0, u64::MAX), [0, 1, 7, 31, 32, 95, 1 << 40]);
        assert_eq!(map.indices(2, 40), [7, 31, 32]);
        assert_eq!(map.indices(96, (1 << 40) - 1), Vec::<u64>::new());
        assert_eq!((map.first_from(0), map.first_from(8), map.first_from(33)), (Some(0), Some(31), Some(95)));
        assert_eq!((map.first_from(96), map.first_from((1 << 40) + 1)), (Some(1 << 40), None));
    }

    #[test]
    fn inserting_again_replaces_and_removing_the_last_page_of_a_leaf_drops_it() {
        let mut map = map_of(&[5, 6, 40]);
        let frame = map.insert(5, Page::new(test_frames()).unwrap()).frame();
        assert_eq!((map.len(), map.get(5).map(Page::frame)), (3, Some(frame)), "replaced, not added");
        assert_eq!((map.remove_range(5, 5), map.remove_range(5, 5)), (1, 0));
        assert_eq!(map.remove_range(6, 6), 1);
        assert_eq!((map.len(), map.leaves.len()), (1, 1), "the emptied leaf went");
        assert_eq!(map.remove_range(7, 7), 0);
    }

    #[test]
    fn removing_a_range_drops_its_pages_and_empty_leaves() {
        let mut map = map_of(&[0, 3, 31, 32, 33, 64, 200]);
        assert_eq!(map.remove_range(3, 64), 5, "3, 31, 32, 33, 64");
        assert_eq!((map.indices(0, u64::MAX), map.leaves.len()), (vec![0, 200], 2), "two leaves emptied went");
        assert_eq!(map.remove_range(201, u64::MAX), 0);
        assert_eq!(map.remove_range(1, u64::MAX), 1);
        assert_eq!((map.len(), map.indices(0, u64::MAX)), (1, vec![0]));
        assert_eq!(map.remove_range(0, 0), 1);
        assert!(map.leaves.is_empty());
    }
}
