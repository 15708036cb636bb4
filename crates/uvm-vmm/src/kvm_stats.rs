//! KVM's binary statistics of a vCPU (KVM_GET_STATS_FD): exits, emulated instructions, shadow
//! page faults and the like, counted by KVM itself. Read once at the end of a run for
//! `uvm run --timings`; counts are stable where times are noisy.

use std::fs::File;
use std::os::fd::{AsRawFd, FromRawFd};
use std::os::unix::fs::FileExt;

/// `KVM_GET_STATS_FD`: `_IO(KVMIO, 0xce)`.
const KVM_GET_STATS_FD: libc::c_ulong = 0xae_ce;

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// The nonzero single-value counters of the vCPU behind `fd`, by name. Empty if the kernel
/// offers no binary statistics.
pub fn vcpu_counters(vcpu: &impl AsRawFd) -> Vec<(String, u64)> {
    // SAFETY: KVM_GET_STATS_FD takes no argument and returns a new fd (or -1).
    let raw = unsafe { libc::ioctl(vcpu.as_raw_fd(), KVM_GET_STATS_FD, 0) };
    if raw < 0 {
        return Vec::new();
    }
    // SAFETY: `raw` is a fresh fd that nothing else owns.
    let file = unsafe { File::from_raw_fd(raw) };
    read_counters(&file).unwrap_or_default()
}

fn read_counters(file: &File) -> Option<Vec<(String, u64)>> {
    let mut header = [0u8; 24];
    file.read_exact_at(&mut header, 0).ok()?;
    let name_size = u32_at(&header, 4)? as usize;
    let count = u32_at(&header, 8)? as usize;
    let desc_offset = u32_at(&header, 16)? as u64;
    let data_offset = u32_at(&header, 20)? as u64;
    let desc_size = 16 + name_size;
    let mut descs = vec![0u8; desc_size.checked_mul(count)?];
    file.read_exact_at(&mut descs, desc_offset).ok()?;
    let mut out = Vec::new();
    for d in descs.chunks_exact(desc_size) {
        let size = u16::from_le_bytes([d[6], d[7]]);
        if size != 1 {
            continue;
        }
        let offset = u32_at(d, 8)? as u64;
        let name = String::from_utf8_lossy(&d[16..]).trim_end_matches('\0').to_string();
        let mut value = [0u8; 8];
        file.read_exact_at(&mut value, data_offset + offset).ok()?;
        let value = u64::from_le_bytes(value);
        if value != 0 {
            out.push((name, value));
        }
    }
    Some(out)
}
