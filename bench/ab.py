#!/usr/bin/env python3
"""A/B timing of commands on this noisy host: each round runs every command once, in a new
random order (a start's time depends on the command before it: a `uvm run` leaves its reaper
tearing a VM down on the other CPU), and the medians and means of the wall times from spawn to
exit are printed. Compare two builds through two or three copies of each binary (`cp`).

Usage: bench/ab.py ROUNDS "COMMAND A" "COMMAND B" ...   (each command split on spaces)
Example: bench/ab.py 500 "/tmp/a1 run hello.uvm" "/tmp/a2 run hello.uvm" "/tmp/b1 run hello.uvm" ...
"""
import random
import statistics
import subprocess
import sys
import time


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    rounds = int(sys.argv[1])
    commands = [a.split() for a in sys.argv[2:]]
    times = [[] for _ in commands]
    for _ in range(rounds):
        order = list(range(len(commands)))
        random.shuffle(order)
        for i in order:
            start = time.perf_counter()
            subprocess.run(commands[i], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
            times[i].append((time.perf_counter() - start) * 1e3)
    for command, t in zip(commands, times):
        print(f"{statistics.median(t):7.3f} ms median  {statistics.mean(t):7.3f} ms mean  {' '.join(command)}")


if __name__ == "__main__":
    main()
