//! `uvm`: build an app into a micro-VM image, run it on KVM, inspect an image.
//!
//! Exit status of `uvm run`: the app's own; 128 + signal when the app was killed (137 when it
//! ran out of memory; a SIGPIPE death, 141, is the one not reported on stderr, as in a shell
//! pipeline); 125 when uvm itself failed (bad input, KVM, a guest kernel bug).
//!
//! `main` is the C entry point (`#![no_main]`): the Rust runtime's start-up is skipped, as it
//! costs ~0.1 ms of every start on a virtualised host (it parses /proc/self/maps for a
//! main-thread guard page and gives each thread an alternate signal stack).
//! `uvm_vmm::process::start` does what of it uvm needs. The arguments are `main`'s own
//! `argv`, never `std::env::args_os` (clippy.toml forbids it): linked with musl's C library
//! (`scripts/build-uvm.sh`), the standard library's copy of them is never filled in. The
//! plain `uvm run` is read without clap (`cli::Cli::from_args`).
//!
//! Memory comes from `uvm_alloc`, which keeps what is freed for reuse instead of handing it
//! back to the kernel while the start's threads run on both CPUs.
#![cfg_attr(not(test), no_main)]
#![deny(unsafe_code)]

mod build;
mod cli;
mod guest_etc;
mod hostname;
mod hot_pages;
mod inspect;
mod network;
mod program;
mod run;
#[cfg(test)]
mod test_image;
mod user;
mod volumes;

/// Exit status for failures of uvm itself (as docker and crun use it).
pub const EXIT_UVM_FAILURE: i32 = 125;

/// The process's allocator (see the crate's docs).
#[global_allocator]
static ALLOCATOR: uvm_alloc::Allocator = uvm_alloc::Allocator::new();

/// The process entry point, called by the C runtime. (The unit tests bring their own.)
// The one exception to `deny(unsafe_code)`: an unmangled `main` is what the C runtime calls,
// and its `argv` is read here.
#[cfg(not(test))]
#[allow(unsafe_code)]
#[no_mangle]
extern "C" fn main(argc: std::ffi::c_int, argv: *const *const std::ffi::c_char) -> std::ffi::c_int {
    uvm_vmm::process::start();
    let count = usize::try_from(argc).unwrap_or(0);
    let args = (0..count)
        .map(|i| {
            use std::os::unix::ffi::OsStrExt;
            // SAFETY: the C runtime passes `argc` pointers to NUL-terminated strings in `argv`,
            // which live as long as the process.
            let arg = unsafe { std::ffi::CStr::from_ptr(*argv.add(i)) };
            std::ffi::OsStr::from_bytes(arg.to_bytes()).to_os_string()
        })
        .collect();
    run_command_line(args)
}

/// Parses the command line (`args`, the program's name first), runs the command and exits
/// with its status.
#[cfg_attr(test, allow(dead_code))]
fn run_command_line(args: Vec<std::ffi::OsString>) -> ! {
    let cli = cli::Cli::from_args(args);
    let result = match cli.command {
        cli::Command::Build(args) => build::command(&args).map(|()| 0),
        cli::Command::Run(args) => match run::command(&args) {
            Ok((status, vm)) => run::exit_process(status, vm),
            Err(e) => Err(e),
        },
        cli::Command::Inspect(args) => inspect::command(&args).map(|()| 0),
    };
    match result {
        Ok(status) => std::process::exit(status),
        Err(error) => {
            eprintln!("uvm: error: {error:#}");
            std::process::exit(EXIT_UVM_FAILURE);
        }
    }
}
