#!/usr/bin/env python3
# For each `syscall` instruction in the given static binaries: the binary, its address, the 23
# bytes before and of it and the 151 after it (to its page's end, then 06s), tab-separated, hex: the
# listing the kernel's ignored unit test `shapes_of_a_listings_sites` reads (UVM_SITES_CHECK), which
# tells the syscall-site patcher's shape for each site. Usage: scripts/patch-sites.py BINARY... > FILE
# With --lengths first: every instruction of the binaries' code as `HEX<TAB>MNEMONIC`, the listing
# the ignored unit test `decodes_as_a_disassembler_does` (UVM_LENGTH_CHECK) checks the patcher's
# instruction-length decoder against.
# With --check-jumped FILE (that test's output, `--nocapture`): for each site it says jumps to
# padding, checks against objdump that the padding starts at an instruction boundary and that
# no direct branch of the binary lands in the 5 bytes the rewrite writes there.
import collections, re, subprocess, sys
if sys.argv[1:2] == ['--check-jumped']:
    sites = collections.defaultdict(list)
    for line in open(sys.argv[2]):
        m = re.match(r'(\S+) (0x[0-9a-f]+): jumped to (0x[0-9a-f]+)', line)
        if m:
            sites[m.group(1)].append((int(m.group(2), 16), int(m.group(3), 16)))
    problems = 0
    for binary, jumped in sites.items():
        starts, targets = set(), set()
        for line in subprocess.check_output(['objdump', '-d', '--no-show-raw-insn', binary]).decode().splitlines():
            m = re.match(r'\s*([0-9a-f]+):\s+(\S+)\s*(.*)', line)
            if not m:
                continue
            starts.add(int(m.group(1), 16))
            target = re.match(r'([0-9a-f]+) <', m.group(3))
            if m.group(2).startswith(('j', 'call', 'loop')) and target:
                targets.add(int(target.group(1), 16))
        for at, pad in jumped:
            hits = [hex(t) for t in targets if pad <= t < pad + 5]
            if hits or pad not in starts:
                problems += 1
                print(f'{binary} {at:#x}: padding {pad:#x}: branch targets {hits}, a boundary: {pad in starts}')
        print(f'{binary}: {len(jumped)} jumped sites checked')
    print(f'problems: {problems}')
    sys.exit(1 if problems else 0)
if sys.argv[1:2] == ['--lengths']:
    for f in sys.argv[2:]:
        for l in subprocess.check_output(['objdump', '-d', '--insn-width=16', f]).decode().splitlines():
            p = l.split('\t')
            if len(p) >= 3 and p[0].strip().endswith(':'):
                print(p[1].replace(' ', '') + '\t' + p[2])
    sys.exit(0)
for f in sys.argv[1:]:
    data = open(f, 'rb').read()
    secs = []
    for l in subprocess.check_output(['readelf', '-SW', f]).decode().splitlines():
        p = l.replace('[ ', '[').split()
        if len(p) > 5 and p[0].startswith('[') and 'PROGBITS' in p:
            i = p.index('PROGBITS'); secs.append((p[i-1], int(p[i+1], 16), int(p[i+2], 16), int(p[i+3], 16)))
    def read(a, n):
        for name, addr, off, size in secs:
            if addr <= a and a + n <= addr + size: return data[off + a - addr: off + a - addr + n]
        return None
    out = subprocess.check_output(['objdump', '-d', '--insn-width=16', f]).decode()
    for l in out.splitlines():
        p = l.split('\t')
        if len(p) >= 3 and p[2].strip() == 'syscall' and p[1].replace(' ', '') == '0f05':
            at = int(p[0].strip().rstrip(':'), 16)
            before = read(at - 21, 23)
            end = at + 2; page_end = (end & ~4095) + 4096
            n = min(151, page_end - end)
            after = (read(end, n) or b'') + b'\x06' * (151 - n)
            if before is None: continue
            print(f"{f}\t{at:x}\t{before.hex()}\t{after.hex()}")
