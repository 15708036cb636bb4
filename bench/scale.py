#!/usr/bin/env python3
"""Many VMs at once: starts COUNT `uvm run IMAGE [-- ARGS]` together, checks that every one
succeeds with the same output, and reports the total wall time and the peak memory of all of
them together.

That peak is exact where a memory cgroup can be made (root, and a cgroup v2 hierarchy with the
memory controller or a v1 memory hierarchy): the processes start in a cgroup of their own,
whose peak usage (`memory.peak`, v1 `memory.max_usage_in_bytes`) counts everything charged to
them and their reapers: their private memory (guest RAM, uvm's heaps and stacks), the kernel
memory they cause (KVM's per-VM and per-vCPU structures, shadow page tables, page tables),
and page-cache pages first read by them (an image or a `uvm` binary already cached counts
nothing). Elsewhere it falls back to the machine's extra memory while they ran (MemTotal -
MemAvailable, sampled every millisecond, minus the level before), which other processes and
the page cache move by tens of MiB.

With a guest that sleeps (e.g. bench/scale.py IMAGE --count 20 -- sleep 1500 on the
sleep_spin test app) all VMs are alive together, and the extra memory per VM is what one more
VM of the same image costs: shared page-cache pages of the image count once. The machine's
figure is noisy (other processes, the page cache); --pss-after MS reads every uvm process's
/proc/PID/smaps_rollup that long after the start instead, exactly: Pss (shared pages divided
among the processes that map them) and Private_Dirty (what only that VM holds) per VM.

Usage: bench/scale.py [--count N] [--uvm PATH] [--pss-after MS] [--no-cgroup] IMAGE [-- ARGS...]
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


class MemoryCgroup:
    """A memory cgroup of its own for the processes started, under this process's own (cgroup v2
    with the memory controller, else a v1 memory hierarchy); None where none can be made."""

    def __init__(self, path, peak_file):
        self.path, self.peak_file = path, peak_file

    @staticmethod
    def make():
        with open("/proc/self/cgroup") as f:
            lines = [line.rstrip("\n").split(":", 2) for line in f]
        mounts = {}
        with open("/proc/self/mounts") as f:
            for line in f:
                _, where, kind, options = line.split()[:4]
                if kind == "cgroup2":
                    mounts.setdefault("v2", where)
                elif kind == "cgroup" and "memory" in options.split(","):
                    mounts.setdefault("v1", where)
        tries = []
        for _, controllers, own in lines:
            if controllers == "" and "v2" in mounts:
                tries.append((mounts["v2"], own, "memory.peak", "cgroup.controllers"))
            elif "memory" in controllers.split(",") and "v1" in mounts:
                tries.append((mounts["v1"], own, "memory.max_usage_in_bytes", None))
        for root, own, peak_file, controllers in tries:
            parent = os.path.join(root, own.lstrip("/"))
            if controllers:
                try:
                    with open(os.path.join(parent, controllers)) as f:
                        if "memory" not in f.read().split():
                            continue
                    with open(os.path.join(parent, "cgroup.subtree_control"), "w") as f:
                        f.write("+memory")
                except OSError:
                    continue
            path = os.path.join(parent, f"uvm-scale-{os.getpid()}")
            try:
                os.mkdir(path)
            except OSError:
                continue
            if os.path.exists(os.path.join(path, peak_file)):
                return MemoryCgroup(path, peak_file)
            os.rmdir(path)
        return None

    def enter(self):
        """Moves this process in, so that the processes it starts from then on start in it (one
        move, not one per child: each move waits for the cgroup core's lock against forks,
        milliseconds here). What this process allocates meanwhile is charged to the cgroup
        too: 100 processes that do nothing (`--uvm /bin/echo`) peak at 4.6 MiB in all, their
        own page tables and kernel stacks included."""
        self._move_to(self.path)

    def leave(self):
        """Moves this process back to its own cgroup (the new one's parent)."""
        self._move_to(os.path.dirname(self.path))

    @staticmethod
    def _move_to(path):
        with open(os.path.join(path, "cgroup.procs"), "w") as f:
            f.write(str(os.getpid()))

    def close(self):
        """The peak in bytes, and that of kernel memory where the cgroup counts it apart (v1),
        once every process in it is gone (the reapers tear their VMs down after uvm exits:
        waited for, up to 5 s); the cgroup is removed."""
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            with open(os.path.join(self.path, "cgroup.procs")) as f:
                if not f.read().strip():
                    break
            time.sleep(0.01)
        with open(os.path.join(self.path, self.peak_file)) as f:
            peak = int(f.read())
        kernel_peak = None
        try:
            with open(os.path.join(self.path, "memory.kmem.max_usage_in_bytes")) as f:
                kernel_peak = int(f.read())
        except (OSError, ValueError):
            pass
        try:
            os.rmdir(self.path)
        except OSError as e:
            print(f"bench/scale.py: could not remove {self.path}: {e}", file=sys.stderr)
        return peak, kernel_peak


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
    parser.add_argument("--no-cgroup", action="store_true", help="sample the machine's memory instead")
    parser.add_argument("args", nargs="*")
    args = parser.parse_args()

    cgroup = None if args.no_cgroup else MemoryCgroup.make()

    baseline = used_kib()
    peak = [baseline]
    done = threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], used_kib())
            time.sleep(0.001)

    # Only without a cgroup: the sampler's own allocations would be charged to it.
    sampler = threading.Thread(target=sample)
    if not cgroup:
        sampler.start()
    argv = [args.uvm, "run", args.image] + (["--"] + args.args if args.args else [])
    if cgroup:
        cgroup.enter()
    try:
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
    finally:
        if cgroup:
            cgroup.leave()
    done.set()
    if not cgroup:
        sampler.join()

    codes = {r[0] for r in results}
    outputs = {r[1] for r in results}
    failures = [r for r in results if r[0] != results[0][0] or r[1] != results[0][1]]
    print(f"{args.count} x `{' '.join(argv[1:])}` started together")
    print(f"all finished in {wall * 1000:.0f} ms wall time; exit codes {sorted(codes)}; {len(outputs)} distinct stdout")
    if cgroup:
        peak, kernel_peak = cgroup.close()
        kernel = f"; kernel memory's own peak {kernel_peak / 2**20:.1f} MiB" if kernel_peak is not None else ""
        print(f"peak memory of all of them together (their cgroup's peak): {peak / 2**20:.1f} MiB "
              f"({peak / 1024 / args.count:.0f} KiB per VM{kernel})")
    else:
        print(f"peak extra memory of the machine (without a memory cgroup of their own: a rough figure): "
              f"{(peak[0] - baseline) / 1024:.1f} MiB ({(peak[0] - baseline) / args.count:.0f} KiB per VM)")
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
