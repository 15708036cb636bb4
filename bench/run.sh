#!/usr/bin/env bash
# Reproduces the cold-start figures of docs/PERFORMANCE.md: builds uvm (release), a static
# glibc and a static musl hello, their images and the KVM floor program (bench/kvm_floor.c),
# and runs bench/coldstart.py on each hello: back to back, then each start from an idle machine.
# Usage: bench/run.sh [RUNS]   (default 200)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-200}
out=target/bench
mkdir -p "$out"
UVM=$(scripts/build-uvm.sh)
gcc -static -O2 -o "$out/hello-glibc" bench/hello.c
musl-gcc -static -O2 -o "$out/hello-musl" bench/hello.c
gcc -static -O2 -o "$out/kvm_floor" bench/kvm_floor.c
for libc in glibc musl; do
    printf '[app]\nname = "hello-%s"\nbinary = "hello-%s"\n' "$libc" "$libc" > "$out/hello-$libc.toml"
    "$UVM" build "$out/hello-$libc.toml" >/dev/null
    # An image is built once and started many times: the start after the image has settled
    # for a second writes its verified stamp, and the measured starts skip the hash (see
    # docs/image-format.md, "Verified stamps").
    sleep 1.1
    "$UVM" run "$out/hello-$libc.uvm" >/dev/null
    echo "== static $libc hello"
    python3 bench/coldstart.py --uvm "$UVM" --runs "$runs" --floor "$out/kvm_floor" "$out/hello-$libc" "$out/hello-$libc.uvm"
    echo
    echo "== static $libc hello, each start from an idle machine"
    python3 bench/coldstart.py --uvm "$UVM" --runs "$runs" --floor "$out/kvm_floor" --gap 20 --shuffle \
        "$out/hello-$libc" "$out/hello-$libc.uvm"
    echo
done
