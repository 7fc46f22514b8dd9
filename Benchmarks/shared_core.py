#!/usr/bin/env python3
"""Compares two servers' CPU cost per request on one shared core, at the same time.

Usage: shared_core.py SERVER_A SERVER_B [--path /hello] [--script LUA] [--rounds 5] [--seconds 4]
                      [--connections 64]

Each SERVER is a command that takes --port (a demo binary, or a wrapper script), or the
word "nginx" (nginx-light with the benchmark's configuration), "node" (its node http peer) or
"hummingbird" (bench-peers' Hummingbird 2 peer, built by `make bench-peers` or `make bench-shared`). Both servers are pinned
to CPU 0 and loaded at once, each by its own `wrk -t1` (64 connections unless told) on CPU 1, so the kernel's
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

from peers import answers, raise_descriptor_limit, tree_cpu_seconds, write_nginx_config

PORTS = (18201, 18202)
PEERS = Path(__file__).resolve().parent / "peers"
HUMMINGBIRD = Path(__file__).resolve().parent / "hello-hummingbird" / ".build" / "release" / "HelloHummingbird"


def start(server: str, port: int, scratch: Path) -> subprocess.Popen:
    """Starts a server on CPU 0 (its CPU time is that of its process tree: nginx's worker too)."""
    # A stale server on the port would be measured in its place.
    if answers(port):
        sys.exit(f"shared_core: port {port} already answers before {server} starts")
    if server == "nginx":
        # The same nginx as bench-peers': its template, this run's directory and port.
        command = ["nginx", "-c", write_nginx_config(str(scratch), port)]
        process = subprocess.Popen(["taskset", "-c", "0", *command], start_new_session=True)
    elif server == "node":
        process = subprocess.Popen(["taskset", "-c", "0", "node", str(PEERS / "node-server.js"), str(port)],
                                   start_new_session=True)
    elif server == "hummingbird":
        if not HUMMINGBIRD.exists():
            sys.exit(f"shared_core: no Hummingbird peer at {HUMMINGBIRD}: `make bench-shared` builds it")
        # Its port is its one argument, as bench-peers starts it.
        process = subprocess.Popen(["taskset", "-c", "0", str(HUMMINGBIRD), str(port)], start_new_session=True,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    else:
        process = subprocess.Popen(["taskset", "-c", "0", server, "--port", str(port)], start_new_session=True,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.0)
    if process.poll() is not None:
        sys.exit(f"shared_core: {server} exited at start")
    return process


def load(port: int, args: argparse.Namespace, seconds: int) -> subprocess.Popen:
    script = ["-s", args.script] if args.script else []  # e.g. the POST /echo 4 KiB load
    return subprocess.Popen(["taskset", "-c", "1", "wrk", "-t1", f"-c{args.connections}", f"-d{seconds}s", *script,
                             f"http://127.0.0.1:{port}{args.path}"], stdout=subprocess.PIPE, text=True)


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
    parser.add_argument("--script", help="a wrk Lua script, e.g. peers/post4k.lua with --path /echo")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=4)
    parser.add_argument("--connections", type=int, default=64)
    args = parser.parse_args()
    raise_descriptor_limit()  # wrk and the servers inherit it: two -c1000 loads need 2,000+
    for tool in ("wrk", "taskset"):
        if shutil.which(tool) is None:
            sys.exit(f"shared_core: {tool} is not installed")

    scratch = Path(tempfile.mkdtemp(prefix="shared-core-"))
    processes = []
    try:
        for server, port in zip((args.server_a, args.server_b), PORTS):
            processes.append(start(server, port, scratch))
        pids = [process.pid for process in processes]
        for port in PORTS:  # warm-up
            load(port, args, 1).communicate()
        ratios = []
        for round_number in range(1, args.rounds + 1):
            before = [tree_cpu_seconds(pid) for pid in pids]
            runs = [load(port, args, args.seconds) for port in PORTS]
            rates = [requests_per_second(run.communicate()[0]) for run in runs]
            costs = [(tree_cpu_seconds(pid) - start_cpu) / (rate * args.seconds) * 1e6
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
