#!/usr/bin/env bash
# Network figures of a single-threaded C epoll HTTP server (bench/epoll_http.c) natively and
# under `uvm run -p --cpus 1`, as bench/net.sh measures the Go server: with no language runtime
# in the way, requests/s and exits per request show the VM's own cost per request. It is built
# twice, static with glibc and with musl: their syscall wrappers differ, and so does which of
# their syscall sites the guest kernel can rewrite to skip PVM's trap.
# Usage: bench/net_c.sh [ROUNDS] [SECONDS]   (default 5 rounds of 10 s)
# Needs wrk (apt-get install wrk).
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
secs=${2:-10}
if ! command -v wrk >/dev/null; then
    echo "bench/net_c.sh: \`wrk\` is missing; install it with: apt-get install wrk" >&2
    exit 1
fi
out=target/bench
mkdir -p "$out"
UVM=$(scripts/build-uvm.sh)
gcc -O2 -static -o "$out/epoll_http" bench/epoll_http.c
musl-gcc -O2 -static -o "$out/epoll_http_musl" bench/epoll_http.c
gcc -O2 -pthread -o "$out/connrate" bench/connrate.c
echo "host: $(uname -r), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) CPUs"
for variant in epoll_http:glibc epoll_http_musl:musl; do
    binary=${variant%%:*}
    libc=${variant##*:}
    name=${binary//_/-}
    printf '[app]\nname = "%s"\nbinary = "%s"\nargs = ["80"]\n[vm]\nmemory_mib = 64\n' "$name" "$binary" > "$out/$binary.toml"
    "$UVM" build "$out/$binary.toml" >/dev/null
    python3 bench/net.py --uvm "$UVM" --binary "$out/$binary" --image "$out/$name.uvm" \
        --connrate "$out/connrate" --rounds "$rounds" --duration "$secs" --cpus 1 \
        --title "C epoll HTTP server (bench/epoll_http.c, one thread, static $libc)"
done
