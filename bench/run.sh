#!/usr/bin/env bash
# Reproduces the cold-start figures of docs/PERFORMANCE.md: builds uvm (release), a static
# glibc and a static musl hello (bench/hello.c), a Go hello and a Go service's start
# (bench/hello.go, bench/service.go; when `go` is installed: apt-get install golang-go), their
# images and the KVM floor program (bench/kvm_floor.c), and runs bench/coldstart.py on each:
# back to back, then each start from an idle machine. Then, with busybox-static installed, an
# entrypoint-like shell script of six commands (forks, execs, a pipe, files in /dev/shm).
# Usage: bench/run.sh [RUNS]   (default 200)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-200}
out=target/bench
mkdir -p "$out"
UVM=$(scripts/build-uvm.sh)
gcc -static -O2 -o "$out/hello-glibc" bench/hello.c
musl-gcc -static -O2 -o "$out/hello-musl" bench/hello.c
# The floor with musl, as uvm is linked where musl-gcc is installed: glibc's static start-up
# alone (~60 `cpuid`s, each a trap on a virtualised host) would add ~0.3 ms to it here.
# (The kernel's headers, <linux/kvm.h>, come from the system's include directories, after musl's.)
musl-gcc -static -O2 -idirafter /usr/include -idirafter /usr/include/x86_64-linux-gnu -o "$out/kvm_floor" bench/kvm_floor.c
hellos="glibc musl"
if command -v go >/dev/null; then
    CGO_ENABLED=0 GO111MODULE=off GOCACHE="$PWD/$out/go-cache" go build -trimpath -o "$out/hello-go" bench/hello.go
    CGO_ENABLED=0 GO111MODULE=off GOCACHE="$PWD/$out/go-cache" go build -trimpath -o "$out/hello-go-service" bench/service.go
    hellos="$hellos go go-service"
else
    echo "bench/run.sh: \`go\` is missing, so no Go hello (apt-get install golang-go)" >&2
fi
for app in $hellos; do
    printf '[app]\nname = "hello-%s"\nbinary = "hello-%s"\n' "$app" "$app" > "$out/hello-$app.toml"
    "$UVM" build "$out/hello-$app.toml" >/dev/null
    # An image is built once and started many times: the start after the image has settled
    # for a second writes its verified stamp, and the measured starts skip the hash (see
    # docs/image-format.md, "Verified stamps").
    sleep 1.1
    "$UVM" run "$out/hello-$app.uvm" >/dev/null
    label="static $app hello"
    [ "$app" = go-service ] && label="static Go service start"
    echo "== $label"
    python3 bench/coldstart.py --uvm "$UVM" --runs "$runs" --floor "$out/kvm_floor" "$out/hello-$app" "$out/hello-$app.uvm"
    echo
    echo "== $label, each start from an idle machine"
    python3 bench/coldstart.py --uvm "$UVM" --runs "$runs" --floor "$out/kvm_floor" --gap 20 --shuffle \
        "$out/hello-$app" "$out/hello-$app.uvm"
    echo
done
# An entrypoint-like script: what many containers start with before their service.
printf '[app]\nname = "busybox"\nbinary = "busybox"\n' > "$out/busybox.toml"
if [ -x /bin/busybox ] && cp /bin/busybox "$out/busybox" && "$UVM" build "$out/busybox.toml" >/dev/null; then
    sleep 1.1
    "$UVM" run "$out/busybox.uvm" -- true
    script='set -e; mkdir -p /dev/shm/app/data; [ -d /dev/shm/app ] && echo ready > /dev/shm/app/state; cat /dev/shm/app/state > /dev/null; ls / | wc -l > /dev/null; grep -q ready /dev/shm/app/state; exec true'
    echo "== a busybox entrypoint script: sh -c '$script'"
    python3 bench/coldstart.py --uvm "$UVM" --runs "$runs" "$out/busybox" "$out/busybox.uvm" sh -c "$script"
    echo
else
    echo "bench/run.sh: no static /bin/busybox to run, so no entrypoint script (apt-get install busybox-static)" >&2
fi
