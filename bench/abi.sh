#!/usr/bin/env bash
# Reproduces the Linux-ABI figures of docs/PERFORMANCE.md: the same static binary
# (bench/micro.c) natively and inside uvm, alternating, 5 rounds each; medians printed.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
out=target/bench
mkdir -p "$out"
cargo build --release --quiet
gcc -static -O2 -o "$out/micro" bench/micro.c
[ -f "$out/big.bin" ] || head -c $((100 << 20)) /dev/urandom > "$out/big.bin"
cat > "$out/micro.toml" <<TOML
[app]
name = "micro"
binary = "micro"
[[files]]
src = "big.bin"
dst = "/data/big.bin"
[vm]
memory_mib = 64
TOML
target/release/uvm build "$out/micro.toml" >/dev/null
cat "$out/big.bin" > /dev/null # page cache warm for the native read
run() { "$@" | sed 's/.*: //; s/ .*//'; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
for test in "clock 10000000" "syscall 200000" "read"; do
    set -- $test
    n=$(for _ in $(seq "$rounds"); do
        if [ "$1" = read ]; then run "$out/micro" read "$out/big.bin"; else run "$out/micro" "$@"; fi
    done | median)
    v=$(for _ in $(seq "$rounds"); do
        if [ "$1" = read ]; then run target/release/uvm run "$out/micro.uvm" -- read /data/big.bin; else run target/release/uvm run "$out/micro.uvm" -- "$@"; fi
    done | median)
    unit=$([ "$1" = read ] && echo "MB/s" || echo "ns/call")
    echo "$1: native $n $unit, uvm $v $unit"
done
