//! KVM_GET_SUPPORTED_CPUID, remembered between runs.
//!
//! KVM answers it by running `cpuid` for every leaf it knows on the host: 280-500 us on the
//! AMD host this is developed on (each `cpuid` is a trip to the machine's own hypervisor),
//! ~80 us on an Intel one, on the main thread of every start. The answer is fixed for the
//! life of the KVM module: KVM works its capabilities out when it loads. So the first start
//! after a boot or a reload of KVM asks and writes the answer to a file in the user's cache
//! directory; the others read it back (~60 us on a nested AMD host, half of it the checks
//! below: a system call on /proc or /sys costs 4-20 us there) when it was written
//! for this boot of this kernel with these KVM modules loaded:
//! - the host's boot id (`/proc/sys/kernel/random/boot_id`, new at every boot, so it stands
//!   for the kernel release too, which only a boot changes);
//! - the inode number of each loaded KVM module's `/sys/module` directory (a reloaded module
//!   gets a new directory, whose inode number differs).
//!
//! Anything else (no cache directory, a file of another host or an older format, a bad line)
//! means asking KVM, as without a cache. (A few fields of KVM's answer name the host CPU the
//! call happened to run on, the APIC ids in leaves 1, 0xB and 0x8000001E: they changed from
//! start to start without the cache and are now those of the start that wrote the file.)
//!
//! What the file holds is the table after the caller's `host_fix_up`: the fix-ups that ask
//! the host CPU itself (on PVM, `cpu::expose_native_isa`'s four `cpuid`s, ~5 us each on a
//! host that is itself a VM, ~20 us of every start), whose answers are as fixed for the boot
//! as KVM's. The fix-ups that only rework the table run on every start.
//!
//! The file is written through a temporary file and a rename, as uvm-image's `atomic.rs`
//! writes images and stamps; this crate does not depend on uvm-image (only uvm-cli knows the
//! other crates), so it has its own few lines for it.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use kvm_bindings::{kvm_cpuid_entry2, CpuId, KVM_MAX_CPUID_ENTRIES};
use kvm_ioctls::Kvm;

/// The first line of the file (its format version).
/// (Version 2: the table after the host fix-up; a version-1 file held KVM's answer alone.)
const MAGIC: &str = "uvm-kvm-cpuid 2";

/// The `/sys/module` directories of the KVM modules there may be.
const KVM_MODULES: [&str; 4] = ["kvm", "kvm_intel", "kvm_amd", "kvm_pvm"];

/// KVM's supported CPUID with `host_fix_up` applied: read from the file at `cache` if it was
/// written for this host as it is now, else asked of `kvm` and fixed up (and written there,
/// best-effort, when `cache` is given).
pub fn supported_cpuid(
    kvm: &Kvm,
    cache: Option<&Path>,
    host_fix_up: impl FnOnce(&mut CpuId),
) -> Result<CpuId, kvm_ioctls::Error> {
    let key = cache.and_then(|_| host_key());
    if let (Some(path), Some(key)) = (cache, &key) {
        if let Some(cpuid) = read_small(path).and_then(|text| parse(&text, key)) {
            return Ok(cpuid);
        }
    }
    let mut cpuid = kvm.get_supported_cpuid(KVM_MAX_CPUID_ENTRIES)?;
    host_fix_up(&mut cpuid);
    if let (Some(path), Some(key)) = (cache, &key) {
        let _ = write_atomically(path, &format_file(key, cpuid.as_slice()));
    }
    Ok(cpuid)
}

/// The most bytes of the file read: a table of as many entries as KVM takes is under 16 KiB
/// in this format (this host's 56 entries: 1.4 KiB); a longer file is no answer.
const MAX_FILE_BYTES: u64 = 64 << 10;

/// The file's text, if it is no longer than [`MAX_FILE_BYTES`].
fn read_small(path: &Path) -> Option<String> {
    use std::io::Read;
    // Room for a usual table up front: one read of the file instead of a run of growing ones.
    let mut text = String::with_capacity(4096);
    std::fs::File::open(path).ok()?.take(MAX_FILE_BYTES + 1).read_to_string(&mut text).ok()?;
    (text.len() as u64 <= MAX_FILE_BYTES).then_some(text)
}

