//! CPUID leaf 2 for the VM: the caches of leaf 4 written as legacy cache descriptors.
//!
//! Modern Intel CPUs answer leaf 2 with the descriptor 0xFF, "see leaf 4". glibc's start-up
//! (`init_cacheinfo`, in every static glibc binary) asks eleven cache questions, and for each
//! one that meets 0xFF it walks leaf 4 from subleaf 0 until it finds the level asked for: 33
//! `cpuid`s. On PVM every `cpuid` is a ~10 us trap, so that walk is ~0.35 ms of a ~2 ms start.
//! With each cache named by the legacy descriptor closest to it, glibc answers every question
//! from leaf 2 alone.
//!
//! The price: the descriptors only exist for some sizes. glibc then sees the nearest one that
//! does (for example an L1d of 48 KiB as 32 KiB, an L3 larger than 24 MiB as 24 MiB), and uses
//! it for its copy and memset thresholds. Leaf 4, which says exactly what the caches are, is
//! left untouched for whoever reads it (lscpu, hwloc, glibc's own count of threads sharing a
//! cache). The change is made only on Intel, only when leaf 2 says "see leaf 4", and only when
//! every cache of leaf 4 has a descriptor of its level and line size.

use kvm_bindings::CpuId;

/// A cache described by CPUID leaf 4.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Cache {
    /// 1 data, 2 instruction, 3 unified.
    pub kind: u8,
    pub level: u8,
    pub size: u32,
    pub ways: u32,
    pub line: u32,
}

/// The legacy descriptors with 64-byte lines (Intel SDM, CPUID leaf 2 table; the ones glibc
/// knows): `(descriptor, kind, level, size, ways)`.
const DESCRIPTORS: [(u8, u8, u8, u32, u32); 49] = [
    (0x0d, 1, 1, 16 << 10, 4),
    (0x0e, 1, 1, 24 << 10, 6),
    (0x2c, 1, 1, 32 << 10, 8),
    (0x60, 1, 1, 16 << 10, 8),
    (0x66, 1, 1, 8 << 10, 4),
    (0x67, 1, 1, 16 << 10, 4),
    (0x68, 1, 1, 32 << 10, 4),
    (0x30, 2, 1, 32 << 10, 8),
    (0x21, 3, 2, 256 << 10, 8),
    (0x39, 3, 2, 128 << 10, 4),
    (0x3a, 3, 2, 192 << 10, 6),
    (0x3b, 3, 2, 128 << 10, 2),
    (0x3c, 3, 2, 256 << 10, 4),
    (0x3d, 3, 2, 384 << 10, 6),
    (0x3e, 3, 2, 512 << 10, 4),
    (0x3f, 3, 2, 256 << 10, 2),
    (0x48, 3, 2, 3 << 20, 12),
    (0x4e, 3, 2, 6 << 20, 24),
    (0x78, 3, 2, 1 << 20, 8),
    (0x79, 3, 2, 128 << 10, 8),
    (0x7a, 3, 2, 256 << 10, 8),
    (0x7b, 3, 2, 512 << 10, 8),
    (0x7c, 3, 2, 1 << 20, 8),
    (0x7d, 3, 2, 2 << 20, 8),
    (0x7f, 3, 2, 512 << 10, 2),
    (0x80, 3, 2, 512 << 10, 8),
    (0x86, 3, 2, 512 << 10, 4),
    (0x87, 3, 2, 1 << 20, 8),
    (0x22, 3, 3, 512 << 10, 4),
    (0x23, 3, 3, 1 << 20, 8),
    (0x25, 3, 3, 2 << 20, 8),
    (0x29, 3, 3, 4 << 20, 8),
    (0x46, 3, 3, 4 << 20, 4),
    (0x47, 3, 3, 8 << 20, 8),
    (0x4a, 3, 3, 6 << 20, 12),
    (0x4b, 3, 3, 8 << 20, 16),
    (0x4c, 3, 3, 12 << 20, 12),
    (0x4d, 3, 3, 16 << 20, 16),
    (0xd0, 3, 3, 512 << 10, 4),
    (0xd1, 3, 3, 1 << 20, 4),
    (0xd2, 3, 3, 2 << 20, 4),
    (0xd6, 3, 3, 1 << 20, 8),
    (0xd7, 3, 3, 2 << 20, 8),
    (0xd8, 3, 3, 4 << 20, 8),
    (0xdc, 3, 3, 3 << 19, 12),
    (0xdd, 3, 3, 3 << 20, 12),
    (0xde, 3, 3, 6 << 20, 12),
    (0xea, 3, 3, 12 << 20, 24),
    (0xec, 3, 3, 24 << 20, 24),
];

