#!/usr/bin/env python3
"""Network figures: the Go hello server (tests/apps/go/net_http.go) natively and under
`uvm run -p`, the same binary, interleaved round by round, medians printed as a markdown table.

- requests/s and p50/p99 latency under `wrk -t2 -c50 -d<D>s --latency` (keep-alive);
- new connections/s: bench/connrate.c, one GET with "Connection: close" per connection;
- under uvm, exits and net calls per request from `uvm run --timings` (read when uvm exits),
  one VM for the wrk phase and another for the connection phase so each is counted alone;
- with --log-requests the server logs a line per request to stderr (LOG_REQUESTS=1), which
  is read as it comes, as a container's log collector would.

bench/net.sh builds everything and calls this.
"""
import argparse
import os
import re
import socket
import statistics
import subprocess
import sys
import threading
import time


def free_port():
    with socket.socket() as s:
        s.bind(("0.0.0.0", 0))
        return s.getsockname()[1]


class Server:
    """The server, natively (`binary PORT`) or in uvm (`uvm run --timings -p PORT:80 image`)."""

    def __init__(self, args, how):
        self.port = free_port()
        env = None
        if how == "native":
            cmd = [args.binary, str(self.port)]
            if args.log_requests:
                env = {**os.environ, "LOG_REQUESTS": "1"}
        else:
            cmd = [args.uvm, "run", "--timings", "--cpus", str(args.cpus), "-p", f"{self.port}:80", args.image]
            if args.log_requests:
                cmd[2:2] = ["-e", "LOG_REQUESTS=1"]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        # stderr is read as it comes (the log lines would fill the pipe); uvm's report is kept.
        self.report = []
        self.log_lines = 0
        self.reader = threading.Thread(target=self.read_stderr, daemon=True)
        self.reader.start()
        line = self.proc.stdout.readline()
        if not line.startswith("listening"):
            self.proc.kill()
            self.proc.wait()
            self.reader.join()
            sys.exit(f"{' '.join(cmd)} did not start: {line!r} {''.join(self.report)}")

    def read_stderr(self):
        for line in self.proc.stderr:
            if re.match(r"\d{4}/\d\d/\d\d \d\d:\d\d:\d\d ", line):
                self.log_lines += 1
            else:
                self.report.append(line)

    def stop(self):
        """GET /quit, wait for the exit; returns the stderr besides log lines (uvm's timings)."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=10) as s:
            s.sendall(b"GET /quit HTTP/1.1\r\nHost: bench\r\n\r\n")
            s.recv(4096)
        self.proc.stdout.read()
        self.proc.wait(timeout=30)
        self.reader.join(timeout=30)
        err = "".join(self.report)
        if self.proc.returncode != 0:
            sys.exit(f"the server exited with {self.proc.returncode}: {err}")
        return err


UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def ms(text):
    m = re.fullmatch(r"([\d.]+)(us|ms|s)", text)
    return float(m.group(1)) * UNITS[m.group(2)]


def run_wrk(args, port):
    out = subprocess.run(
        ["wrk", "-t2", f"-c{args.connections}", f"-d{args.duration}s", "--latency", f"http://127.0.0.1:{port}/"],
        check=True, capture_output=True, text=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    total = int(re.search(r"(\d+) requests in", out).group(1))
    p50 = ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))
    p99 = ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))
    errors = 0
    for pat in (r"Non-2xx or 3xx responses: (\d+)", r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)"):
        m = re.search(pat, out)
        if m:
            errors += sum(int(g) for g in m.groups())
    return {"rps": rps, "requests": total, "p50": p50, "p99": p99, "errors": errors}


def run_connrate(args, port):
    out = subprocess.run([args.connrate, "127.0.0.1", str(port), str(args.workers), str(args.conns)],
                         check=True, capture_output=True, text=True).stdout
    count, errors, secs = out.split()
    return {"cps": int(count) / float(secs), "requests": int(count), "errors": int(errors)}


def counts(timings):
    """(exits, net calls) from `uvm run --timings`: the lines
    `  exits: N (hypercalls: ...)` and `  net: N calls, ...`."""
    exits = re.search(r"exits: (\d+) \(", timings)
    net = re.search(r"^\s*net: (\d+) calls", timings, re.M)
    return (int(exits.group(1)) if exits else None), (int(net.group(1)) if net else None)


def med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def fmt(v, spec):
    return "n/a" if v is None else format(v, spec)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--uvm", required=True)
    ap.add_argument("--binary", required=True, help="the static server (Go's, or bench/epoll_http.c)")
    ap.add_argument("--title", default="Go net/http hello", help="what the table measures")
    ap.add_argument("--image", required=True, help="its uvm image (listens on guest port 80)")
    ap.add_argument("--connrate", required=True)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--connections", type=int, default=50)
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--conns", type=int, default=2000)
    ap.add_argument("--cpus", type=int, default=2)
    ap.add_argument("--only", choices=("native", "uvm"), help="measure one side only")
    ap.add_argument("--log-requests", action="store_true", help="the server logs a line per request to stderr")
    args = ap.parse_args()
    sides = (args.only,) if args.only else ("native", "uvm")

    res = {"native": [], "uvm": []}
    for r in range(args.rounds):
        for how in sides:
            s = Server(args, how)
            w = run_wrk(args, s.port)
            w_exits, w_net = counts(s.stop())
            time.sleep(0.2)
            s = Server(args, how)
            c = run_connrate(args, s.port)
            c_exits, c_net = counts(s.stop())
            row = {
                **{k: w[k] for k in ("rps", "p50", "p99")}, "cps": c["cps"],
                "errors": w["errors"] + c["errors"],
                "exits_req": w_exits / w["requests"] if w_exits is not None else None,
                "net_req": w_net / w["requests"] if w_net is not None else None,
                "exits_conn": c_exits / c["requests"] if c_exits is not None else None,
                "net_conn": c_net / c["requests"] if c_net is not None else None,
            }
            res[how].append(row)
            print(f"round {r + 1} {how:<6}: {row['rps']:.0f} req/s, p50 {row['p50']:.2f} ms, p99 {row['p99']:.2f} ms, "
                  f"{row['cps']:.0f} conn/s, {row['errors']} errors", file=sys.stderr)
            time.sleep(0.2)

    keys = ("rps", "p50", "p99", "cps", "exits_req", "net_req", "exits_conn", "net_conn")
    n = {k: med([row[k] for row in res["native"]]) for k in keys}
    v = {k: med([row[k] for row in res["uvm"]]) for k in keys}

    def ratio(k):
        return fmt(v[k] / n[k] if n[k] and v[k] is not None else None, ".2f")
    print()
    print(f"{args.title}, medians of {args.rounds} rounds (native and uvm interleaved; uvm with "
          f"--cpus {args.cpus}, -p HOST:80)")
    print()
    print("| metric | native | uvm | uvm/native |")
    print("| --- | ---: | ---: | ---: |")
    print(f"| requests/s (wrk -t2 -c{args.connections} -d{args.duration}s, keep-alive) | {fmt(n['rps'], '.0f')} | {fmt(v['rps'], '.0f')} | {ratio('rps')} |")
    print(f"| p50 latency, ms | {fmt(n['p50'], '.3f')} | {fmt(v['p50'], '.3f')} | {ratio('p50')} |")
    print(f"| p99 latency, ms | {fmt(n['p99'], '.3f')} | {fmt(v['p99'], '.3f')} | {ratio('p99')} |")
    print(f"| new connections/s ({args.workers} workers, Connection: close) | {fmt(n['cps'], '.0f')} | {fmt(v['cps'], '.0f')} | {ratio('cps')} |")
    print(f"| exits per request (keep-alive) | | {fmt(v['exits_req'], '.2f')} | |")
    print(f"| net calls per request (keep-alive) | | {fmt(v['net_req'], '.2f')} | |")
    print(f"| exits per new connection | | {fmt(v['exits_conn'], '.2f')} | |")
    print(f"| net calls per new connection | | {fmt(v['net_conn'], '.2f')} | |")
    errors = {how: sum(r["errors"] for r in res[how]) if res[how] else "n/a" for how in res}
    print(f"| errors (wrk + connections, all rounds) | {errors['native']} | {errors['uvm']} | |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
