#!/usr/bin/env python3
"""make overload: the demo driven through overload scenarios by an open-loop generator.

The demo's /work calls a simulated dependency that serves two calls at once (--work-capacity
2), so its capacity is 2 / service time, and admitting more only queues inside handlers.
Each scenario runs twice: with the adaptive limit (--adaptive-target-ms) and with a fixed
limit of 16 (the adaptive limit's own starting point, frozen: what one would set at no load,
where both behave alike). Both use the same queue (1024, 5 s timeout) and a 20% guaranteed
share for the fast routes; /health (never shed) is polled at 10/s throughout.

  step      /work at 0.5x capacity, then 10x, then 0.5x
  slowdown  /work at 0.5x capacity while its latency jumps from 10 ms to 200 ms, and back
  mix       /work?ms=200 at 0.5x, then saturated at 10x its capacity, while /json runs steadily

Bars, for the adaptive limit: p99 of admitted requests within 2x the target in every
second; goodput >= 90% of the capacity measured without overload (closed loop, two
clients) over each overload phase after its first second; the fast route keeps >= 90% of
its goodput measured alone; no /health request shed or failed; no client failure; resident
memory bounded. Writes Benchmarks/results/overload.md and overload-<scenario>.svg.
"""
import argparse
import csv
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

import plot

HERE = os.path.dirname(os.path.abspath(__file__))
TARGET_MS = 500
COMMON = ["--work-capacity", "2", "--max-queue", "1024", "--queue-timeout-ms", "5000", "--fast-share", "20"]
CONFIGS = {
    "adaptive": ["--adaptive-target-ms", str(TARGET_MS), "--max-concurrency", "256", "--min-limit", "1"],
    "fixed": ["--max-concurrency", "16"],
}
HEALTH_RATE = 10
FAST_RATE = 200


def configure(target_ms, slots):
    """Other scales than the defaults: the target, and the dependency's slots."""
    global TARGET_MS
    TARGET_MS = target_ms
    COMMON[1] = str(slots)
    CONFIGS["adaptive"][1] = str(target_ms)


class Demo:
    def __init__(self, path, flags):
        self.process = subprocess.Popen([path, "--port", "0", *flags], stdout=subprocess.PIPE,
                                        stderr=subprocess.DEVNULL, text=True)
        self.port = int(self.process.stdout.readline().strip().rsplit(":", 1)[1])
        self.samples = []  # (seconds, limit, rss_kib)
        self.adaptive = []  # the adaptive limit's figures, with each sample
        self._stop = threading.Event()

    def rss_kib(self):
        with open(f"/proc/{self.process.pid}/status") as status:
            return int(re.search(r"VmRSS:\s+(\d+)", status.read()).group(1))

    def watch(self, started):
        """Polls /stats every 100 ms: the limit over time, and memory."""
        import json
        while not self._stop.is_set():
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/stats", timeout=2) as response:
                    stats = json.load(response)
                self.samples.append((time.monotonic() - started, stats["limit"], self.rss_kib()))
                self.adaptive.append(stats["adaptive"])
            except OSError:
                pass
            self._stop.wait(0.1)

    def stop(self):
        self._stop.set()
        self.process.terminate()
        return self.process.wait(timeout=60)


def run_schedule(loadgen, port, lines):
    with tempfile.TemporaryDirectory() as scratch:
        schedule, out = os.path.join(scratch, "schedule"), os.path.join(scratch, "out.csv")
        with open(schedule, "w") as file:
            file.write("\n".join(lines) + "\n")
        finished = subprocess.run([loadgen, str(port), schedule, out], check=True, stderr=subprocess.PIPE, text=True)
        # Requests re-sent because an idle keep-alive connection closed as they went out.
        if finished.stderr.strip():
            print(f"overload: {finished.stderr.strip()}")
        with open(out) as file:
            return [(row["stream"], float(row["sent_ms"]) / 1000, float(row["latency_ms"]) / 1000, int(row["status"]))
                    for row in csv.DictReader(file)]


def capacity(loadgen, demo_path, service_ms, seconds):
    """Requests per second two back-to-back clients get from /work: nothing queues or is shed."""
    demo = Demo(demo_path, COMMON + CONFIGS["fixed"])
    try:
        rows = run_schedule(loadgen, demo.port, [f"closed {COMMON[1]} {seconds} /work?ms={service_ms}"])
    finally:
        demo.stop()
    return sum(1 for row in rows if row[3] == 200) / seconds


def alone(loadgen, demo_path, line):
    """Successful requests of one stream run alone."""
    demo = Demo(demo_path, COMMON + CONFIGS["fixed"])
    try:
        rows = run_schedule(loadgen, demo.port, [line])
    finally:
        demo.stop()
    return sum(1 for row in rows if row[3] == 200)