/// The leaf-2 byte meaning "the caches are in leaf 4".
const SEE_LEAF_4: u8 = 0xff;

/// Decodes a leaf-4 subleaf (`None` at the end of the list).
fn decode_leaf4(eax: u32, ebx: u32, ecx: u32) -> Option<Cache> {
    let kind = (eax & 0x1f) as u8;
    if kind == 0 {
        return None;
    }
    let ways = (ebx >> 22) + 1;
    let partitions = ((ebx >> 12) & 0x3ff) + 1;
    let line = (ebx & 0xfff) + 1;
    let sets = ecx.wrapping_add(1);
    Some(Cache {
        kind,
        level: ((eax >> 5) & 7) as u8,
        size: ways.saturating_mul(partitions).saturating_mul(line).saturating_mul(sets),
        ways,
        line,
    })
}

/// The descriptor closest to `cache` (same kind, level and line size; nearest size, then
/// nearest associativity), or `None` if there is none of its kind.
fn closest_descriptor(cache: &Cache) -> Option<u8> {
    if cache.line != 64 {
        return None;
    }
    let distance = |a: u32, b: u32| (f64::from(a).ln() - f64::from(b).ln()).abs();
    DESCRIPTORS
        .iter()
        .filter(|d| d.1 == cache.kind && d.2 == cache.level)
        .min_by(|a, b| {
            let key = |d: &&(u8, u8, u8, u32, u32)| (distance(d.3, cache.size), distance(d.4, cache.ways));
            key(a).partial_cmp(&key(b)).unwrap_or(std::cmp::Ordering::Equal)
        })
        .map(|d| d.0)
}

/// Leaf 2's four registers with the "see leaf 4" byte replaced by one descriptor per cache, or
/// `None` when leaf 2 does not say "see leaf 4", a cache has no descriptor, or they do not fit.
fn leaf2_with_descriptors(leaf2: [u32; 4], caches: &[Cache]) -> Option<[u32; 4]> {
    // Byte 0 of EAX is the number of times to ask leaf 2 (always 1 since the Pentium 4).
    let bytes: Vec<u8> = leaf2.iter().flat_map(|r| r.to_le_bytes()).collect();
    if bytes[0] != 1 || leaf2.iter().any(|r| r & 0x8000_0000 != 0) {
        return None;
    }
    if !bytes.contains(&SEE_LEAF_4) || caches.is_empty() {
        return None;
    }
    // The bytes that are not about caches (TLBs, prefetching) stay; the caches are all
    // described afresh from leaf 4.
    let mut kept: Vec<u8> = bytes[1..]
        .iter()
        .copied()
        .filter(|&b| b != 0 && b != SEE_LEAF_4 && !DESCRIPTORS.iter().any(|d| d.0 == b))
        .collect();
    let mut descriptors = caches.iter().map(closest_descriptor).collect::<Option<Vec<u8>>>()?;
    descriptors.append(&mut kept);
    if descriptors.len() > 15 {
        return None;
    }
    // A register whose bit 31 is set holds no descriptors, so a descriptor of 0x80 or more
    // never goes in a register's top byte: those take the other slots first.
    descriptors.sort_by_key(|&d| std::cmp::Reverse(d >= 0x80));
    let mut out = [0u8; 16];
    out[0] = 1;
    let slots = (1..16).filter(|i| i % 4 != 3).chain([3, 7, 11, 15]);
    for (slot, d) in slots.zip(&descriptors) {
        if slot % 4 == 3 && *d >= 0x80 {
            return None;
        }
        out[slot] = *d;
    }
    let mut regs = [0u32; 4];
    for (r, chunk) in regs.iter_mut().zip(out.chunks_exact(4)) {
        *r = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
    }
    Some(regs)
}

