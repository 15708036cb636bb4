#!/usr/bin/env bash
# Reproduces the thread figures of docs/PERFORMANCE.md: a CPU-bound job on 1 and 2 threads,
# a futex ping-pong between two threads, 100k goroutines, natively and in uvm with 2 vCPUs
# running at once, interleaved; then the cold start of a Go hello against native exec.
# Usage: bench/threads.sh [RUNS]   (default 10; the cold start uses 20x as many)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-10}
out=target/bench
mkdir -p "$out"
UVM=$(scripts/build-uvm.sh)
gcc -static -O2 -pthread -o "$out/threads" bench/threads.c
(cd bench && CGO_ENABLED=0 go build -o "../$out/goroutines" goroutines.go)
for app in threads goroutines; do
    printf '[app]\nname = "%s"\nbinary = "%s"\n[vm]\nmemory_mib = 256\n' "$app" "$app" > "$out/$app.toml"
    "$UVM" build "$out/$app.toml" >/dev/null
done
echo "host: $(uname -r), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) CPUs"
python3 bench/threads.py --uvm "$UVM" --runs "$runs" \
    "cpu, 1 thread=$out/threads=$out/threads.uvm=cpu,1" \
    "cpu, 2 threads=$out/threads=$out/threads.uvm=cpu,2" \
    "futex ping-pong, 20k trips=$out/threads=$out/threads.uvm=pingpong,20000" \
    "100k goroutines=$out/goroutines=$out/goroutines.uvm=spawn,100000"
echo
echo "== Go hello, cold start"
python3 bench/coldstart.py --uvm "$UVM" --runs "$((runs * 20))" "$out/goroutines" "$out/goroutines.uvm"
