//! The vDSO image: a minimal ELF shared object the app's libc finds through AT_SYSINFO_EHDR
//! and whose symbols (`__vdso_clock_gettime`, `__vdso_gettimeofday`, `__vdso_time`,
//! `__vdso_getcpu`, `__vdso_clock_getres`) it calls instead of trapping into the kernel.
//!
//! The functions themselves are kernel code (`arch::vdso`): the kernel image is mapped in the
//! app's address space with user access, so the image only has to point at them. Built as
//! bytes at boot (pure, unit-tested): ELF header, PT_LOAD and PT_DYNAMIC program headers, the
//! dynamic section, a SysV hash table, the symbol table, the symbol versions and the string
//! table. Every symbol has Linux's version `LINUX_2.6`: glibc and musl check it when versions
//! are present, and Go's runtime needs them (it reads DT_VERDEF unconditionally).

use alloc::vec::Vec;

const ELF_HEADER_SIZE: usize = 64;
const PHDR_SIZE: usize = 56;
const SYM_SIZE: usize = 24;
const PT_LOAD: u32 = 1;
const PT_DYNAMIC: u32 = 2;
const DT_NULL: u64 = 0;
const DT_HASH: u64 = 4;
const DT_STRTAB: u64 = 5;
const DT_SYMTAB: u64 = 6;
const DT_STRSZ: u64 = 10;
const DT_SYMENT: u64 = 11;
const DT_VERSYM: u64 = 0x6fff_fff0;
const DT_VERDEF: u64 = 0x6fff_fffc;
const DT_VERDEFNUM: u64 = 0x6fff_fffd;
const VERDEF_SIZE: usize = 20;
const VERDAUX_SIZE: usize = 8;
const VER_FLG_BASE: u16 = 1;
/// The vDSO's own name (its base version) and the version of its symbols, as on Linux.
const SONAME: &str = "linux-vdso.so.1";
const SYMBOL_VERSION: &str = "LINUX_2.6";
/// Dynamic-section entries, DT_NULL included.
const DYNAMIC_ENTRIES: usize = 9;
const STB_GLOBAL: u8 = 1;
const STT_FUNC: u8 = 2;
/// Any section index but SHN_UNDEF (musl skips undefined symbols).
const SHN_TEXT: u16 = 1;

/// One exported function: its name and its address.
pub struct VdsoSymbol<'a> {
    /// The symbol name.
    pub name: &'a str,
    /// The function's address.
    pub address: u64,
}

fn put_u16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_le_bytes());
}
fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}
fn put_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_le_bytes());
}

/// The SysV ELF hash of a symbol name.
pub fn elf_hash(name: &[u8]) -> u32 {
    let mut h: u32 = 0;
    for &c in name {
        h = (h << 4).wrapping_add(u32::from(c));
        let g = h & 0xf000_0000;
        if g != 0 {
            h ^= g >> 24;
        }
        h &= !g;
    }
    h
}

