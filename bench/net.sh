#!/usr/bin/env bash
# Network figures: the Go hello server (tests/apps/go/net_http.go) under wrk (requests/s, p50
# and p99 latency, 50 keep-alive connections) and the connection set-up rate (bench/connrate.c),
# natively and under `uvm run -p`, the same binary, interleaved; exits and net calls per request
# from `uvm run --timings`. Prints a markdown table; then another for the same server logging a
# line per request to stderr.
# Usage: bench/net.sh [ROUNDS] [SECONDS]   (default 5 rounds of 10 s)
# Needs wrk (apt-get install wrk) and go (apt-get install golang-go).
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
secs=${2:-10}
for tool in wrk go gcc python3; do
    if ! command -v "$tool" >/dev/null; then
        pkg=$tool
        [ "$tool" = go ] && pkg=golang-go
        echo "bench/net.sh: \`$tool\` is missing; install it with: apt-get install $pkg" >&2
        exit 1
    fi
done
out=target/bench
mkdir -p "$out"
UVM=$(scripts/build-uvm.sh)
CGO_ENABLED=0 GO111MODULE=off GOCACHE="$PWD/$out/go-cache" go build -trimpath -o "$out/net_http" tests/apps/go/net_http.go
gcc -O2 -pthread -o "$out/connrate" bench/connrate.c
printf '[app]\nname = "net-http"\nbinary = "net_http"\nargs = ["80"]\n[vm]\nmemory_mib = 256\n' > "$out/net_http.toml"
"$UVM" build "$out/net_http.toml" >/dev/null
echo "host: $(uname -r), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) CPUs"
python3 bench/net.py --uvm "$UVM" --binary "$out/net_http" --image "$out/net-http.uvm" \
    --connrate "$out/connrate" --rounds "$rounds" --duration "$secs"
echo
# The same server logging a line per request to stderr (through the console ring in uvm).
python3 bench/net.py --uvm "$UVM" --binary "$out/net_http" --image "$out/net-http.uvm" \
    --connrate "$out/connrate" --rounds "$rounds" --duration "$secs" --log-requests \
    --title "Go net/http hello, logging each request to stderr"
