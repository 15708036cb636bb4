//! Memory management: physical frames, the page tables, the app's address space (mappings,
//! brk, demand paging) and the kernel heap.
//!
//! The shadow-paging rules of PVM hosts shape all of it (docs/DESIGN.md): the kernel fills in
//! not-present entries freely, but after changing or removing a present entry it must ask
//! the VMM to resync (a flush hypercall) before the app runs again and before a freed frame is
//! reused; page-table pages are never freed.

pub mod frames;
pub mod heap;
pub mod hot;
pub mod paging;
pub mod space;
pub mod vmas;

use crate::sync::SpinLock;
use frames::FrameAllocator;

/// The frame allocator of the whole VM (set up at boot). Its lock is only ever held for one
/// allocation or release, never while allocating heap memory.
pub static FRAMES: SpinLock<FrameAllocator> = SpinLock::new(FrameAllocator::new(0, 0));
