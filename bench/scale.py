#!/usr/bin/env python3
"""Many VMs at once: starts COUNT `uvm run IMAGE [-- ARGS]` together, checks that every one
succeeds with the same output, and reports the total wall time, the peak extra memory of the
machine while they ran (MemTotal - MemAvailable, sampled every millisecond, minus the level
before), and each uvm process's peak RSS (from wait4).

With a guest that sleeps (e.g. bench/scale.py IMAGE --count 20 -- sleep 1500 on the
sleep_spin test app) all VMs are alive together, and the extra memory per VM is what one more
VM of the same image costs: shared page-cache pages of the image count once. The machine's
figure is noisy (other processes, the page cache); --pss-after MS reads every uvm process's
/proc/PID/smaps_rollup that long after the start instead, exactly: Pss (shared pages divided
among the processes that map them) and Private_Dirty (what only that VM holds) per VM.

Usage: bench/scale.py [--count N] [--uvm PATH] [--pss-after MS] IMAGE [-- ARGS...]
"""
import argparse
import os
import statistics
import subprocess
import sys
import threading
import time


def used_kib():
    info = {}
    with open("/proc/meminfo") as f:
        for line in f:
            key, value = line.split(":", 1)
            info[key] = int(value.split()[0])
    return info["MemTotal"] - info["MemAvailable"]


def smaps_rollup(pid):
    """Pss and Private_Dirty (KiB) of process `pid`, or None if it is gone."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            fields = dict(line.split(":", 1) for line in f if ":" in line and not line[0].isdigit())
        return {key: int(fields[key].split()[0]) for key in ("Pss", "Private_Dirty")}
    except (OSError, KeyError, ValueError):
        return None


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("image")
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--uvm", default=os.path.join(os.path.dirname(__file__), "..", "target", "x86_64-unknown-linux-gnu", "release", "uvm"))
    parser.add_argument("--pss-after", type=int, metavar="MS", help="read each process's Pss this long after the start")
    parser.add_argument("args", nargs="*")
    args = parser.parse_args()

    baseline = used_kib()
    peak = [baseline]
    done = threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], used_kib())
            time.sleep(0.001)

    sampler = threading.Thread(target=sample)
    sampler.start()
    argv = [args.uvm, "run", args.image] + (["--"] + args.args if args.args else [])
    start = time.perf_counter()
    procs = [subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(args.count)]
    rollups = []
    if args.pss_after:
        timer = threading.Timer(args.pss_after / 1000, lambda: rollups.extend(smaps_rollup(p.pid) for p in procs))
        timer.start()
    results = []
    for p in procs:
        out, err = p.communicate()
        results.append((p.returncode, out, err))
    wall = time.perf_counter() - start
    done.set()
    sampler.join()

    codes = {r[0] for r in results}
    outputs = {r[1] for r in results}
    failures = [r for r in results if r[0] != results[0][0] or r[1] != results[0][1]]
    print(f"{args.count} x `{' '.join(argv[1:])}` started together")
    print(f"all finished in {wall * 1000:.0f} ms wall time; exit codes {sorted(codes)}; {len(outputs)} distinct stdout")
    print(f"peak extra memory of the machine: {(peak[0] - baseline) / 1024:.1f} MiB "
          f"({(peak[0] - baseline) / args.count:.0f} KiB per VM)")
    if args.pss_after:
        timer.join()
        alive = [r for r in rollups if r]
        if len(alive) < args.count:
            print(f"only {len(alive)} of {args.count} processes were alive after {args.pss_after} ms")
        if alive:
            def per_vm(key):
                return sum(r[key] for r in alive) / len(alive)
            print(f"after {args.pss_after} ms, per VM ({len(alive)} alive): Pss {per_vm('Pss'):.0f} KiB, "
                  f"Private_Dirty {per_vm('Private_Dirty'):.0f} KiB")
    if failures:
        print(f"{len(failures)} runs differ from the first; first stderr: {failures[0][2][:300]!r}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