def scenarios(c10, c200, t):
    """Per scenario: schedule lines, the overload phases [(name, start, end, stream, capacity)], length."""
    t1, t2 = t
    total = 2 * t1 + t2
    health = f"health {total} {HEALTH_RATE} /health"
    return {
        "step": ([f"work {t1} {0.5 * c10:.1f} /work?ms=10", f"work {t2} {10 * c10:.1f} /work?ms=10",
                  f"work {t1} {0.5 * c10:.1f} /work?ms=10", health],
                 [("10x", t1, t1 + t2, "work", c10)], total),
        "slowdown": ([f"work {t1} {0.5 * c10:.1f} /work?ms=10", f"work {t2} {0.5 * c10:.1f} /work?ms=200",
                      f"work {t1} {0.5 * c10:.1f} /work?ms=10", health],
                     [("200 ms", t1, t1 + t2, "work", c200)], total),
        "mix": ([f"work {t1} {0.5 * c200:.1f} /work?ms=200", f"work {t2 + t1} {10 * c200:.1f} /work?ms=200",
                 f"fast {total} {FAST_RATE} /json", health],
                [("slow saturated", t1, total, "work", c200), ("fast route", t1, total, "fast", None)], total),
    }


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))] if values else None


def analyse(rows, samples, phases, total, fast_alone):
    seconds = int(total) + 1
    work = [r for r in rows if r[0] in ("work", "fast")]
    offered = [sum(1 for r in rows if r[0] == "work" and int(r[1]) == s) for s in range(seconds)]
    goodput = [sum(1 for r in rows if r[0] == "work" and r[3] == 200 and int(r[1] + r[2]) == s) for s in range(seconds)]
    p99 = [percentile([r[2] for r in work if r[3] == 200 and int(r[1]) == s], 0.99) for s in range(seconds)]
    limit = [(t, l) for t, l, _ in samples]
    result = {"offered": offered, "goodput": goodput, "p99": p99, "limit": limit,
              "worst_p99": max([p for p in p99 if p is not None] or [0]),
              "health_bad": sum(1 for r in rows if r[0] == "health" and r[3] != 200),
              "client_failed": sum(1 for r in rows if r[3] <= 0),
              "no_connection": sum(1 for r in rows if r[3] < 0),
              "shed": sum(1 for r in rows if r[3] in (503, 429)),
              "rss": (samples[0][2], max(s[2] for s in samples)) if samples else (0, 0),
              "phases": []}
    for name, start, end, stream, cap in phases:
        window = end - start - 1
        done = sum(1 for r in rows if r[0] == stream and r[3] == 200 and start + 1 <= r[1] + r[2] < end)
        rate = done / window
        reference = cap if cap is not None else fast_alone
        result["phases"].append((name, rate, reference, rate / reference if reference else 0))
    return result


def run_scenario(loadgen, demo_path, config, lines, total):
    demo = Demo(demo_path, COMMON + CONFIGS[config])
    watcher = threading.Thread(target=demo.watch, args=(time.monotonic(),))
    watcher.start()
    try:
        rows = run_schedule(loadgen, demo.port, lines)
    finally:
        code = demo.stop()
        watcher.join()
    if os.environ.get("OVERLOAD_TRACE"):
        for (t, limit, _), adaptive in zip(demo.samples, demo.adaptive):
            print(f"    {t:5.1f} s limit {limit:3d} {adaptive}")
    return rows, demo.samples, code


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("demo")
    parser.add_argument("loadgen")
    parser.add_argument("--short", action="store_true", help="the short variants run by make test")
    parser.add_argument("--report", default=os.path.join(HERE, "..", "results"))
    parser.add_argument("--only", help="run one scenario, and print its series")
    parser.add_argument("--target-ms", type=int, default=TARGET_MS, help="the adaptive limit's target")
    parser.add_argument("--slots", type=int, default=2, help="calls the simulated dependency serves at once")
    args = parser.parse_args()
    configure(args.target_ms, args.slots)
    t = (3, 6) if args.short else (10, 20)
    c10 = capacity(args.loadgen, args.demo, 10, 3 if args.short else 5)
    c200 = capacity(args.loadgen, args.demo, 200, 3 if args.short else 5)
    fast_alone = alone(args.loadgen, args.demo, f"fast 3 {FAST_RATE} /json") / 3
    print(f"overload: capacity {c10:.0f} req/s at 10 ms, {c200:.1f} req/s at 200 ms; /json alone {fast_alone:.0f} req/s")
    results, failures = {}, []
    for name, (lines, phases, total) in scenarios(c10, c200, t).items():
        if args.only and name != args.only:
            continue
        for config in CONFIGS:
            rows, samples, code = run_scenario(args.loadgen, args.demo, config, lines, total)
            result = analyse(rows, samples, phases, total, fast_alone)
            result["exit"] = code
            results[(name, config)] = result
            phases_text = ", ".join(f"{p[0]} {p[1]:.1f} req/s ({p[3] * 100:.0f}%)" for p in result["phases"])
            print(f"overload: {name:9s} {config:8s} worst p99 {result['worst_p99'] * 1000:6.0f} ms; {phases_text}; "
                  f"shed {result['shed']}; health not 200: {result['health_bad']}; client failures "
                  f"{result['client_failed']}; RSS {result['rss'][0]} -> {result['rss'][1]} KiB; exit {code}")
            if args.only:
                print("  goodput", result["goodput"], "\n  p99", [round(p * 1000) if p else None for p in result["p99"]],
                      "\n  limit", [l for _, l in result["limit"][::5]])
            if config == "adaptive":
                failures += check(name, result)
        plot_scenario(name, results, total, args.report)
    if not args.only:
        write_report(results, c10, c200, fast_alone, t, args.report, args.short)
    for failure in failures:
        print(f"overload: FAILED {failure}")
    print("overload: passed" if not failures else "overload: FAILED")
    return 0 if not failures else 1


