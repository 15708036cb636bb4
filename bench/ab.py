#!/usr/bin/env python3
"""A/B timing of commands on this noisy host: each round runs every command once, in a new
random order (a start's time depends on the command before it: a `uvm run` leaves its reaper
tearing a VM down on the other CPU), and the medians and means of the wall times from spawn to
exit are printed. Compare two builds through two or three copies of each binary (`cp`).

Usage: bench/ab.py ROUNDS "COMMAND A" "COMMAND B" ...   (each command split on spaces)
Example: bench/ab.py 500 "/tmp/a1 run hello.uvm" "/tmp/a2 run hello.uvm" "/tmp/b1 run hello.uvm" ...

With `--blocks N` (bench/ab.py ROUNDS --blocks N "COMMAND A" "COMMAND B" ...) each round runs
each command N times in a row instead, the commands' order reversed every other round, and
the first run of each block is left out: for what one start leaves to the next (a `uvm run`'s
reaper tears its VM down while the next command starts), which random order would hand to
whichever command comes next.
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
    args = sys.argv[2:]
    block = 1
    if args[:1] == ["--blocks"]:
        if len(args) < 3:
            sys.exit(__doc__)
        block, args = int(args[1]), args[2:]
    commands = [a.split() for a in args]
    times = [[] for _ in commands]
    for r in range(rounds):
        order = list(range(len(commands)))
        if block == 1:
            random.shuffle(order)
        elif r % 2:
            order.reverse()
        for i in order:
            for n in range(block):
                start = time.perf_counter()
                subprocess.run(commands[i], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
                if block == 1 or n > 0:
                    times[i].append((time.perf_counter() - start) * 1e3)
    for command, t in zip(commands, times):
        print(f"{statistics.median(t):7.3f} ms median  {statistics.mean(t):7.3f} ms mean  {' '.join(command)}")


if __name__ == "__main__":
    main()