/// Rewrites the VM's leaf 2 (see the module documentation); returns whether it did.
pub fn describe_caches_in_leaf2(cpuid: &mut CpuId) -> bool {
    let entries = cpuid.as_slice();
    let intel = entries
        .iter()
        .find(|e| e.function == 0)
        .is_some_and(|e| (e.ebx, e.edx, e.ecx) == (0x756e_6547, 0x4965_6e69, 0x6c65_746e));
    if !intel {
        return false;
    }
    let mut leaf4: Vec<_> = entries.iter().filter(|e| e.function == 4).collect();
    leaf4.sort_by_key(|e| e.index);
    let caches: Vec<Cache> = leaf4.iter().map_while(|e| decode_leaf4(e.eax, e.ebx, e.ecx)).collect();
    let Some(entry) = cpuid.as_mut_slice().iter_mut().find(|e| e.function == 2) else { return false };
    let Some([eax, ebx, ecx, edx]) = leaf2_with_descriptors([entry.eax, entry.ebx, entry.ecx, entry.edx], &caches)
    else {
        return false;
    };
    (entry.eax, entry.ebx, entry.ecx, entry.edx) = (eax, ebx, ecx, edx);
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Leaf 4 of the development machine's Xeon: L1d 48 KiB 12-way, L1i 32 KiB 8-way, L2 2 MiB
    /// 16-way, L3 300 MiB 20-way, all with 64-byte lines.
    const XEON_LEAF4: [(u32, u32, u32); 5] = [
        (0x0400_0121, 0x02c0_003f, 0x0000_003f),
        (0x0400_0122, 0x01c0_003f, 0x0000_003f),
        (0x0400_0143, 0x03c0_003f, 0x0000_07ff),
        (0x0400_4163, 0x04c0_003f, 0x0003_bfff),
        (0, 0, 0),
    ];
    const XEON_LEAF2: [u32; 4] = [0x00fe_ff01, 0x0000_00f0, 0, 0];

    fn caches(leaf4: &[(u32, u32, u32)]) -> Vec<Cache> {
        leaf4.iter().map_while(|&(a, b, c)| decode_leaf4(a, b, c)).collect()
    }

    /// What glibc's `intel_check_word` answers for `(kind, level)` from leaf 2 alone: the size
    /// of the first known descriptor of that cache, or `None` where it would walk leaf 4.
    fn glibc_size(leaf2: [u32; 4], kind: u8, level: u8) -> Option<u32> {
        let mut bytes = Vec::new();
        for (i, r) in leaf2.iter().enumerate() {
            assert_eq!(r & 0x8000_0000, 0, "register {i} would be ignored");
            bytes.extend(r.to_le_bytes().iter().skip(if i == 0 { 1 } else { 0 }));
        }
        for b in bytes.into_iter().filter(|&b| b != 0) {
            if b == SEE_LEAF_4 {
                return None;
            }
            if let Some(d) = DESCRIPTORS.iter().find(|d| d.0 == b && d.1 == kind && d.2 == level) {
                return Some(d.3);
            }
        }
        Some(0)
    }

    #[test]
    fn leaf4_decodes_to_the_caches() {
        let c = caches(&XEON_LEAF4);
        assert_eq!(c.len(), 4);
        assert_eq!(c[0], Cache { kind: 1, level: 1, size: 48 << 10, ways: 12, line: 64 });
        assert_eq!(c[1], Cache { kind: 2, level: 1, size: 32 << 10, ways: 8, line: 64 });
        assert_eq!(c[2], Cache { kind: 3, level: 2, size: 2 << 20, ways: 16, line: 64 });
        assert_eq!(c[3], Cache { kind: 3, level: 3, size: 300 << 20, ways: 20, line: 64 });
    }

    #[test]
    fn every_cache_gets_its_nearest_descriptor_and_glibc_needs_no_leaf4() {
        let leaf2 = leaf2_with_descriptors(XEON_LEAF2, &caches(&XEON_LEAF4)).expect("rewritten");
        assert_eq!(glibc_size(leaf2, 1, 1), Some(32 << 10), "L1d 48 KiB has no descriptor: 32 KiB");
        assert_eq!(glibc_size(leaf2, 2, 1), Some(32 << 10), "L1i exact");
        assert_eq!(glibc_size(leaf2, 3, 2), Some(2 << 20), "L2 exact size");
        assert_eq!(glibc_size(leaf2, 3, 3), Some(24 << 20), "L3: the largest descriptor");
        assert_eq!(glibc_size(leaf2, 3, 4), Some(0), "no L4, and no leaf-4 walk to learn it");
        let bytes: Vec<u8> = leaf2.iter().flat_map(|r| r.to_le_bytes()).collect();
        assert_eq!(bytes[0], 1, "leaf 2 is asked once");
        assert!(bytes.contains(&0xfe) && bytes.contains(&0xf0), "the TLB and prefetch bytes stay");
        assert!(!bytes.contains(&SEE_LEAF_4));
    }

    #[test]
    fn exact_matches_win_and_ties_go_to_the_nearest_associativity() {
        let l2 = |size, ways| Cache { kind: 3, level: 2, size, ways, line: 64 };
        assert_eq!(closest_descriptor(&l2(256 << 10, 8)), Some(0x21));
        assert_eq!(closest_descriptor(&l2(256 << 10, 4)), Some(0x3c));
        assert_eq!(closest_descriptor(&l2(1280 << 10, 20)), Some(0x78), "1.25 MiB: 1 MiB is nearer than 2");
        assert_eq!(closest_descriptor(&Cache { kind: 3, level: 2, size: 1 << 20, ways: 8, line: 128 }), None);
        assert_eq!(closest_descriptor(&Cache { kind: 3, level: 4, size: 128 << 20, ways: 16, line: 64 }), None);
    }

    #[test]
    fn leaf2_is_left_alone_unless_it_says_see_leaf4_and_every_cache_fits() {
        let c = caches(&XEON_LEAF4);
        let legacy = [0x665b_5001, 0, 0, 0x007a_7000];
        assert_eq!(leaf2_with_descriptors(legacy, &c), None, "already described");
        assert_eq!(leaf2_with_descriptors(XEON_LEAF2, &[]), None, "no leaf 4");
        let mut with_l4 = c.clone();
        with_l4.push(Cache { kind: 3, level: 4, size: 128 << 20, ways: 16, line: 64 });
        assert_eq!(leaf2_with_descriptors(XEON_LEAF2, &with_l4), None, "an L4 has no descriptor");
        assert_eq!(leaf2_with_descriptors([0x00fe_ff02, 0xf0, 0, 0], &c), None, "asked twice: not ours to fold");
    }

    #[test]
    fn high_descriptors_never_sit_in_a_top_byte() {
        let c = caches(&XEON_LEAF4);
        let mixed = [0x0063_ff01, 0x00b5_b603, 0x00c3_f0fe, 0];
        let leaf2 = leaf2_with_descriptors(mixed, &c).expect("11 bytes fit");
        assert!(leaf2.iter().all(|r| r & 0x8000_0000 == 0), "{leaf2:x?}");
        assert_eq!(glibc_size(leaf2, 3, 3), Some(24 << 20));
        // Twelve bytes of 0x80 or more (ten TLB descriptors and two caches) have eleven places.
        let high = [0x00b0_ff01, 0x00b3_b2b1, 0x00b6_b5b4, 0x00ca_c3ba];
        let two_l3 = [
            Cache { kind: 3, level: 3, size: 12 << 20, ways: 24, line: 64 },
            Cache { kind: 3, level: 3, size: 24 << 20, ways: 24, line: 64 },
        ];
        assert_eq!(leaf2_with_descriptors(high, &two_l3), None);
    }
}
