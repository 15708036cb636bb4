#!/usr/bin/env python3
"""What the guest kernel's size is made of: the flat binary `uvm` embeds, its sections, the
margins that decide its next step (the text is padded to a 32 KiB group; the hot text and
the read-only data, copied into every VM, take whole pages), and the text by module. docs/PERFORMANCE.md ("Sizes")
keeps its figures; this script reproduces them.

Usage: scripts/kernel-size.py [KERNEL_ELF]
The default ELF is the newest release build's
(target/x86_64-unknown-linux-gnu/release/build/uvm-embedded-kernel-*/out/guest-target/release/uvm-kernel,
made by scripts/build-uvm.sh). Needs binutils' nm and readelf.
"""
import collections
import glob
import os
import re
import subprocess
import sys

KERNEL_BASE = 0x200000
PAGE = 4096
GROUP = 32768


def newest_kernel():
    pattern = "target/*/release/build/uvm-embedded-kernel-*/out/guest-target/release/uvm-kernel"
    found = glob.glob(os.path.join(os.path.dirname(__file__), "..", pattern))
    if not found:
        sys.exit(f"no kernel ELF matches {pattern}: run scripts/build-uvm.sh first, or name one")
    return max(found, key=os.path.getmtime)


def run(*args):
    return subprocess.run(args, check=True, capture_output=True, text=True).stdout


def load_segments(elf):
    """(vaddr, file size, memory size, flags) of each PT_LOAD."""
    segments = []
    for line in run("readelf", "-lW", elf).splitlines():
        fields = line.split()
        if fields[:1] == ["LOAD"]:
            vaddr, filesz, memsz = (int(f, 16) for f in (fields[2], fields[4], fields[5]))
            segments.append((vaddr, filesz, memsz, " ".join(fields[6:-1])))
    return segments


def symbols(elf):
    """(address, size, name) of every sized symbol, demangled; and a name -> address map."""
    sized, named = [], {}
    for line in run("nm", "-n", "-S", "-C", "--defined-only", elf).splitlines():
        fields = line.split(maxsplit=3)
        if len(fields) == 4:
            address, size, _kind, name = fields
            sized.append((int(address, 16), int(size, 16), name))
            named[name] = int(address, 16)
        elif len(fields) == 3:
            named[fields[2]] = int(fields[0], 16)
    return sized, named


def module_of(name):
    """The module a function is counted under: the kernel's own two levels deep under
    `syscall` and `fs` (the largest), one level elsewhere; the standard library's B-tree and
    formatting apart from the rest of it."""
    name = re.sub(r"^<(.*?)(?: as .*)?>::", r"\1::", name)
    parts = [p for p in re.split(r"::", name) if p]
    if not parts:
        return "?"
    if parts[0] == "uvm_kernel":
        depth = 3 if len(parts) > 2 and parts[1] in ("syscall", "fs") else 2
        return "::".join(parts[: min(depth, len(parts) - 1)] or parts[:1])
    if parts[0] == "alloc" and "btree" in parts:
        return "alloc::collections::btree"
    if parts[0] == "core" and len(parts) > 1 and parts[1] == "fmt":
        return "core::fmt"
    return parts[0]


def main():
    elf = sys.argv[1] if len(sys.argv) > 1 else newest_kernel()
    segments = load_segments(elf)
    sized, named = symbols(elf)
    flat_end = max(vaddr + filesz for vaddr, filesz, _, _ in segments)
    print(f"kernel ELF: {os.path.relpath(elf)}")
    print(f"flat binary (what uvm embeds): {(flat_end - KERNEL_BASE) / 1024:.1f} KiB "
          f"({flat_end - KERNEL_BASE} bytes)")
    for vaddr, filesz, memsz, flags in segments:
        print(f"  segment {vaddr:#x} {flags:<4} file {filesz / 1024:7.1f} KiB, memory {memsz / 1024:7.1f} KiB")

    text_end = named.get("__text_end")
    shared_start = named.get("__shared_start")
    if text_end is not None:
        spare = -text_end % GROUP
        print(f"__text_end {text_end:#x}: {spare} bytes ({spare / 1024:.1f} KiB) before the next "
              f"32 KiB step (the flat binary grows by 32 KiB when the text crosses it)")
    read_only = [(v, f) for v, f, _, flags in segments if flags == "R" and text_end is not None and v > text_end]
    if read_only:
        vaddr, filesz = read_only[0]
        print(f"read-only data ends at {vaddr + filesz:#x}: {-(vaddr + filesz) % PAGE} bytes before its page's end "
              f"(a page more copied into each VM past it)")
    if shared_start is not None:
        hot = [(a, s) for a, s, _ in sized if KERNEL_BASE <= a < shared_start and s]
        hot_end = max(a + s for a, s in hot) if hot else shared_start
        print(f"hot text (copied into each VM) ends at {hot_end:#x}: {shared_start - hot_end} bytes "
              f"before {shared_start:#x}, where the shared cold text starts")

    text_low = min((vaddr for vaddr, _, _, flags in segments if "E" in flags), default=KERNEL_BASE)
    text_high = text_end if text_end is not None else flat_end
    by_module = collections.Counter()
    for address, size, name in sized:
        if text_low <= address < text_high:
            by_module[module_of(name)] += size
    total = sum(by_module.values())
    by_area = collections.Counter()
    for module, size in by_module.items():
        parts = module.split("::")
        by_area["::".join(parts[:2]) if parts[0] == "uvm_kernel" else "core, alloc, compiler builtins (generic code)"] += size
    print(f"text by area ({total / 1024:.1f} KiB in sized symbols):")
    for area, size in by_area.most_common(12):
        print(f"  {size / 1024:7.1f} KiB  {area}")
    print("text by module:")
    for module, size in by_module.most_common(40):
        print(f"  {size / 1024:7.1f} KiB  {module}")


if __name__ == "__main__":
    main()
