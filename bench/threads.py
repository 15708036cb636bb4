#!/usr/bin/env python3
"""Runs the thread benchmarks natively and in uvm, interleaved, and prints medians and ratios.

Each benchmark program prints the wall time of its measured part in microseconds (so the
VM's start-up is not counted); bench/threads.sh builds everything and calls this.
"""
import argparse
import statistics
import subprocess
import sys


def measure(cmd):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return int(out.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--uvm", required=True)
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--cpus", type=int, default=2)
    ap.add_argument("cases", nargs="+", help="NAME=BINARY=IMAGE=ARG[,ARG...]")
    args = ap.parse_args()
    print(f"{'benchmark':<28} {'native us':>11} {'uvm us':>11} {'uvm/native':>11}   (medians of {args.runs})")
    results = {}
    for case in args.cases:
        name, binary, image, argv = case.split("=", 3)
        argv = argv.split(",")
        native, vm = [], []
        for _ in range(args.runs):
            native.append(measure([binary, *argv]))
            vm.append(measure([args.uvm, "run", "--cpus", str(args.cpus), image, "--", *argv]))
        n, v = statistics.median(native), statistics.median(vm)
        results[name] = (n, v)
        print(f"{name:<28} {n:>11.0f} {v:>11.0f} {v / n:>11.2f}")
    if "cpu, 1 thread" in results and "cpu, 2 threads" in results:
        n1, v1 = results["cpu, 1 thread"]
        n2, v2 = results["cpu, 2 threads"]
        print(f"speed-up of 2 threads: native {n1 / n2:.2f}x, uvm {v1 / v2:.2f}x "
              f"(uvm's is {100 * (v1 / v2) / (n1 / n2):.0f}% of native's)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
