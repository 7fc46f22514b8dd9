#!/usr/bin/env python3
"""Compares two servers' CPU cost per request on one shared core, at the same time.

Usage: shared_core.py SERVER_A SERVER_B [--path /hello] [--rounds 5] [--seconds 4]

Each SERVER is a command that takes --port (a demo binary, or a wrapper script), or the
word "nginx" (nginx-light with the benchmark's configuration) or "node" (its node http peer). Both servers are pinned
to CPU 0 and loaded at once, each by its own `wrk -t1 -c64` on CPU 1, so the kernel's
scheduler splits the core between them: the ratio of their requests/s is the inverse ratio
of their cost per request, measured in the same instant. On this class of machine the
speed drifts by ±20% between runs of a minute, which a one-after-the-other comparison
cannot tell from a change; this one cancels it (its rounds agree within a few percent).
"""

import argparse
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PORTS = (18201, 18202)
PEERS = Path(__file__).resolve().parent / "peers"


def start(server: str, port: int, scratch: Path) -> tuple[subprocess.Popen, int]:
    """Starts a server on CPU 0; returns its process and the pid whose CPU time counts."""
    if server == "nginx":
        # The same nginx as bench-peers': its template, this run's directory and port.
        template = (PEERS / "nginx.conf.in").read_text()
        conf = scratch / f"nginx-{port}.conf"
        conf.write_text(template.replace("@DIR@", str(scratch)).replace("@PORT@", str(port)))
        process = subprocess.Popen(["taskset", "-c", "0", "nginx", "-c", str(conf)], start_new_session=True)
    elif server == "node":
        process = subprocess.Popen(["taskset", "-c", "0", "node", str(PEERS / "node-server.js"), str(port)],
                                   start_new_session=True)
    else:
        process = subprocess.Popen(["taskset", "-c", "0", server, "--port", str(port)], start_new_session=True,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.0)
    if process.poll() is not None:
        sys.exit(f"shared_core: {server} exited at start")
    if server != "nginx":
        return process, process.pid
    # The worker serves; the master only waits.
    workers = subprocess.run(["pgrep", "-P", str(process.pid)], capture_output=True, text=True).stdout.split()
    return process, int(workers[0])


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def load(port: int, path: str, seconds: int) -> subprocess.Popen:
    return subprocess.Popen(["taskset", "-c", "1", "wrk", "-t1", "-c64", f"-d{seconds}s", f"http://127.0.0.1:{port}{path}"],
                            stdout=subprocess.PIPE, text=True)


def requests_per_second(output: str) -> float:
    match = re.search(r"Requests/sec:\s+([\d.]+)", output)
    if not match:
        sys.exit("shared_core: no requests/s in wrk's output:\n" + output)
    return float(match.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("server_a")
    parser.add_argument("server_b")
    parser.add_argument("--path", default="/hello")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=4)
    args = parser.parse_args()
    for tool in ("wrk", "taskset", "pgrep"):
        if shutil.which(tool) is None:
            sys.exit(f"shared_core: {tool} is not installed")

    scratch = Path(tempfile.mkdtemp(prefix="shared-core-"))
    processes = []
    try:
        pids = []
        for server, port in zip((args.server_a, args.server_b), PORTS):
            process, pid = start(server, port, scratch)
            processes.append(process)
            pids.append(pid)
        for port in PORTS:  # warm-up
            load(port, args.path, 1).communicate()
        ratios = []
        for round_number in range(1, args.rounds + 1):
            before = [cpu_seconds(pid) for pid in pids]
            runs = [load(port, args.path, args.seconds) for port in PORTS]
            rates = [requests_per_second(run.communicate()[0]) for run in runs]
            costs = [(cpu_seconds(pid) - start_cpu) / (rate * args.seconds) * 1e6
                     for pid, start_cpu, rate in zip(pids, before, rates)]
            ratios.append(costs[1] / costs[0])
            print(f"round {round_number}: A {rates[0]:.0f} req/s at {costs[0]:.2f} µs CPU/request, "
                  f"B {rates[1]:.0f} req/s at {costs[1]:.2f} µs; B/A cost {ratios[-1]:.3f}", flush=True)
        print(f"B/A CPU per request, median of {args.rounds} rounds: {statistics.median(ratios):.3f}")
    finally:
        for process in processes:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=10)
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
