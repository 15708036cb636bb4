//! The guest kernel, embedded at build time (see build.rs): every image `uvm build` writes
//! carries this kernel.

/// The guest kernel's flat binary.
pub static GUEST_KERNEL: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/uvm-kernel.bin"));