/// What identifies this boot of this kernel with its KVM modules as loaded now; `None` when
/// the host does not tell (no boot id, no KVM module directory): then nothing is cached.
fn host_key() -> Option<String> {
    // Read with one `read` into a buffer (`read_to_string` would also stat the file and
    // read twice): each system call of a start costs ~2 us on a host that is itself a VM.
    let mut boot_id = [0u8; 64];
    let len =
        std::io::Read::read(&mut std::fs::File::open("/proc/sys/kernel/random/boot_id").ok()?, &mut boot_id).ok()?;
    let boot_id = std::str::from_utf8(&boot_id[..len]).ok()?;
    let modules: Vec<String> = KVM_MODULES
        .iter()
        .filter_map(|name| Some(format!("{name}:{}", std::fs::metadata(format!("/sys/module/{name}")).ok()?.ino())))
        .collect();
    if modules.is_empty() {
        return None;
    }
    Some(format!("{} {}", boot_id.trim(), modules.join(",")))
}

/// The file's text: the format line, the key, then one entry per line (function, index,
/// flags, eax, ebx, ecx, edx in hex).
fn format_file(key: &str, entries: &[kvm_cpuid_entry2]) -> String {
    let mut text = format!("{MAGIC}\n{key}\n");
    for e in entries {
        text.push_str(&format!(
            "{:x} {:x} {:x} {:x} {:x} {:x} {:x}\n",
            e.function, e.index, e.flags, e.eax, e.ebx, e.ecx, e.edx
        ));
    }
    text
}

/// The entries of a file written for `key`; `None` for any other file or a bad line.
fn parse(text: &str, key: &str) -> Option<CpuId> {
    let mut lines = text.lines();
    if lines.next()? != MAGIC || lines.next()? != key {
        return None;
    }
    // Field by field into an array (no allocation per line: this runs on every start).
    let mut entries = Vec::with_capacity(128);
    for line in lines {
        let mut fields = line.split(' ');
        let mut values = [0u32; 7];
        for value in &mut values {
            *value = u32::from_str_radix(fields.next()?, 16).ok()?;
        }
        if fields.next().is_some() {
            return None;
        }
        let [function, index, flags, eax, ebx, ecx, edx] = values;
        entries.push(kvm_cpuid_entry2 { function, index, flags, eax, ebx, ecx, edx, ..Default::default() });
    }
    if entries.is_empty() || entries.len() > KVM_MAX_CPUID_ENTRIES {
        return None;
    }
    CpuId::from_entries(&entries).ok()
}

