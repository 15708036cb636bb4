//! Links the kernel binary as a freestanding static executable at KERNEL_BASE (see link.ld).
//! Only the `uvm-kernel` binary gets these flags; the library's host unit tests link normally.
fn main() {
    let dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    println!("cargo:rerun-if-changed=link.ld");
    for arg in ["-nostartfiles", "-nodefaultlibs", "-static", "-no-pie", "-Wl,--build-id=none", "-Wl,--gc-sections"] {
        println!("cargo:rustc-link-arg-bins={arg}");
    }
    println!("cargo:rerun-if-changed=hot-text.ld");
    // link.ld INCLUDEs hot-text.ld, found through the library path.
    println!("cargo:rustc-link-arg-bins=-Wl,-L,{dir}");
    // scripts/kernel-hot-text.py links probe layouts with a script of its own.
    println!("cargo:rerun-if-env-changed=UVM_KERNEL_LINK_SCRIPT");
    let script = std::env::var("UVM_KERNEL_LINK_SCRIPT").unwrap_or_else(|_| format!("{dir}/link.ld"));
    println!("cargo:rerun-if-changed={script}");
    println!("cargo:rustc-link-arg-bins=-Wl,-T,{script}");
}
