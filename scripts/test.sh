#!/usr/bin/env bash
# Runs every test: the host workspace (manifest, image, VMM and ABI unit tests, then the boot
# tests that start real VMs) and the guest kernel's unit tests (run on the host).
# Boot tests need /dev/kvm, gcc, musl-gcc (musl-tools), /bin/busybox (busybox-static), go
# (golang-go), libsqlite3.a (libsqlite3-dev), /bin/bash-static (bash-static) and the container
# inits /usr/bin/tini-static (tini) and /usr/bin/catatonit (catatonit); under CI=true a missing
# one fails the run instead of skipping.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --workspace
cargo test --manifest-path guest/Cargo.toml
# The profiling build of scripts/kernel-hot-text.py keeps compiling.
cargo check --quiet -p uvm-cli --features uvm-vmm/kernel-text-profile
