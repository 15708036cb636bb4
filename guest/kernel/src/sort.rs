//! A small stable sort for the kernel's few short lists (a file's record locks, the live
//! processes' ids): an insertion sort, quadratic but a few dozen bytes of code for each type,
//! where the standard library's sorts cost ~3 KiB each (driftsort for `sort_by_key`,
//! ipnsort for `sort_unstable`) in a kernel that counts its size.

/// Sorts `items` by `key`, keeping the order of equal keys.
pub fn sort_by_key<T, K: Ord>(items: &mut [T], key: impl Fn(&T) -> K) {
    for i in 1..items.len() {
        let mut j = i;
        while j > 0 && key(&items[j - 1]) > key(&items[j]) {
            items.swap(j - 1, j);
            j -= 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorts_and_keeps_equal_keys_in_order() {
        let mut items = [(3, 'a'), (1, 'b'), (3, 'c'), (2, 'd'), (1, 'e')];
        sort_by_key(&mut items, |&(k, _)| k);
        assert_eq!(items, [(1, 'b'), (1, 'e'), (2, 'd'), (3, 'a'), (3, 'c')]);
        let mut empty: [u32; 0] = [];
        sort_by_key(&mut empty, |&k| k);
    }
}