def check(name, result):
    failures = []
    if result["worst_p99"] > 2 * TARGET_MS / 1000:
        failures.append(f"{name}: p99 of admitted {result['worst_p99'] * 1000:.0f} ms > 2 x target")
    for phase, rate, reference, ratio in result["phases"]:
        if ratio < 0.9:
            failures.append(f"{name}: goodput in '{phase}' {rate:.1f} req/s < 90% of {reference:.1f}")
    if result["health_bad"]:
        failures.append(f"{name}: {result['health_bad']} /health requests not answered 200")
    if result["client_failed"]:
        failures.append(f"{name}: {result['client_failed']} requests failed at the client "
                        f"({result['no_connection']} found no free connection under the generator's cap)")
    before, peak = result["rss"]
    if peak > before * 2 + 32 * 1024:
        failures.append(f"{name}: resident memory grew from {before} to {peak} KiB")
    if result["exit"] != 0:
        failures.append(f"{name}: demo exited {result['exit']}")
    return failures


def plot_scenario(name, results, total, directory):
    os.makedirs(directory, exist_ok=True)
    adaptive, fixed = results[(name, "adaptive")], results[(name, "fixed")]
    per_second = lambda values: [(s + 0.5, v) for s, v in enumerate(values)]
    ms = lambda values: [(x, None if v is None else v * 1000) for x, v in per_second(values)]
    plot.chart(f"Overload scenario '{name}': adaptive limit (target {TARGET_MS} ms) vs fixed limit 16", [
        ("/work offered and goodput", "req/s", [("offered", plot.COLORS["offered"], per_second(adaptive["offered"]), True),
                                                ("adaptive", plot.COLORS["adaptive"], per_second(adaptive["goodput"]), False),
                                                ("fixed", plot.COLORS["fixed"], per_second(fixed["goodput"]), False)], False),
        ("global limit", "permits", [("adaptive", plot.COLORS["adaptive"], adaptive["limit"], False),
                                     ("fixed", plot.COLORS["fixed"], fixed["limit"], False)], False),
        ("p99 of admitted requests (log)", "ms", [("adaptive", plot.COLORS["adaptive"], ms(adaptive["p99"]), False),
                                                  ("fixed", plot.COLORS["fixed"], ms(fixed["p99"]), False),
                                                  ("2 x target", plot.COLORS["target"],
                                                   [(0, 2 * TARGET_MS), (total, 2 * TARGET_MS)], True)], True),
    ], total, os.path.join(directory, f"overload-{name}.svg"))


def write_report(results, c10, c200, fast_alone, t, directory, short):
    lines = [f"# Overload scenarios ({'short' if short else 'full'}: {t[0]} s / {t[1]} s / {t[0]} s)", "",
             f"Capacity without overload: {c10:.0f} req/s at 10 ms, {c200:.1f} req/s at 200 ms; /json alone "
             f"{fast_alone:.0f} req/s. Target {TARGET_MS} ms (bar: p99 <= {2 * TARGET_MS} ms every second).", "",
             "| scenario | limit | worst p99 of admitted | goodput in overload (vs capacity) | shed | /health not 200 | peak RSS |",
             "|---|---|---|---|---|---|---|"]
    for (name, config), result in results.items():
        phases = "; ".join(f"{p[0]}: {p[1]:.1f} req/s ({p[3] * 100:.0f}%)" for p in result["phases"])
        lines.append(f"| {name} | {config} | {result['worst_p99'] * 1000:.0f} ms | {phases} | {result['shed']} | "
                     f"{result['health_bad']} | {result['rss'][1] / 1024:.1f} MiB |")
    with open(os.path.join(directory, "overload.md"), "w") as out:
        out.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    sys.exit(main())
