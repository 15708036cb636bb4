//! The freestanding guest-kernel binary: links the kernel library (whose entry points,
//! in `arch::entry`, the VMM finds through the kernel header, and whose `mm::heap` is the
//! global allocator) with a panic handler.
#![no_std]
#![no_main]

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    uvm_kernel::panic::report(info)
}
