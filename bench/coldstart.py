#!/usr/bin/env python3
"""Cold-start benchmark: wall time from spawn to exit, as the caller sees it, of the same
static binary run natively, under `uvm run`, and (when crun is installed) under `crun run`
in an OCI bundle. Runs are interleaved (native, uvm, crun, native, ...) so that all commands
see the same machine state; medians, min/max and ratios are printed.

With --floor, a program that does only what any KVM start must (bench/kvm_floor.c: a VM, a
64 MiB slot, a vCPU, a guest run to HLT, the teardown left to a child) runs interleaved too,
and the script prints how far `uvm run` is above that floor.

Back to back (the default), each run starts on a busy machine, right after the previous
command. With --gap MS every run starts after a pause instead, on an idle machine, as a single
start does (on this 2-CPU host, itself a VM, an idle CPU takes a while to wake and crun's
start triples); --shuffle gives every round a new random order of the commands.

Usage: bench/coldstart.py [--runs N] [--warmup N] [--uvm PATH] [--no-crun] [--floor PATH]
                          [--gap MS] [--shuffle] BINARY IMAGE [ARG...]
  BINARY  the static binary (run natively and inside crun)
  IMAGE   a uvm image of the same binary (`uvm build`)
  ARG     arguments for it, the same in all three (`uvm run IMAGE -- ARG...`); bench/run.sh
          runs a busybox shell script so (an entrypoint script's start)
"""
import argparse
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time


def host_facts():
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    kvm = "PVM (kvm_pvm: no VMX/SVM)" if os.path.exists("/sys/module/kvm_pvm") else "hardware (VMX/SVM)"
    return f"kernel {platform.release()}, CPU {cpu}, {os.cpu_count()} cores, KVM {kvm}, {dentries_cached()}"


def dentries_cached():
    """How many dentries the host kernel caches. KVM_CREATE_VM makes debugfs files, and each
    one's lookup walks a dentry hash chain: with a big cache and a small hash table, VM creation
    slows (docs/PERFORMANCE.md, "create VM")."""
    try:
        with open("/proc/sys/fs/dentry-state") as f:
            fields = f.read().split()
        return f"{int(fields[0]):,} dentries cached ({int(fields[4]):,} negative)"
    except (OSError, ValueError, IndexError):
        return "dentry cache size unknown"


def spawn_time(argv):
    """Wall time (ns) from posix_spawn to the child's exit, output discarded."""
    devnull = os.open(os.devnull, os.O_RDWR)
    try:
        actions = [(os.POSIX_SPAWN_DUP2, devnull, 0), (os.POSIX_SPAWN_DUP2, devnull, 1), (os.POSIX_SPAWN_DUP2, devnull, 2)]
        start = time.perf_counter_ns()
        pid = os.posix_spawnp(argv[0], argv, os.environ, file_actions=actions)
        _, status = os.waitpid(pid, 0)
        elapsed = time.perf_counter_ns() - start
    finally:
        os.close(devnull)
    return elapsed, os.waitstatus_to_exitcode(status)


def crun_bundle(binary, args, workdir):
    """An OCI bundle running `binary` with `args` with crun, or None (with the reason) if crun
    cannot. The binary keeps its name (at the root), as busybox picks its applet by it."""
    crun = shutil.which("crun")
    if not crun:
        return None, "crun is not installed (apt-get install crun)"
    bundle = os.path.join(workdir, "bundle")
    rootfs = os.path.join(bundle, "rootfs")
    os.makedirs(rootfs)
    name = os.path.basename(binary)
    shutil.copy(binary, os.path.join(rootfs, name))
    subprocess.run([crun, "spec", "--rootless"] if os.geteuid() else [crun, "spec"], cwd=bundle, check=True)
    with open(os.path.join(bundle, "config.json")) as f:
        spec = json.load(f)
    spec["process"]["args"] = [f"/{name}"] + args
    spec["process"]["terminal"] = False
    spec["root"]["readonly"] = True
    with open(os.path.join(bundle, "config.json"), "w") as f:
        json.dump(spec, f)
    argv = [crun, "run", "--bundle", bundle, "uvm-bench"]
    out = subprocess.run(argv, capture_output=True, text=True)
    if out.returncode != 0 and out.stdout == "":
        return None, f"crun run failed here: {out.stderr.strip()[:200]}"
    return argv, None


