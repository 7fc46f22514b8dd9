#!/usr/bin/env python3
"""make bench-peers: Sluice side by side with the servers users would pick instead.

Every server runs pinned to CPU 0 (taskset), wrk -t1 to CPU 1. After a warm-up, rounds are
interleaved over all servers and workloads (each round: every workload, A B C ... each), and
medians are reported: requests/s, p50/p99, server CPU time per request (its whole process
tree, from /proc), peak resident memory, and errors. A run during which other processes used
more than a little CPU is repeated, not kept. Writes Benchmarks/results/peers.md and peers.svg.
"""
import argparse
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
TICKS = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")
WORKLOADS = [
    ("GET /hello, 64 connections", "/hello", 64, None),
    ("GET /json, 64 connections", "/json", 64, None),
    ("POST /echo 4 KiB, 64 connections", "/echo", 64, os.path.join(HERE, "peers", "post4k.lua")),
    ("GET /hello, 1000 connections", "/hello", 1000, None),
    # As TechEmpower's plaintext test sends them: wrk counts each answer as a request.
    ("GET /hello pipelined 16 deep, 64 connections", "/hello", 64, os.path.join(HERE, "peers", "pipeline16.lua")),
]
# The bars of the performance issue, against the Swift demo on GET /hello with 64 connections.
BARS = {"nginx": 0.9, "node http": 1.8, "Hummingbird 2": 4.0}


def raise_descriptor_limit():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def tree(pid):
    """pid and all its descendants."""
    pids, queue = [], [pid]
    while queue:
        current = queue.pop()
        pids.append(current)
        try:
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as children:
                    queue.extend(int(c) for c in children.read().split())
        except OSError:
            pass
    return pids


def tree_cpu_seconds(pid):
    total = 0
    for p in tree(pid):
        try:
            with open(f"/proc/{p}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except OSError:
            pass
    return total / TICKS


def tree_peak_rss_kib(pid):
    total = 0
    for p in tree(pid):
        try:
            with open(f"/proc/{p}/status") as status:
                total += int(re.search(r"VmHWM:\s+(\d+)", status.read()).group(1))
        except (OSError, AttributeError):
            pass
    return total


def reset_tree_peak_rss(pid):
    """Starts each process's VmHWM again from its current RSS (clear_refs 5, Linux 4.0+)."""
    for p in tree(pid):
        try:
            with open(f"/proc/{p}/clear_refs", "w") as clear:
                clear.write("5")
        except OSError:
            pass


def busy_seconds():
    """CPU time spent in processes (user, nice, system); interrupt time is left out, since the
    loopback traffic of the run itself produces it."""
    with open("/proc/stat") as stat:
        fields = [int(x) for x in stat.readline().split()[1:]]
    return (fields[0] + fields[1] + fields[2]) / TICKS


def write_nginx_config(directory, port):
    """The benchmark's nginx configuration, serving on port with its files in directory; its path."""
    with open(os.path.join(HERE, "peers", "nginx.conf.in")) as template:
        config = template.read().replace("@DIR@", directory).replace("@PORT@", str(port))
    path = os.path.join(directory, f"nginx-{port}.conf")
    with open(path, "w") as out:
        out.write(config)
    return path


def answers(port):
    """Whether a server answers GET /hello on 127.0.0.1:port."""
    try:
        return urllib.request.urlopen(f"http://127.0.0.1:{port}/hello", timeout=1).status == 200
    except OSError:
        return False


class Peer:
    def __init__(self, name, command, port, cwd=None):
        self.name, self.command, self.port, self.cwd = name, command, port, cwd
        self.process = None

    def start(self):
        # Whatever answers on the port must be this peer: a stale server left on it would be
        # measured in its place (and its CPU counted as "other").
        if answers(self.port):
            raise RuntimeError(f"port {self.port} already answers before {self.name} starts")
        self.process = subprocess.Popen(["taskset", "-c", "0", *self.command], cwd=self.cwd,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                        preexec_fn=raise_descriptor_limit)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and self.process.poll() is None:
            if answers(self.port):
                return
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} did not start (exit code {self.process.poll()})")

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()