/// Builds the vDSO image that will sit at `base`. Symbol addresses must lie above `base`
/// (their values are offsets from it). `span` is how many bytes from `base` the PT_LOAD
/// segment claims (it should cover the functions).
pub fn build_image(base: u64, span: u64, symbols: &[VdsoSymbol<'_>]) -> Vec<u8> {
    // Layout: ehdr | 2 phdrs | dynamic | hash | symtab | versym | verdef | strtab.
    let nsyms = symbols.len() + 1;
    let dynamic_at = ELF_HEADER_SIZE + 2 * PHDR_SIZE;
    let dynamic_size = DYNAMIC_ENTRIES * 16;
    let hash_at = dynamic_at + dynamic_size;
    let hash_size = 4 * (2 + 1 + nsyms);
    let symtab_at = hash_at + hash_size;
    let versym_at = symtab_at + SYM_SIZE * nsyms;
    let verdef_at = (versym_at + 2 * nsyms).next_multiple_of(4);
    let verdef_size = 2 * (VERDEF_SIZE + VERDAUX_SIZE);
    let strtab_at = verdef_at + verdef_size;
    let mut strtab = alloc::vec![0u8];
    let mut name_offsets = Vec::new();
    for s in symbols {
        name_offsets.push(strtab.len() as u32);
        strtab.extend_from_slice(s.name.as_bytes());
        strtab.push(0);
    }
    let mut version_names = [0u32; 2];
    for (slot, name) in version_names.iter_mut().zip([SONAME, SYMBOL_VERSION]) {
        *slot = strtab.len() as u32;
        strtab.extend_from_slice(name.as_bytes());
        strtab.push(0);
    }
    let total = strtab_at + strtab.len();

    let mut out = Vec::with_capacity(total);
    // ELF header.
    out.extend_from_slice(b"\x7fELF");
    out.extend_from_slice(&[2, 1, 1, 0]); // 64-bit, little-endian, version 1, System V
    out.extend_from_slice(&[0; 8]);
    put_u16(&mut out, 3); // ET_DYN
    put_u16(&mut out, 62); // EM_X86_64
    put_u32(&mut out, 1);
    put_u64(&mut out, 0); // e_entry
    put_u64(&mut out, ELF_HEADER_SIZE as u64); // e_phoff
    put_u64(&mut out, 0); // e_shoff
    put_u32(&mut out, 0); // e_flags
    put_u16(&mut out, ELF_HEADER_SIZE as u16);
    put_u16(&mut out, PHDR_SIZE as u16);
    put_u16(&mut out, 2); // e_phnum
    put_u16(&mut out, 64); // e_shentsize
    put_u16(&mut out, 0); // e_shnum
    put_u16(&mut out, 0); // e_shstrndx
                          // PT_LOAD: everything from base, read + execute.
    put_u32(&mut out, PT_LOAD);
    put_u32(&mut out, 5);
    put_u64(&mut out, 0);
    put_u64(&mut out, 0);
    put_u64(&mut out, 0);
    put_u64(&mut out, span);
    put_u64(&mut out, span);
    put_u64(&mut out, 4096);
    // PT_DYNAMIC.
    put_u32(&mut out, PT_DYNAMIC);
    put_u32(&mut out, 4);
    put_u64(&mut out, dynamic_at as u64);
    put_u64(&mut out, dynamic_at as u64);
    put_u64(&mut out, dynamic_at as u64);
    put_u64(&mut out, dynamic_size as u64);
    put_u64(&mut out, dynamic_size as u64);
    put_u64(&mut out, 8);
    // Dynamic section (addresses relative to base: p_vaddr 0).
    for (tag, value) in [
        (DT_HASH, hash_at as u64),
        (DT_STRTAB, strtab_at as u64),
        (DT_SYMTAB, symtab_at as u64),
        (DT_STRSZ, strtab.len() as u64),
        (DT_SYMENT, SYM_SIZE as u64),
        (DT_VERSYM, versym_at as u64),
        (DT_VERDEF, verdef_at as u64),
        (DT_VERDEFNUM, 2),
        (DT_NULL, 0),
    ] {
        put_u64(&mut out, tag);
        put_u64(&mut out, value);
    }
    // SysV hash table with one bucket: the chain links every symbol.
    put_u32(&mut out, 1);
    put_u32(&mut out, nsyms as u32);
    put_u32(&mut out, if nsyms > 1 { 1 } else { 0 });
    for i in 0..nsyms {
        let next = if i == 0 || i + 1 == nsyms { 0 } else { i + 1 };
        put_u32(&mut out, next as u32);
    }
    // Symbols: the null symbol, then one per function.
    out.extend_from_slice(&[0; SYM_SIZE]);
    for (s, name) in symbols.iter().zip(&name_offsets) {
        put_u32(&mut out, *name);
        out.push((STB_GLOBAL << 4) | STT_FUNC);
        out.push(0);
        put_u16(&mut out, SHN_TEXT);
        put_u64(&mut out, s.address.wrapping_sub(base));
        put_u64(&mut out, 0);
    }
    // Versions: the null symbol is local (0), every other one is LINUX_2.6 (index 2).
    put_u16(&mut out, 0);
    for _ in symbols {
        put_u16(&mut out, 2);
    }
    out.resize(verdef_at, 0);
    // Two definitions, each with one name: the base version (the soname), then LINUX_2.6.
    for (i, (name, offset)) in [SONAME, SYMBOL_VERSION].iter().zip(version_names).enumerate() {
        put_u16(&mut out, 1); // vd_version
        put_u16(&mut out, if i == 0 { VER_FLG_BASE } else { 0 });
        put_u16(&mut out, i as u16 + 1); // vd_ndx
        put_u16(&mut out, 1); // vd_cnt
        put_u32(&mut out, elf_hash(name.as_bytes()));
        put_u32(&mut out, VERDEF_SIZE as u32); // vd_aux
        put_u32(&mut out, if i == 0 { (VERDEF_SIZE + VERDAUX_SIZE) as u32 } else { 0 }); // vd_next
        put_u32(&mut out, offset); // vda_name
        put_u32(&mut out, 0); // vda_next
    }
    out.extend_from_slice(&strtab);
    debug_assert_eq!(out.len(), total);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u64_at(b: &[u8], at: usize) -> u64 {
        u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
    }

    #[test]
    fn image_is_a_dynamic_object_whose_symbols_resolve() {
        let base = 0x20_1000;
        let syms = [
            VdsoSymbol { name: "__vdso_clock_gettime", address: 0x20_5000 },
            VdsoSymbol { name: "__vdso_time", address: 0x20_6000 },
        ];
        let img = build_image(base, 0x10_0000, &syms);
        assert!(img.len() < 4096);
        assert_eq!(&img[..4], b"\x7fELF");
        assert_eq!(u16::from_le_bytes([img[16], img[17]]), 3, "ET_DYN");
        // Walk the dynamic section like a libc.
        let phoff = u64_at(&img, 32) as usize;
        let dyn_at = u64_at(&img, phoff + PHDR_SIZE + 16) as usize;
        let (mut symtab, mut strtab, mut hash) = (0, 0, 0);
        for i in 0.. {
            let (tag, val) = (u64_at(&img, dyn_at + 16 * i), u64_at(&img, dyn_at + 16 * i + 8) as usize);
            match tag {
                DT_NULL => break,
                DT_SYMTAB => symtab = val,
                DT_STRTAB => strtab = val,
                DT_HASH => hash = val,
                _ => {}
            }
        }
        let nsyms = u32::from_le_bytes(img[hash + 4..hash + 8].try_into().unwrap()) as usize;
        assert_eq!(nsyms, 3);
        let mut found = Vec::new();
        for i in 1..nsyms {
            let at = symtab + i * SYM_SIZE;
            let name_at = strtab + u32::from_le_bytes(img[at..at + 4].try_into().unwrap()) as usize;
            let name: Vec<u8> = img[name_at..].iter().take_while(|&&b| b != 0).copied().collect();
            found.push((String::from_utf8(name).unwrap(), base + u64_at(&img, at + 8)));
        }
        assert_eq!(found, vec![("__vdso_clock_gettime".into(), 0x20_5000), ("__vdso_time".into(), 0x20_6000)]);
    }

    #[test]
    fn symbols_have_linux_version() {
        let img = build_image(0x20_1000, 0x10_0000, &[VdsoSymbol { name: "__vdso_time", address: 0x20_6000 }]);
        let phoff = u64_at(&img, 32) as usize;
        let dyn_at = u64_at(&img, phoff + PHDR_SIZE + 16) as usize;
        let (mut versym, mut verdef, mut strtab, mut count) = (0, 0, 0, 0);
        for i in 0.. {
            let (tag, val) = (u64_at(&img, dyn_at + 16 * i), u64_at(&img, dyn_at + 16 * i + 8) as usize);
            match tag {
                DT_NULL => break,
                DT_VERSYM => versym = val,
                DT_VERDEF => verdef = val,
                DT_VERDEFNUM => count = val,
                DT_STRTAB => strtab = val,
                _ => {}
            }
        }
        assert_eq!(count, 2);
        assert_eq!(u16::from_le_bytes([img[versym + 2], img[versym + 3]]), 2, "the symbol's version index");
        // Walk the definitions as Go's runtime does: the non-base one named LINUX_2.6 has index 2.
        let mut def = verdef;
        let mut seen = Vec::new();
        loop {
            let u16_at = |at: usize| u16::from_le_bytes([img[at], img[at + 1]]);
            let u32_at = |at: usize| u32::from_le_bytes(img[at..at + 4].try_into().unwrap());
            let aux = def + u32_at(def + 12) as usize;
            let name_at = strtab + u32_at(aux) as usize;
            let name: Vec<u8> = img[name_at..].iter().take_while(|&&b| b != 0).copied().collect();
            assert_eq!(u32_at(def + 8), elf_hash(&name));
            seen.push((u16_at(def + 2), u16_at(def + 4), String::from_utf8(name).unwrap()));
            match u32_at(def + 16) {
                0 => break,
                next => def += next as usize,
            }
        }
        assert_eq!(seen, vec![(VER_FLG_BASE, 1, SONAME.into()), (0, 2, "LINUX_2.6".into())]);
        assert_eq!(elf_hash(b"LINUX_2.6"), 0x3ae75f6, "the hash Go's runtime looks for");
    }

    #[test]
    fn hash_matches_the_elf_specification() {
        assert_eq!(elf_hash(b""), 0);
        assert_eq!(elf_hash(b"printf"), 0x077905a6);
        assert_eq!(elf_hash(b"exit"), 0x0006cf04);
    }
}
