#!/usr/bin/env bash
# Runs every test: the host workspace (manifest, image, VMM and ABI unit tests, then the boot
# tests that start real VMs), the guest kernel's unit tests (run on the host), and the boot
# tests once more against the release `uvm` binary.
# Boot tests need /dev/kvm, gcc, musl-gcc (musl-tools), /bin/busybox (busybox-static), go
# (golang-go), libsqlite3.a (libsqlite3-dev), /bin/bash-static (bash-static) and the container
# inits /usr/bin/tini-static (tini) and /usr/bin/catatonit (catatonit); under CI=true a missing
# one fails the run instead of skipping.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --workspace
cargo test --manifest-path guest/Cargo.toml
# The boot tests again, against the release binary users run (scripts/build-uvm.sh: linked
# with musl's C library when musl-gcc is installed, which the tests above do not exercise).
release_uvm=$(scripts/build-uvm.sh)
UVM_TEST_BIN=$release_uvm cargo test --release -p uvm-cli --tests
# The profiling build of scripts/kernel-hot-text.py keeps compiling.
cargo check --quiet -p uvm-cli --features uvm-vmm/kernel-text-profile