def to_ms(text):
    value, unit = re.match(r"([\d.]+)(us|ms|s|m)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def wrk(port, path, connections, seconds, script):
    command = ["taskset", "-c", "1", "wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "5s"]
    if script:
        command += ["-s", script]
    output = subprocess.run(command + [f"http://127.0.0.1:{port}{path}"], capture_output=True, text=True,
                            preexec_fn=raise_descriptor_limit).stdout
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if not re.search(r"^\s+99%", output, re.MULTILINE):
        # Nothing completed (wrk prints no latency table): a failed run, kept as such.
        print(f"  wrk produced no latencies for port {port} {path}: {output.strip()[-300:]}", flush=True)
        return {"rps": 0.0, "requests": 0, "p50": 0.0, "p99": 0.0, "errors": 1}
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
        "requests": int(re.search(r"(\d+) requests in", output).group(1)),
        "p50": to_ms(re.search(r"^\s+50%\s+(\S+)", output, re.MULTILINE).group(1)),
        "p99": to_ms(re.search(r"^\s+99%\s+(\S+)", output, re.MULTILINE).group(1)),
        "errors": (sum(map(int, errors.groups())) if errors else 0) + (int(non2xx.group(1)) if non2xx else 0),
    }


def measure(peer, workload, seconds):
    _, path, connections, script = workload
    for _attempt in range(3):
        cpu_before, busy_before = tree_cpu_seconds(peer.process.pid), busy_seconds()
        children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        result = wrk(peer.port, path, connections, seconds, script)
        children_after = resource.getrusage(resource.RUSAGE_CHILDREN)
        server_cpu = tree_cpu_seconds(peer.process.pid) - cpu_before
        wrk_cpu = (children_after.ru_utime + children_after.ru_stime) - (children_before.ru_utime + children_before.ru_stime)
        others = busy_seconds() - busy_before - server_cpu - wrk_cpu
        result["cpu_us"] = server_cpu / max(result["requests"], 1) * 1e6
        result["others"] = others
        if others < 0.05 * seconds * 2:  # under 5% of the two cores: a quiet run
            return result
        print(f"  noisy run ({others:.2f} s of other CPU), repeating", flush=True)
    return result


def judged(ratio, meets):
    """A ratio as the report prints it, and whether it meets its bar ("met" or "NOT met"): two
    decimals, or as many more as it takes for a miss not to read as met, or the other way round
    (3.995 against a bar of 4 is not 4.00)."""
    digits = 2
    while digits < 6 and meets(round(ratio, digits)) != meets(ratio):
        digits += 1
    return f"**{ratio:.{digits}f}×**", "met" if meets(ratio) else "NOT met"


def svg_chart(rows, path):
    """Two bar charts side by side: requests/s and server CPU µs per request (GET /hello, -c64)."""
    width, bar, gap, left = 900, 22, 8, 190
    height = 60 + len(rows) * (bar + gap)
    top_rps = max(r[1] for r in rows) or 1
    top_cpu = max(r[2] for r in rows) or 1
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="12">',
             '<text x="10" y="20" font-size="14">GET /hello, 64 connections: requests/s (left), server CPU µs/request (right)</text>']
    for i, (name, rps, cpu) in enumerate(rows):
        y = 40 + i * (bar + gap)
        color = "#1f77b4" if name.startswith("Sluice") else "#999999"
        parts.append(f'<text x="10" y="{y + 15}">{name}</text>')
        w = (width / 2 - left) * rps / top_rps
        parts.append(f'<rect x="{left}" y="{y}" width="{w:.0f}" height="{bar}" fill="{color}"/>')
        parts.append(f'<text x="{left + w + 4:.0f}" y="{y + 15}">{rps:,.0f}</text>')
        x2 = width / 2 + 70
        w2 = (width / 2 - 120) * cpu / top_cpu
        parts.append(f'<rect x="{x2:.0f}" y="{y}" width="{w2:.0f}" height="{bar}" fill="{color}" opacity="0.7"/>')
        parts.append(f'<text x="{x2 + w2 + 4:.0f}" y="{y + 15}">{cpu:.1f}</text>')
    parts.append("</svg>")
    with open(path, "w") as out:
        out.write("\n".join(parts) + "\n")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--swift-demo", required=True)
    parser.add_argument("--c-demo", required=True)
    parser.add_argument("--hummingbird", required=True)
    parser.add_argument("--venv", required=True, help="a venv with uvicorn, fastapi, starlette, uvloop, httptools")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    work = tempfile.mkdtemp(prefix="sluice-peers-")
    nginx_config = write_nginx_config(work, 18203)
    uvicorn = os.path.join(args.venv, "bin", "uvicorn")
    peers_dir = os.path.join(HERE, "peers")
    peers = [
        Peer("Sluice (Swift demo)", [args.swift_demo, "--port", "18201"], 18201),
        Peer("Sluice (C demo)", [args.c_demo, "--port", "18202"], 18202),
        Peer("Sluice (Swift, 2 io threads)", [args.swift_demo, "--port", "18208", "--io-threads", "2"], 18208),
        Peer("nginx", ["nginx", "-c", nginx_config], 18203),
        Peer("node http", ["node", os.path.join(peers_dir, "node-server.js"), "18204"], 18204),
        Peer("Hummingbird 2", [args.hummingbird, "18205"], 18205),
        Peer("uvicorn + FastAPI", [uvicorn, "fastapi_app:app", "--port", "18206", "--loop", "uvloop", "--http",
                                   "httptools", "--log-level", "warning", "--no-access-log"], 18206, peers_dir),
        Peer("uvicorn + Starlette", [uvicorn, "starlette_app:app", "--port", "18207", "--loop", "uvloop", "--http",
                                     "httptools", "--log-level", "warning", "--no-access-log"], 18207, peers_dir),
    ]
    results = {(p.name, w[0]): [] for p in peers for w in WORKLOADS}
    try:
        for peer in peers:
            peer.start()
        def applicable(workload):
            return [p for p in peers if not (p.name == "nginx" and workload[1] == "/echo")]

        for workload in WORKLOADS:
            for peer in applicable(workload):
                wrk(peer.port, workload[1], workload[2], 2, workload[3])  # warm-up
        # Round after round of every workload, so that each workload's median samples the whole
        # run: the machine's speed drifts over minutes, and ratios between workloads (POST /echo
        # against GET /hello) would otherwise compare different stretches of it.
        workload_peak = {}
        for round_number in range(args.rounds):
            for workload in WORKLOADS:
                for peer in applicable(workload):
                    # Each measurement's own peak; a workload's is the highest over its rounds.
                    key = (peer.name, workload[0])
                    reset_tree_peak_rss(peer.process.pid)
                    result = measure(peer, workload, args.seconds)
                    results[key].append(result)
                    workload_peak[key] = max(workload_peak.get(key, 0), tree_peak_rss_kib(peer.process.pid))
                    print(f"{workload[0]} round {round_number + 1} {peer.name}: {result['rps']:.0f} req/s, "
                          f"p99 {result['p99']:.2f} ms, {result['cpu_us']:.2f} µs CPU/req, {result['errors']} errors",
                          flush=True)
        peak = {p.name: max(workload_peak.get((p.name, w[0]), 0) for w in WORKLOADS) for p in peers}
    finally:
        for peer in peers:
            peer.stop()
        shutil.rmtree(work, ignore_errors=True)

    lines = [f"`make bench-peers`: wrk -t1 -d{args.seconds}s, servers on CPU 0, wrk on CPU 1, median of {args.rounds} "
             "interleaved rounds; CPU is the server's whole process tree per request.", ""]
    medians = {}
    for workload in WORKLOADS:
        lines += [f"### {workload[0]}", "", "| server | requests/s | p50 ms | p99 ms | server CPU µs/request | errors |",
                  "|---|---:|---:|---:|---:|---:|"]
        for peer in peers:
            runs = results[(peer.name, workload[0])]
            if not runs:
                lines.append(f"| {peer.name} | n/a | | | | |")
                continue
            m = {k: statistics.median(r[k] for r in runs) for k in ("rps", "p50", "p99", "cpu_us")}
            m["errors"] = sum(r["errors"] for r in runs)
            medians[(peer.name, workload[0])] = m
            lines.append(f"| {peer.name} | {m['rps']:.0f} | {m['p50']:.2f} | {m['p99']:.2f} | {m['cpu_us']:.2f} | {m['errors']} |")
        lines.append("")
    lines += ["### Peak resident memory (MiB)", "",
              "Each workload's own peak (VmHWM reset before each of its rounds; the highest round), and the whole run's.", "",
              "| server | " + " | ".join(w[0] for w in WORKLOADS) + " | whole run |",
              "|---|" + "---:|" * (len(WORKLOADS) + 1)]
    for name, kib in peak.items():
        cells = [f"{workload_peak[(name, w[0])] / 1024:.1f}" if (name, w[0]) in workload_peak else "n/a" for w in WORKLOADS]
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {kib / 1024:.1f} |")
    hello = WORKLOADS[0][0]
    swift = medians[("Sluice (Swift demo)", hello)]
    lines += ["", "### Against the bars (Swift demo, GET /hello, 64 connections)", ""]
    for name, bar in BARS.items():
        ratio = swift["rps"] / medians[(name, hello)]["rps"]
        shown, verdict = judged(ratio, lambda r: r >= bar)
        lines.append(f"- requests/s vs {name}: {shown} (bar ≥ {bar}×) {verdict}")
    cpu_ratio = swift["cpu_us"] / medians[("nginx", hello)]["cpu_us"]
    shown, verdict = judged(cpu_ratio, lambda r: r <= 1.2)
    lines.append(f"- server CPU per request vs nginx: {shown} (bar ≤ 1.2×) {verdict}")
    c_ratio = medians[("Sluice (C demo)", hello)]["rps"] / swift["rps"]
    shown, verdict = judged(c_ratio, lambda r: abs(1 - r) <= 0.1)
    lines.append(f"- C demo vs Swift demo: {shown} (bar: within 10%) {verdict}")
    big = medians[("Sluice (Swift demo)", WORKLOADS[3][0])]
    big_peak = workload_peak[("Sluice (Swift demo)", WORKLOADS[3][0])] / 1024
    lines.append(f"- 1000 connections: p99 {big['p99']:.1f} ms (bar ≤ 20 ms) {'met' if big['p99'] <= 20 else 'NOT met'}, "
                 f"peak RSS {big_peak:.1f} MiB (bar ≤ 16 MiB) {'met' if big_peak <= 16 else 'NOT met'} "
                 f"(whole run: {peak['Sluice (Swift demo)'] / 1024:.1f} MiB), {big['errors']} errors (bar: none)")
    echo = medians[("Sluice (Swift demo)", WORKLOADS[2][0])]
    echo_ratio = echo['rps'] / swift['rps']
    shown, verdict = judged(echo_ratio, lambda r: r >= 0.75)
    lines.append(f"- POST /echo 4 KiB vs GET /hello: {shown} (bar ≥ 0.75×) {verdict}")
    os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
    with open(os.path.join(HERE, "results", "peers.md"), "w") as out:
        out.write("\n".join(lines) + "\n")
    svg_chart([(p.name, medians[(p.name, hello)]["rps"], medians[(p.name, hello)]["cpu_us"]) for p in peers],
              os.path.join(HERE, "results", "peers.svg"))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
