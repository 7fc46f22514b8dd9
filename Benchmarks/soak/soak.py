#!/usr/bin/env python3
"""make soak: a long mixed run against a demo, then checks that nothing leaked.

wrk drives /hello, /json, /echo (1 KiB bodies), /work, /fail and /gated with keep-alive and
connection churn (every 50th request closes). Every response is checked against its request
(mix.lua). Afterwards: every response correct, no socket errors, no request stuck
(in_flight and queued 0), file descriptors back to the baseline, and resident memory after the
warm-up grew by less than 5%.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))


def descriptors(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def resident_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        return int(re.search(r"VmRSS:\s+(\d+)", status.read()).group(1))


def wrk(port, seconds, connections):
    output = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "-s", os.path.join(HERE, "mix.lua"),
                             f"http://127.0.0.1:{port}"], capture_output=True, text=True, check=True)
    text = output.stdout + output.stderr
    checked, bad = map(int, re.search(r"soak: checked (\d+) bad (\d+)", text).groups())
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    socket_errors = sum(map(int, errors.groups())) if errors else 0
    return checked, bad, socket_errors, text


def stats(port):
    return json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/stats", timeout=10).read())


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("demo")
    parser.add_argument("--requests", type=int, default=1_000_000)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--skip-memory-check", action="store_true",
                        help="for sanitizer builds, whose allocator quarantine grows memory by design")
    args = parser.parse_args()
    process = subprocess.Popen([args.demo, "--port", "0", "--max-concurrency", "256"], stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, text=True)
    port = int(process.stdout.readline().strip().rsplit(":", 1)[1])
    try:
        wrk(port, 3, args.connections)  # warm-up: allocators, caches, thread pools, timers
        # The baseline is taken once the warm-up's connections are closed (the runtime opens a
        # few descriptors of its own lazily, such as the timer behind Task.sleep).
        time.sleep(1)
        baseline_fds = descriptors(process.pid)
        warm_rss = resident_kib(process.pid)
        total = bad = socket_errors = 0
        start = time.monotonic()
        while total < args.requests:
            seconds = max(2, min(20, int((args.requests - total) / 30000) + 1))
            checked, round_bad, round_errors, text = wrk(port, seconds, args.connections)
            total, bad, socket_errors = total + checked, bad + round_bad, socket_errors + round_errors
            if round_bad:
                print(text, file=sys.stderr)
        elapsed = time.monotonic() - start
        # wrk closed its connections: the server closes its side on EOF.
        deadline = time.monotonic() + 10
        while descriptors(process.pid) > baseline_fds and time.monotonic() < deadline:
            time.sleep(0.1)
        end_fds = descriptors(process.pid)
        end_rss = resident_kib(process.pid)
        final = stats(port)
    finally:
        process.terminate()
        code = process.wait(timeout=30)
    growth = (end_rss - warm_rss) / warm_rss * 100
    print(f"soak: {total} requests in {elapsed:.1f} s ({total / elapsed:.0f}/s), {bad} bad responses, "
          f"{socket_errors} socket errors")
    print(f"soak: descriptors {baseline_fds} before, {end_fds} after; resident memory {warm_rss} KiB after "
          f"warm-up, {end_rss} KiB at the end ({growth:+.1f}%); in_flight {final['in_flight']}, queued "
          f"{final['queued']}; exit {code}")
    memory_ok = args.skip_memory_check or growth < 5.0
    ok = (bad == 0 and socket_errors == 0 and end_fds <= baseline_fds and memory_ok
          and final["in_flight"] == 0 and final["queued"] == 0 and code == 0 and total >= args.requests)
    print("soak: passed" if ok else "soak: FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