HIDDEN_CGROUP2 = "UVM_BENCH_CGROUP2_HIDDEN"


def rerun_with_cgroup2_hidden():
    """crun refuses hosts with a hybrid cgroup layout (v1 controllers plus a cgroup2 mount).
    Rerun the whole benchmark in a private mount namespace with the cgroup2 mount unmounted,
    so crun (and, for fairness, every other command) runs there."""
    unified = "/sys/fs/cgroup/unified"
    if os.environ.get(HIDDEN_CGROUP2) or os.geteuid() != 0 or not os.path.ismount(unified) or not shutil.which("unshare"):
        return
    script = f"umount {unified} && exec {sys.executable} {' '.join(map(shlex_quote, sys.argv))}"
    env = dict(os.environ, **{HIDDEN_CGROUP2: "1"})
    os.execvpe("unshare", ["unshare", "--mount", "--propagation", "private", "sh", "-c", script], env)


def shlex_quote(s):
    import shlex
    return shlex.quote(s)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("binary")
    parser.add_argument("image")
    parser.add_argument("args", nargs=argparse.REMAINDER)
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--uvm", default=os.path.join(os.path.dirname(__file__), "..", "target", "x86_64-unknown-linux-gnu", "release", "uvm"))
    parser.add_argument("--no-crun", action="store_true")
    parser.add_argument("--floor", help="a KVM floor binary (bench/kvm_floor.c) to time beside them")
    parser.add_argument("--gap", type=float, default=0, metavar="MS", help="pause this long before each run")
    parser.add_argument("--shuffle", action="store_true", help="a new random order of the commands each round")
    args = parser.parse_args()

    if not args.no_crun and shutil.which("crun"):
        probe = subprocess.run(["crun", "--version"], capture_output=True)
        if probe.returncode == 0 and os.path.ismount("/sys/fs/cgroup/unified"):
            rerun_with_cgroup2_hidden()
    commands = {"native": [os.path.abspath(args.binary)] + args.args, "uvm run": [args.uvm, "run", args.image]}
    if args.args:
        commands["uvm run"] += ["--"] + args.args
    if args.floor:
        commands["kvm floor"] = [os.path.abspath(args.floor)]
    with tempfile.TemporaryDirectory() as workdir:
        note = ""
        if not args.no_crun:
            argv, reason = crun_bundle(os.path.abspath(args.binary), args.args, workdir)
            if argv:
                commands["crun run"] = argv
            else:
                note = f"crun: skipped: {reason}"
        times = {name: [] for name in commands}
        codes = {}
        order = list(commands.items())
        for i in range(args.warmup + args.runs):
            if args.shuffle:
                random.shuffle(order)
            for name, argv in order:
                if args.gap:
                    time.sleep(args.gap / 1000)
                elapsed, code = spawn_time(argv)
                codes.setdefault(name, set()).add(code)
                if i >= args.warmup:
                    times[name].append(elapsed / 1e6)

    print(f"host: {host_facts()}")
    order = "in a new random order each round" if args.shuffle else "interleaved"
    pause = f", each after a {args.gap:g} ms pause (an idle machine)" if args.gap else ", back to back"
    print(f"runs: {args.runs} per command, {order}{pause}, after {args.warmup} warm-up rounds")
    if note:
        print(note)
    if os.environ.get(HIDDEN_CGROUP2):
        print("all commands ran in a private mount namespace with the cgroup2 mount hidden (crun refuses this host's hybrid cgroup layout)")
    print(f"{'command':<10} {'median ms':>10} {'min ms':>8} {'max ms':>8} {'exit codes':>11}")
    medians = {}
    for name, samples in times.items():
        medians[name] = statistics.median(samples)
        print(f"{name:<10} {medians[name]:>10.3f} {min(samples):>8.3f} {max(samples):>8.3f} {str(sorted(codes[name])):>11}")
    base = medians["native"]
    print("ratios of medians: " + ", ".join(f"{n} / native = {m / base:.2f}x" for n, m in medians.items() if n != "native"))
    if "crun run" in medians:
        print(f"uvm run / crun run = {medians['uvm run'] / medians['crun run']:.2f}x")
    if "kvm floor" in medians:
        above = medians["uvm run"] - medians["kvm floor"]
        print(f"uvm run / kvm floor = {medians['uvm run'] / medians['kvm floor']:.2f}x ({above:.3f} ms above it)")


if __name__ == "__main__":
    sys.exit(main())
