#!/usr/bin/env python3
"""make rolling: two demo instances behind HAProxy under steady load, restarted one at a time
with a graceful drain (SIGTERM), while wrk keeps sending. Counts the failed requests (target 0).

This is the recipe for running Sluice on more than one machine: a load balancer with health
checks and retries in front, and instances that drain on SIGTERM.
"""
import argparse
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

CONFIG = """global
    maxconn 4096
defaults
    mode http
    timeout connect 1s
    timeout client 30s
    timeout server 30s
    retries 3
    option redispatch
    retry-on conn-failure empty-response response-timeout
frontend web
    bind 127.0.0.1:{front}
    default_backend demos
backend demos
    balance roundrobin
    option httpchk GET /hello
    server a 127.0.0.1:{a} check inter 100ms fall 1 rise 2
    server b 127.0.0.1:{b} check inter 100ms fall 1 rise 2
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_demo(path, port):
    process = subprocess.Popen([path, "--port", str(port), "--drain-timeout-ms", "5000"], stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, text=True)
    assert process.stdout.readline().startswith("listening on"), "demo did not start"
    return process


def healthy(port):
    try:
        return urllib.request.urlopen(f"http://127.0.0.1:{port}/hello", timeout=1).status == 200
    except OSError:
        return False


def restart(path, processes, name, port):
    processes[name].send_signal(signal.SIGTERM)
    code = processes[name].wait(timeout=15)
    assert code == 0, f"{name} exited {code}"
    processes[name] = start_demo(path, port)
    deadline = time.monotonic() + 10
    while not healthy(port) and time.monotonic() < deadline:
        time.sleep(0.05)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("demo")
    parser.add_argument("--seconds", type=int, default=12)
    args = parser.parse_args()
    ports = {"a": free_port(), "b": free_port()}
    front = free_port()
    processes = {name: start_demo(args.demo, port) for name, port in ports.items()}
    with tempfile.NamedTemporaryFile("w", suffix=".cfg", delete=False) as config:
        config.write(CONFIG.format(front=front, **ports))
    haproxy = subprocess.Popen(["haproxy", "-db", "-f", config.name], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while not healthy(front) and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)  # both servers up in HAProxy's view (rise 2)
        wrk = subprocess.Popen(["wrk", "-t1", "-c16", f"-d{args.seconds}s", f"http://127.0.0.1:{front}/work?ms=5"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        third = args.seconds / 3
        time.sleep(third)
        restart(args.demo, processes, "a", ports["a"])
        time.sleep(max(0.5, third - 1))
        restart(args.demo, processes, "b", ports["b"])
        output = wrk.communicate(timeout=args.seconds + 30)[0]
    finally:
        haproxy.terminate()
        haproxy.wait()
        for process in processes.values():
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=15)
        os.unlink(config.name)
    requests = int(re.search(r"(\d+) requests in", output).group(1))
    non2xx = int(m.group(1)) if (m := re.search(r"Non-2xx or 3xx responses: (\d+)", output)) else 0
    errors = sum(map(int, m.groups())) if (m := re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)) else 0
    failed = non2xx + errors
    print(f"rolling: {requests} requests through HAProxy while both instances restarted in turn; "
          f"{failed} failed ({non2xx} non-2xx, {errors} socket errors)")
    print("rolling: passed" if failed == 0 else "rolling: FAILED")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
