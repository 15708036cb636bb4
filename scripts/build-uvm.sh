#!/usr/bin/env bash
# Builds the release `uvm` binary and prints its path. It is linked statically (~0.3 ms faster
# to start than a dynamically linked one: no dynamic loader) and not position-independent
# (~0.1 ms faster again: a static-pie binary first applies ~3700 relocations to itself,
# touching every page of its relocated data). The price of the second: the `uvm` binary's own
# code and data sit at fixed addresses (its stack, heap and mappings are still randomised).
# The guest kernel is built by crates/uvm-embedded-kernel/build.rs with its own flags either way.
#
# With musl-gcc (musl-tools) installed, uvm is linked with musl's C library instead of glibc:
# glibc's static start-up probes the CPU and its caches with ~60 `cpuid`s before `main`, and on
# a host that is itself a VM (where PVM runs) each traps to the hypervisor below, ~5 us here:
# ~0.3 ms of every start (docs/PERFORMANCE.md, "The C library"). The Rust standard library is
# the host (glibc) target's either way, as this toolchain has no musl target: the two agree on
# the system interface it uses (the kernel's structures and calls); what differs is handled in
# the code (`main` reads its own argv; clippy.toml forbids std::env::args) and in
# scripts/musl-compat.c. UVM_LIBC=glibc keeps glibc.
set -euo pipefail
cd "$(dirname "$0")/.."
target=x86_64-unknown-linux-gnu
# The functions a start runs are linked first (scripts/uvm-text-order.txt, from
# scripts/uvm-text-order.py): 6 page faults on uvm's text per start instead of 26. A name the
# list has but the binary lacks (renamed since) is skipped, so the list may lag the code.
# Cargo does not watch the list: uvm is relinked when the list is newer than it.
order="$PWD/scripts/uvm-text-order.txt"
bin="$PWD/target/$target/release/uvm"
if [ -e "$bin" ] && [ "$order" -nt "$bin" ]; then
    touch crates/uvm-cli/src/main.rs
fi
flags=(-C target-feature=+crt-static -C relocation-model=static
    -C "link-arg=-Wl,--symbol-ordering-file=$order" -C link-arg=-Wl,--no-warn-symbol-ordering)
# rustc links through musl-gcc (musl's start files, headers' library and libc.a) with the
# toolchain's own lld (as it does by default), libgcc from gcc, and no program interpreter
# (musl-gcc's specs name one even for static links).
gcc_ld="$(rustc --print sysroot)/lib/rustlib/$target/bin/gcc-ld"
if [ "${UVM_LIBC:-musl}" = musl ] && command -v musl-gcc >/dev/null && [ -d "$gcc_ld" ]; then
    compat="$PWD/target/musl-compat.o"
    mkdir -p target
    if [ ! -e "$compat" ] || [ scripts/musl-compat.c -nt "$compat" ]; then
        musl-gcc -O2 -c scripts/musl-compat.c -o "$compat"
    fi
    # Cargo does not watch it either: relinked when it is newer than uvm.
    if [ -e "$bin" ] && [ "$compat" -nt "$bin" ]; then
        touch crates/uvm-cli/src/main.rs
    fi
    flags+=(-C linker=musl-gcc -C "link-arg=-B$gcc_ld" -C link-arg=-fuse-ld=lld
        -C "link-arg=-L$(dirname "$(gcc -print-libgcc-file-name)")" -C link-arg=-Wl,--no-dynamic-linker
        -C "link-arg=$compat")
fi
CARGO_ENCODED_RUSTFLAGS=$(IFS=$'\x1f'; echo "${flags[*]}") \
    cargo build --release --quiet --target "$target" -p uvm-cli
echo "$bin"
