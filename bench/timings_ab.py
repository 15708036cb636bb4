#!/usr/bin/env python3
"""A/B of `uvm run --timings` phases: runs one image under each `uvm` binary given, alternating
the order every round, and prints the medians of the guest's timeline (kernel entered, app
entered, exit: microseconds from the first KVM_RUN) and of the host-side total. What
`bench/ab.py` cannot show on this noisy host: a change that moves the guest's boot by 0.1 ms
shows here in 60-100 rounds. Compare two builds through copies of each binary (`cp`).

Usage: bench/timings_ab.py IMAGE ROUNDS UVM_A UVM_B [UVM...]
Example: bench/timings_ab.py target/bench/hello-go.uvm 100 /tmp/old-uvm /tmp/new-uvm
"""
import re
import statistics
import subprocess
import sys

TIMELINE = re.compile(r"kernel entered at ([\d.]+) us, app entered at ([\d.]+) us, exit at ([\d.]+)")
TOTAL = re.compile(r"\s+total\s+([\d.]+) us")


def main():
    if len(sys.argv) < 5:
        sys.exit(__doc__)
    image, rounds, binaries = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
    values = {b: {} for b in binaries}
    for i in range(rounds):
        for binary in binaries if i % 2 == 0 else binaries[::-1]:
            run = subprocess.run(
                [binary, "run", "--timings", image], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
            )
            if run.returncode != 0:
                sys.exit(f"{binary} run {image}: exit {run.returncode}\n{run.stderr}")
            for line in run.stderr.splitlines():
                if m := TIMELINE.search(line):
                    for key, value in zip(("kernel entered", "app entered", "exit"), m.groups()):
                        values[binary].setdefault(key, []).append(float(value))
                elif m := TOTAL.match(line):
                    values[binary].setdefault("total", []).append(float(m.group(1)))
    for key in values[binaries[0]]:
        medians = "  ".join(f"{statistics.median(values[b][key]):9.1f}" for b in binaries)
        print(f"{key:15s} {medians}   (us, medians of {rounds}; columns: {' '.join(binaries)})")


if __name__ == "__main__":
    main()
