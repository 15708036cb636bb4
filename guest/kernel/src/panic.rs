//! Reporting the kernel's own bugs: a Rust panic or a CPU exception inside the kernel ends the
//! VM with a message (the VMM prints it and exits 125). Nothing here allocates.
//!
//! One panic is not a bug: the kernel heap finding no memory for an allocation that cannot
//! fail (Rust's `handle_alloc_error`), when the app has filled the VM's RAM with what the
//! kernel keeps for it. That ends the app as Linux's OOM killer would: the VMM reports the VM
//! out of memory and exits 137. (Unlike the OOM kill of a page fault, volume files' shared
//! mappings are not written back first: the allocation failed in the middle of a kernel
//! operation, whose locks may be held, so no more kernel code runs.) Where the app can grow
//! kernel memory without bound, the kernel refuses before that point instead, as Linux does
//! (tmpfs's `ENOSPC`, sigqueue's `EAGAIN`); this is the net under what is left.

use core::fmt::{self, Write};

/// A fixed buffer to format a message into, without the heap.
pub struct MessageBuffer {
    bytes: [u8; 512],
    len: usize,
}

impl MessageBuffer {
    /// An empty buffer.
    pub const fn new() -> MessageBuffer {
        MessageBuffer { bytes: [0; 512], len: 0 }
    }

    /// The text so far.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

impl Default for MessageBuffer {
    fn default() -> Self {
        MessageBuffer::new()
    }
}

impl Write for MessageBuffer {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let n = s.len().min(self.bytes.len() - self.len);
        self.bytes[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        Ok(())
    }
}

/// Ends the VM after an exception inside the kernel.
#[cfg(not(test))]
pub fn kernel_fault(vector: u64, error: u64, cr2: u64, rip: u64, rsp: u64) -> ! {
    let mut m = MessageBuffer::new();
    let _ = write!(
        m,
        "exception {vector} (error {error:#x}) in the guest kernel at rip {rip:#x}, rsp {rsp:#x}, address {cr2:#x}"
    );
    crate::hypercall::panic(m.as_bytes())
}

/// Ends the VM after a Rust panic in the kernel (the app's OOM kill, if the heap ran out).
#[cfg(not(test))]
pub fn report(info: &core::panic::PanicInfo<'_>) -> ! {
    let mut m = MessageBuffer::new();
    let _ = write!(m, "{}", info.message());
    if is_allocation_failure(m.as_bytes()) {
        crate::hypercall::fatal(uvm_abi::hypercall::Fatal {
            reason: uvm_abi::hypercall::FatalReason::OutOfMemory as u32,
            signal: crate::signal::Signal::SIGKILL as u32,
            vector: u32::MAX,
            ..Default::default()
        });
    }
    let mut m = MessageBuffer::new();
    let _ = write!(m, "{info}");
    crate::hypercall::panic(m.as_bytes())
}

/// Whether a panic's message is the one Rust's default allocation-error handler panics with
/// (`memory allocation of N bytes failed`): the heap found no memory.
fn is_allocation_failure(message: &[u8]) -> bool {
    message.starts_with(b"memory allocation of ") && message.ends_with(b" bytes failed")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_allocation_error_handlers_panic_is_an_out_of_memory_kill() {
        let mut m = MessageBuffer::new();
        let _ = write!(m, "memory allocation of {} bytes failed", 8 << 20);
        assert!(is_allocation_failure(m.as_bytes()));
        assert!(!is_allocation_failure(b"index out of bounds: the len is 3 but the index is 3"));
        assert!(!is_allocation_failure(b"memory allocation of 8 bytes failed twice"));
    }

    #[test]
    fn buffer_truncates_instead_of_overflowing() {
        let mut m = MessageBuffer::new();
        for _ in 0..100 {
            let _ = write!(m, "0123456789");
        }
        assert_eq!(m.as_bytes().len(), 512);
    }
}
