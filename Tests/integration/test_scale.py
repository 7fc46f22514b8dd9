"""The demo contract at other scales: thousands of requests at once, odd capacities, several loops.

The rest of the suite holds each behaviour at the scale that shows it; these hold the same
promises where a server that is right at 16 requests could still be wrong: counts that must be
exact across event loops, and admission that must stay exact when the numbers are not round.
Requests go out together from one asyncio loop, each on its own connection.
"""
import json
import resource
import time

import pytest

from http_client import request, run_all, stats


def connections_allowed(wanted):
    """As many connections as the descriptor limit leaves room for (the suite raised it)."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return max(100, min(wanted, soft - 200))


@pytest.mark.parametrize("io_threads", [1, 3])
def test_thousands_at_once_all_run_together(start_demo, io_threads):
    count = connections_allowed(2000)
    demo = start_demo("--io-threads", io_threads, "--max-concurrency", count + 500, "--max-queue", 0)
    start = time.monotonic()
    answers = run_all(demo.port, "GET", [f"/work?ms=1500&id=r{i}" for i in range(count)])
    elapsed = time.monotonic() - start
    assert [status for status, _, _ in answers] == [200] * count
    # Each answer is its own request's: its id back, and a request id of its own.
    assert [json.loads(body)["id"] for _, _, body in answers] == [f"r{i}" for i in range(count)]
    request_ids = [json.loads(body)["request_id"] for _, _, body in answers]
    assert len(set(request_ids)) == count
    assert all(json.loads(body)["request_id"] == headers["x-request-id"] for _, headers, body in answers)
    # Serialized they would take count * 1.5 s; together, one sleep and the connecting.
    assert elapsed < 20
    after = stats(demo.port)
    assert after["max_in_flight"] >= count // 2
    assert after["completed"] == count and after["in_flight"] == 0 and after["rejected"] == 0


@pytest.mark.parametrize("io_threads", [1, 3])
def test_odd_capacity_admits_exactly_limit_plus_queue(start_demo, io_threads):
    demo = start_demo("--io-threads", io_threads, "--max-concurrency", 7, "--max-queue", 13)
    answers = run_all(demo.port, "GET", [f"/work?ms=1000&id={i}" for i in range(100)])
    statuses = [status for status, _, _ in answers]
    assert statuses.count(200) == 20
    assert statuses.count(503) == 80
    assert all("retry-after" in headers for status, headers, _ in answers if status == 503)
    after = stats(demo.port)
    assert after["max_in_flight"] == 7
    assert after["rejected"] == 80 and after["completed"] == 20


@pytest.mark.parametrize("io_threads", [1, 3])
def test_counter_is_exact_over_many_connections_and_loops(start_demo, io_threads):
    demo = start_demo("--io-threads", io_threads, "--max-concurrency", 64)
    total, batch = 6000, connections_allowed(500)
    values = []
    for first in range(0, total, batch):
        size = min(batch, total - first)
        answers = run_all(demo.port, "POST", ["/counter/increment"] * size)
        assert all(status == 200 for status, _, _ in answers)
        values += [json.loads(body)["value"] for _, _, body in answers]
    # Every increment saw its own value: no two alike, none lost.
    assert sorted(values) == list(range(1, total + 1))
    assert request(demo.port, "GET", "/counter").json()["value"] == total
