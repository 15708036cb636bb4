//! Reporting the kernel's own bugs: a Rust panic or a CPU exception inside the kernel ends the
//! VM with a message (the VMM prints it and exits 125). Nothing here allocates.

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

/// Ends the VM after a Rust panic in the kernel.
#[cfg(not(test))]
pub fn report(info: &core::panic::PanicInfo<'_>) -> ! {
    let mut m = MessageBuffer::new();
    let _ = write!(m, "{info}");
    crate::hypercall::panic(m.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffer_truncates_instead_of_overflowing() {
        let mut m = MessageBuffer::new();
        for _ in 0..100 {
            let _ = write!(m, "0123456789");
        }
        assert_eq!(m.as_bytes().len(), 512);
    }
}
