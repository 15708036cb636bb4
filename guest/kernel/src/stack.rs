//! The app's initial stack, laid out as Linux does on x86-64: argc, argv pointers, NULL,
//! envp pointers, NULL, the auxiliary vector, then the strings and AT_RANDOM's bytes at the
//! top. Built as bytes for a given top address (pure, unit-tested), then copied into the
//! app's stack by the loader.

use alloc::vec::Vec;

/// Auxiliary-vector keys used by uvm.
pub mod at {
    pub const NULL: u64 = 0;
    pub const PHDR: u64 = 3;
    pub const PHENT: u64 = 4;
    pub const PHNUM: u64 = 5;
    pub const PAGESZ: u64 = 6;
    pub const BASE: u64 = 7;
    pub const FLAGS: u64 = 8;
    pub const ENTRY: u64 = 9;
    pub const UID: u64 = 11;
    pub const EUID: u64 = 12;
    pub const GID: u64 = 13;
    pub const EGID: u64 = 14;
    pub const PLATFORM: u64 = 15;
    pub const HWCAP: u64 = 16;
    pub const CLKTCK: u64 = 17;
    pub const SECURE: u64 = 23;
    pub const RANDOM: u64 = 25;
    pub const HWCAP2: u64 = 26;
    pub const EXECFN: u64 = 31;
    pub const SYSINFO_EHDR: u64 = 33;
}

/// What goes on the initial stack.
pub struct StackSpec<'a> {
    /// argv strings (without NULs).
    pub argv: &'a [&'a [u8]],
    /// envp strings.
    pub envp: &'a [&'a [u8]],
    /// Auxiliary entries other than AT_RANDOM, AT_EXECFN, AT_PLATFORM and AT_NULL, which are
    /// added here.
    pub auxv: &'a [(u64, u64)],
    /// AT_RANDOM's 16 bytes.
    pub random: [u8; 16],
    /// AT_EXECFN's string.
    pub execfn: &'a [u8],
}

/// The built stack: `bytes` go at `[rsp, top)`.
pub struct BuiltStack {
    /// The initial stack pointer (16-byte aligned, pointing at argc).
    pub rsp: u64,
    /// The stack's content from `rsp` up to the top.
    pub bytes: Vec<u8>,
}

/// Lays out the initial stack below `top` (16-byte aligned).
pub fn build(top: u64, spec: &StackSpec<'_>) -> BuiltStack {
    // Strings and random bytes, packed downward from the top.
    let mut strings: Vec<u8> = Vec::new();
    let mut place = |s: &[u8], nul: bool| -> u64 {
        let len = s.len() as u64 + u64::from(nul);
        let mut block = Vec::with_capacity(len as usize);
        block.extend_from_slice(s);
        if nul {
            block.push(0);
        }
        // Prepend: the new block sits below everything placed so far.
        block.extend_from_slice(&strings);
        strings = block;
        top - strings.len() as u64
    };
    let random_at = place(&spec.random, false);
    let platform_at = place(b"x86_64", true);
    let execfn_at = place(spec.execfn, true);
    let env_at: Vec<u64> = spec.envp.iter().rev().map(|e| place(e, true)).collect();
    let arg_at: Vec<u64> = spec.argv.iter().rev().map(|a| place(a, true)).collect();

    let mut words: Vec<u64> = Vec::new();
    words.push(spec.argv.len() as u64);
    words.extend(arg_at.iter().rev());
    words.push(0);
    words.extend(env_at.iter().rev());
    words.push(0);
    for &(key, value) in spec.auxv {
        words.extend([key, value]);
    }
    words.extend([at::RANDOM, random_at, at::EXECFN, execfn_at, at::PLATFORM, platform_at, at::NULL, 0]);

    let strings_start = top - strings.len() as u64;
    let rsp = (strings_start - words.len() as u64 * 8) & !15;
    let mut bytes = Vec::with_capacity((top - rsp) as usize);
    for w in &words {
        bytes.extend_from_slice(&w.to_le_bytes());
    }
    bytes.resize((strings_start - rsp) as usize, 0);
    bytes.extend_from_slice(&strings);
    BuiltStack { rsp, bytes }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn word(s: &BuiltStack, at: u64) -> u64 {
        let i = (at - s.rsp) as usize;
        u64::from_le_bytes(s.bytes[i..i + 8].try_into().unwrap())
    }

    fn cstr(s: &BuiltStack, at: u64) -> Vec<u8> {
        let i = (at - s.rsp) as usize;
        s.bytes[i..].iter().take_while(|&&b| b != 0).copied().collect()
    }

    #[test]
    fn linux_layout() {
        let top = 0x7fff_ffff_f000;
        let spec = StackSpec {
            argv: &[b"hello", b"world"],
            envp: &[b"A=1"],
            auxv: &[(at::PAGESZ, 4096), (at::ENTRY, 0x401000)],
            random: [7; 16],
            execfn: b"/bin/hello",
        };
        let s = build(top, &spec);
        assert_eq!(s.rsp % 16, 0);
        assert_eq!(s.rsp + s.bytes.len() as u64, top);
        assert_eq!(word(&s, s.rsp), 2, "argc");
        assert_eq!(cstr(&s, word(&s, s.rsp + 8)), b"hello");
        assert_eq!(cstr(&s, word(&s, s.rsp + 16)), b"world");
        assert_eq!(word(&s, s.rsp + 24), 0);
        assert_eq!(cstr(&s, word(&s, s.rsp + 32)), b"A=1");
        assert_eq!(word(&s, s.rsp + 40), 0);
        let mut aux = s.rsp + 48;
        let mut seen = Vec::new();
        loop {
            let (k, v) = (word(&s, aux), word(&s, aux + 8));
            if k == at::NULL {
                break;
            }
            seen.push((k, v));
            aux += 16;
        }
        assert!(seen.contains(&(at::PAGESZ, 4096)));
        let random = seen.iter().find(|(k, _)| *k == at::RANDOM).unwrap().1;
        let i = (random - s.rsp) as usize;
        assert_eq!(&s.bytes[i..i + 16], &[7; 16]);
        let execfn = seen.iter().find(|(k, _)| *k == at::EXECFN).unwrap().1;
        assert_eq!(cstr(&s, execfn), b"/bin/hello");
        let platform = seen.iter().find(|(k, _)| *k == at::PLATFORM).unwrap().1;
        assert_eq!(cstr(&s, platform), b"x86_64");
    }
}
