#!/usr/bin/env bash
# Reproduces the Linux-ABI figures of docs/PERFORMANCE.md: the same static binary
# (bench/micro.c; built with glibc, and with musl for its stdio) natively and inside uvm, 5
# rounds of each per test (native first); medians printed.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
out=target/bench
mkdir -p "$out"
UVM=$(scripts/build-uvm.sh)
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
"$UVM" build "$out/micro.toml" >/dev/null
cat "$out/big.bin" > /dev/null # page cache warm for the native read
mkdir -p "$out/volume"
run() { "$@" | sed 's/.*: //; s/ .*//'; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
for test in "clock 10000000" "syscall 200000" "cpuid 2000" "log 100000" "touch 4096" "refault 1024" "shm 1024" "read" "tmpfs 32" "volume 32" "stat 2000" "exec 300" "fork 300" "spawn 300"; do
    set -- $test
    n=$(for _ in $(seq "$rounds"); do
        if [ "$1" = read ]; then run "$out/micro" read "$out/big.bin"
        elif [ "$1" = volume ] || [ "$1" = stat ]; then run "$out/micro" "$@" "$out/volume"
        elif [ "$1" = log ]; then run "$out/micro" "$@" 2>/dev/null
        else run "$out/micro" "$@"; fi
    done | median)
    v=$(for _ in $(seq "$rounds"); do
        if [ "$1" = read ]; then run "$UVM" run "$out/micro.uvm" -- read /data/big.bin
        elif [ "$1" = volume ] || [ "$1" = stat ]; then run "$UVM" run "$out/micro.uvm" -v "$out/volume:/vol" -- "$@" /vol
        elif [ "$1" = log ]; then run "$UVM" run "$out/micro.uvm" -- "$@" 2>/dev/null
        else run "$UVM" run "$out/micro.uvm" -- "$@"; fi
    done | median)
    # tmpfs and volume print write/read MB/s: the median is the run with the median write figure.
    unit=$(case "$1" in read) echo "MB/s" ;; tmpfs | volume) echo "MB/s written/read" ;; touch | refault | shm) echo "ns/page" ;; *) echo "ns/call" ;; esac)
    echo "$1: native $n $unit, uvm $v $unit"
done
# musl's stdio: a line per write, from a `syscall` whose number is in a register (%r12).
musl-gcc -static -O2 -o "$out/micro-musl" bench/micro.c
printf '[app]\nname = "micro-musl"\nbinary = "micro-musl"\n' > "$out/micro-musl.toml"
"$UVM" build "$out/micro-musl.toml" >/dev/null
for libc in glibc musl; do
    bin=micro image=micro.uvm
    [ "$libc" = musl ] && bin=micro-musl image=micro-musl.uvm
    n=$(for _ in $(seq "$rounds"); do run "$out/$bin" lines 200000 /dev/shm/micro-lines; done | median)
    v=$(for _ in $(seq "$rounds"); do run "$UVM" run "$out/$image" -- lines 200000 /tmp/micro-lines; done | median)
    echo "stdio lines ($libc): native $n ns/line, uvm $v ns/line"
done
# The floor for a syscall served in the guest on this host: the bare `syscall` trap round trip
# (stub = return only), measured by the design probe, when it is beside the repository.
probe=../shared/probes/pvm_probe.c
if [ -f "$probe" ]; then
    gcc -O2 -pthread -o "$out/pvm_probe" "$probe"
    floor=$("$out/pvm_probe" 3 1 2>/dev/null | grep "(n0) NO exit" | tail -1 | sed 's/.*median *//; s/ us.*//')
    echo "bare syscall trap round trip (design probe, same run): $floor us"
fi
