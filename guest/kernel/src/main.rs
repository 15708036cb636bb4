//! The freestanding guest-kernel binary: links the kernel library (whose entry points,
//! in `arch::entry`, the VMM finds through the kernel header) with a panic handler and the
//! kernel heap as the global allocator.
#![no_std]
#![no_main]

use uvm_kernel::mm::heap::KernelAllocator;

#[global_allocator]
static HEAP: KernelAllocator = KernelAllocator::new();

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    uvm_kernel::panic::report(info)
}
