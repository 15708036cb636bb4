//! Raw access to the app's memory. The kernel shares the app's address space, so app memory
//! is reached by its own virtual addresses; the callers in `mm::space` check every range
//! against the app's mappings (and make lazily-backed pages present) before coming here, so
//! a bad pointer from the app is an EFAULT there and never a fault in the kernel.

/// A view of `len` bytes of app memory at `addr`.
///
/// # Safety
/// `[addr, addr + len)` must be mapped readable in the current address space and stay mapped
/// while the slice lives (the address space checked it and no other vCPU changes it meanwhile).
pub unsafe fn app_slice<'a>(addr: u64, len: usize) -> &'a [u8] {
    if len == 0 {
        return &[];
    }
    // SAFETY: guaranteed by the caller (see above).
    unsafe { core::slice::from_raw_parts(addr as *const u8, len) }
}

/// A mutable view of `len` bytes of app memory at `addr`.
///
/// # Safety
/// As [`app_slice`], and the range must be mapped writable.
pub unsafe fn app_slice_mut<'a>(addr: u64, len: usize) -> &'a mut [u8] {
    if len == 0 {
        return &mut [];
    }
    // SAFETY: guaranteed by the caller (see above).
    unsafe { core::slice::from_raw_parts_mut(addr as *mut u8, len) }
}

use alloc::vec::Vec;

use crate::errno::Errno;
use crate::mm::space::{Access, AddressSpace};

/// The app's bytes at `[addr, addr + len)`, checked readable. EFAULT otherwise.
pub fn read<'a>(space: &mut AddressSpace, addr: u64, len: u64) -> Result<&'a [u8], Errno> {
    space.check_user(addr, len, Access::Read)?;
    let len = usize::try_from(len).map_err(|_| Errno::EFAULT)?;
    // SAFETY: check_user proved the range mapped and readable; syscalls of one process are
    // serialised, so nothing unmaps it while the syscall uses the slice.
    Ok(unsafe { app_slice(addr, len) })
}

/// The app's bytes at `[addr, addr + len)`, checked writable. EFAULT otherwise.
pub fn write<'a>(space: &mut AddressSpace, addr: u64, len: u64) -> Result<&'a mut [u8], Errno> {
    space.check_user(addr, len, Access::Write)?;
    let len = usize::try_from(len).map_err(|_| Errno::EFAULT)?;
    // SAFETY: as in `read`, and check_user proved the range writable.
    Ok(unsafe { app_slice_mut(addr, len) })
}

/// Copies `bytes` to the app at `addr`.
pub fn copy_out(space: &mut AddressSpace, addr: u64, bytes: &[u8]) -> Result<(), Errno> {
    write(space, addr, bytes.len() as u64)?.copy_from_slice(bytes);
    Ok(())
}

/// Reads a little-endian `u32` from the app.
pub fn read_u32(space: &mut AddressSpace, addr: u64) -> Result<u32, Errno> {
    let b = read(space, addr, 4)?;
    Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

/// Reads a little-endian u64 from the app.
pub fn read_u64(space: &mut AddressSpace, addr: u64) -> Result<u64, Errno> {
    let b = read(space, addr, 8)?;
    let mut w = [0u8; 8];
    w.copy_from_slice(b);
    Ok(u64::from_le_bytes(w))
}

/// Writes a little-endian u64 to the app.
pub fn write_u64(space: &mut AddressSpace, addr: u64, value: u64) -> Result<(), Errno> {
    copy_out(space, addr, &value.to_le_bytes())
}

/// Writes a little-endian u32 to the app.
pub fn write_u32(space: &mut AddressSpace, addr: u64, value: u32) -> Result<(), Errno> {
    copy_out(space, addr, &value.to_le_bytes())
}

/// Reads a NUL-terminated string of at most `max` bytes (without the NUL) from the app.
/// EFAULT if unreadable, ENAMETOOLONG if longer.
pub fn read_cstr(space: &mut AddressSpace, addr: u64, max: usize) -> Result<Vec<u8>, Errno> {
    let mut out = Vec::new();
    let mut at = addr;
    loop {
        let page_left = uvm_abi::layout::PAGE_SIZE - (at % uvm_abi::layout::PAGE_SIZE);
        let chunk = read(space, at, page_left)?;
        if let Some(nul) = chunk.iter().position(|&b| b == 0) {
            out.extend_from_slice(&chunk[..nul]);
            return if out.len() > max { Err(Errno::ENAMETOOLONG) } else { Ok(out) };
        }
        out.extend_from_slice(chunk);
        if out.len() > max {
            return Err(Errno::ENAMETOOLONG);
        }
        at += page_left;
    }
}