/// Writes `text` to `path` through a temporary file and a rename, so that a concurrent start
/// reads the old file or the new one, never half of one. Creates the directory.
fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    let dir = path.parent().ok_or_else(|| std::io::Error::from(std::io::ErrorKind::InvalidInput))?;
    std::fs::create_dir_all(dir)?;
    let name = path.file_name().ok_or_else(|| std::io::Error::from(std::io::ErrorKind::InvalidInput))?;
    let temporary = dir.join(format!(".{}.{}", name.to_string_lossy(), std::process::id()));
    std::fs::write(&temporary, text)?;
    std::fs::rename(&temporary, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&temporary);
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries() -> Vec<kvm_cpuid_entry2> {
        vec![
            kvm_cpuid_entry2 { function: 0, eax: 0xd, ebx: 0x6874_7541, ..Default::default() },
            kvm_cpuid_entry2 {
                function: 7,
                index: 0,
                flags: 1,
                ebx: 0x219c_07ab,
                ecx: 0x40_0684,
                ..Default::default()
            },
            kvm_cpuid_entry2 { function: 0xd, index: 1, flags: 1, eax: 0xf, ..Default::default() },
        ]
    }

    #[test]
    fn a_file_reads_back_only_for_its_own_key() {
        let text = format_file("boot release kvm:1", &entries());
        let cpuid = parse(&text, "boot release kvm:1").expect("same key");
        assert_eq!(cpuid.as_slice(), &entries()[..]);
        assert!(parse(&text, "boot release kvm:2").is_none(), "KVM reloaded");
        assert!(parse(&text, "other release kvm:1").is_none(), "another boot");
    }

    #[test]
    fn other_formats_and_bad_lines_are_no_answer() {
        let key = "k";
        let good = format_file(key, &entries());
        assert!(parse(&good.replace(MAGIC, "uvm-kvm-cpuid 0"), key).is_none(), "another format");
        assert!(parse(&format!("{good}1 2 3\n"), key).is_none(), "a short line");
        assert!(parse(&format!("{good}1 2 3 4 5 6 zz\n"), key).is_none(), "not hex");
        assert!(parse(&format!("{good}1 2 3 4 5 6 7 8\n"), key).is_none(), "a long line");
        assert!(parse(&format!("{MAGIC}\n{key}\n"), key).is_none(), "no entries");
        let too_many = vec![kvm_cpuid_entry2::default(); KVM_MAX_CPUID_ENTRIES + 1];
        assert!(parse(&format_file(key, &too_many), key).is_none(), "more than KVM takes");
    }

    #[test]
    fn this_host_has_a_key_and_the_answer_is_cached_and_read_back() {
        let dir = std::env::temp_dir().join(format!("uvm-cpuid-test-{}", std::process::id()));
        let path = dir.join("sub").join("kvm-cpuid");
        let Ok(kvm) = Kvm::new() else {
            eprintln!("note: no /dev/kvm: skipping the cached round trip");
            return;
        };
        // The leaves KVM answers; their values may differ between two calls in the fields
        // that name the host CPU the call ran on (APIC ids), so those are not compared.
        let leaves = |cpuid: &CpuId| cpuid.as_slice().iter().map(|e| (e.function, e.index)).collect::<Vec<_>>();
        let asked = supported_cpuid(&kvm, None, |_| {}).expect("KVM answers");
        let first = supported_cpuid(&kvm, Some(&path), |_| {}).expect("KVM answers");
        assert_eq!(leaves(&first), leaves(&asked));
        let key = host_key().expect("a host with KVM has a key");
        let cached = parse(&std::fs::read_to_string(&path).expect("written"), &key).expect("for this host");
        assert_eq!(cached.as_slice(), first.as_slice(), "the file holds what KVM said");
        // The host fix-up runs when KVM is asked, and the file holds its result.
        std::fs::remove_file(&path).expect("remove");
        let mark = |cpuid: &mut CpuId| cpuid.as_mut_slice()[0].edx ^= 0x5a5a;
        let fixed = supported_cpuid(&kvm, Some(&path), mark).expect("KVM answers");
        assert_eq!(fixed.as_slice()[0].edx, first.as_slice()[0].edx ^ 0x5a5a);
        let again = supported_cpuid(&kvm, Some(&path), |_| panic!("read back: no fix-up")).expect("read back");
        assert_eq!(again.as_slice(), fixed.as_slice(), "the file holds the fixed-up table");
        // A file for this host is what the next start uses (here one KVM never gave).
        std::fs::write(&path, format_file(&key, &entries())).expect("overwrite");
        assert_eq!(supported_cpuid(&kvm, Some(&path), |_| {}).expect("read back").as_slice(), &entries()[..]);
        // A file longer than any table is not read whole, and is no answer.
        let mut long = format_file(&key, &entries());
        long.push_str(&"0 0 0 0 0 0 0\n".repeat((MAX_FILE_BYTES / 14 + 1) as usize));
        std::fs::write(&path, long).expect("overwrite");
        assert_eq!(leaves(&supported_cpuid(&kvm, Some(&path), |_| {}).expect("KVM answers")), leaves(&asked));
        // A file for another host is replaced by KVM's answer.
        std::fs::write(&path, format_file("another host", &entries())).expect("overwrite");
        assert_eq!(leaves(&supported_cpuid(&kvm, Some(&path), |_| {}).expect("KVM answers")), leaves(&asked));
        assert!(parse(&std::fs::read_to_string(&path).expect("rewritten"), &key).is_some(), "for this host again");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
