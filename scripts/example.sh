#!/usr/bin/env bash
# Sets up uvm on a fresh machine and runs the example app: builds the `uvm` binary (with its
# guest kernel), compiles examples/hello/hello.c statically, packages it into
# manifests/hello.uvm and boots it.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -r /dev/kvm ] || [ ! -w /dev/kvm ]; then
    echo "uvm needs read/write access to /dev/kvm (KVM); it is missing or not accessible here." >&2
    exit 1
fi
command -v gcc >/dev/null || { echo "gcc is needed to compile the example app (apt-get install gcc)" >&2; exit 1; }

UVM=$(scripts/build-uvm.sh)
gcc -static -O2 -o examples/hello/hello examples/hello/hello.c
"$UVM" build manifests/hello.toml
echo "--- uvm run manifests/hello.uvm -- extra args"
"$UVM" run manifests/hello.uvm -- extra args
echo "--- exit status: $?"
