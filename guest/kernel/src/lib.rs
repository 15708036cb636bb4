//! The uvm guest kernel: it runs one unmodified static Linux x86-64 app inside the micro-VM
//! and serves its system calls itself, leaving the VM only through hypercalls.
//!
//! Its logic (file systems, the fd table, allocators, ELF loading, stack building, syscall
//! dispatch) is portable Rust that also compiles for the host, where `cargo test` runs it.
//! The machine-specific parts (entry points, hypercalls, raw memory) live in `arch/`,
//! `hypercall.rs`, `user.rs` and `mm/heap.rs`, the only modules with `unsafe`.
#![cfg_attr(not(test), no_std)]

extern crate alloc;

pub mod arch;
pub mod boot;
pub mod bootinfo;
pub mod caps;
pub mod consolering;
pub mod cputime;
pub mod creds;
pub mod elf;
pub mod errno;
pub mod family;
pub mod fault;
pub mod fs;
pub mod hostio;
pub mod hypercall;
pub mod job;
pub mod mm;
pub mod netarea;
pub mod netif;
pub mod netring;
pub mod panic;
pub mod process;
pub mod program;
pub mod random;
pub mod rtnetlink;
pub mod signal;
pub mod sort;
pub mod stack;
pub mod sync;
pub mod syscall;
pub mod thread;
pub mod time;
pub mod user;
pub mod vdso;
pub mod wait;
pub mod wake;
