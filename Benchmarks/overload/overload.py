#!/usr/bin/env python3
"""make overload: the demo under 10x the load it can complete, open loop.

Requests arrive at a fixed rate whatever the server does (each on its own connection), so a
slow server cannot slow the offered load down. The demo runs with a small capacity
(--max-concurrency C, /work?ms=S: C/S requests per second) and a queue of Q; then:
  - capacity: measured first in a closed loop of exactly max-concurrency clients, so nothing
    queues and nothing is shed;
  - overload: 10x that; admitted requests must keep p99 within the queue bound x service
    time (with slack for the client), the excess must get 503 promptly (p99 < 100 ms), goodput
    must stay >= 90% of capacity, and resident memory bounded.
"""
import argparse
import asyncio
import os
import re
import statistics
import subprocess
import sys
import time


async def one(port, target, results, started):
    begin = time.monotonic()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(f"GET {target} HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n".encode())
        await writer.drain()
        data = await asyncio.wait_for(reader.read(), timeout=30)
        writer.close()
        status = int(data[9:12]) if data.startswith(b"HTTP/1.1 ") else -1
    except (OSError, asyncio.TimeoutError, ValueError):
        status = -1
    results.append((status, time.monotonic() - begin, begin - started))


async def offer(port, rate, seconds, service_ms):
    """Sends rate requests per second for seconds, on schedule; returns (status, latency, at)."""
    results, tasks = [], []
    started = time.monotonic()
    total = int(rate * seconds)
    for i in range(total):
        due = started + i / rate
        delay = due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(port, f"/work?ms={service_ms}&id={i}", results, started)))
    await asyncio.gather(*tasks)
    return results, time.monotonic() - started


async def closed_loop(port, clients, seconds, service_ms):
    """Exactly `clients` requests in flight at any time; returns completed requests per second."""
    done = []
    stop = time.monotonic() + seconds

    async def client():
        while time.monotonic() < stop:
            results = []
            await one(port, f"/work?ms={service_ms}", results, 0)
            done.extend(status for status, _, _ in results if status == 200)

    started = time.monotonic()
    await asyncio.gather(*(client() for _ in range(clients)))
    return len(done) / (time.monotonic() - started)


def resident_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        return int(re.search(r"VmRSS:\s+(\d+)", status.read()).group(1))


def percentile(values, p):
    if not values:
        return 0.0
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("demo")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--queue", type=int, default=8)
    parser.add_argument("--service-ms", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=10)
    args = parser.parse_args()
    nominal = args.concurrency * 1000 / args.service_ms
    process = subprocess.Popen([args.demo, "--port", "0", "--max-concurrency", str(args.concurrency),
                                "--max-queue", str(args.queue), "--queue-timeout-ms", "5000"],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    port = int(process.stdout.readline().strip().rsplit(":", 1)[1])
    try:
        capacity = asyncio.run(closed_loop(port, args.concurrency, args.seconds, args.service_ms))
        rss_before = resident_kib(process.pid)
        load, elapsed = asyncio.run(offer(port, capacity * 10, args.seconds, args.service_ms))
        rss_after = resident_kib(process.pid)
    finally:
        process.terminate()
        code = process.wait(timeout=30)
    admitted = [latency for status, latency, _ in load if status == 200]
    shed = [latency for status, latency, _ in load if status == 503]
    failed = sum(1 for status, _, _ in load if status not in (200, 503))
    goodput = len(admitted) / elapsed
    bound = (args.queue / args.concurrency + 1) * args.service_ms / 1000
    p99_admitted, p99_shed = percentile(admitted, 0.99), percentile(shed, 0.99)
    print(f"overload: capacity {capacity:.0f} req/s (nominal {nominal:.0f}); offered {capacity * 10:.0f} req/s "
          f"for {args.seconds:.0f} s: {len(admitted)} admitted, {len(shed)} shed with 503, {failed} failed")
    print(f"overload: goodput {goodput:.0f} req/s ({goodput / capacity * 100:.0f}% of capacity); p99 admitted "
          f"{p99_admitted * 1000:.0f} ms (bound {bound * 1000:.0f} ms + client slack), p99 of 503s "
          f"{p99_shed * 1000:.0f} ms; resident memory {rss_before} -> {rss_after} KiB; exit {code}")
    # The client's own scheduling (Python, one core, thousands of sockets) adds latency: 50 ms slack.
    ok = (goodput >= 0.9 * capacity and p99_admitted <= bound + 0.05 and p99_shed < 0.1 and failed == 0
          and rss_after < rss_before * 1.5 + 8192 and code == 0)
    print("overload: passed" if ok else "overload: FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
