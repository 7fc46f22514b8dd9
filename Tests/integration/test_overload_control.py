"""Overload control of the demo contract, black-box: the never-shed class, priorities,
429, a computed Retry-After, weighted budgets, guaranteed shares and the adaptive limit."""
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from conftest import wait_until
from http_client import request, stats


def test_health_is_never_shed_even_with_no_queue(start_demo):
    demo = start_demo("--max-concurrency", 1, "--max-queue", 0)
    with ThreadPoolExecutor(max_workers=8) as pool:
        holder = pool.submit(request, demo.port, "GET", "/work?ms=800&id=holder")
        assert wait_until(lambda: stats(demo.port)["in_flight"] == 1)
        assert request(demo.port, "GET", "/work?ms=1").status == 503
        health = list(pool.map(lambda _: request(demo.port, "GET", "/health"), range(6)))
        assert [r.status for r in health] == [200] * 6
        assert health[0].json() == {"status": "ok"}
        assert holder.result().status == 200
    after = stats(demo.port)
    assert after["shed"] == {"low": 0, "normal": 1, "high": 0, "critical": 0}
    assert after["completed"] == 7 and after["rejected"] == 1


def test_a_full_queue_sheds_low_priority_first(start_demo):
    demo = start_demo("--max-concurrency", 1, "--max-queue", 2)
    finished = []
    lock = threading.Lock()

    def work(name, priority):
        response = request(demo.port, "GET", f"/work?ms=150&id={name}", headers={"X-Priority": priority})
        with lock:
            finished.append((name, response.status))
        return response

    with ThreadPoolExecutor(max_workers=4) as pool:
        holder = pool.submit(work, "holder", "normal")
        assert wait_until(lambda: stats(demo.port)["in_flight"] == 1)
        low1 = pool.submit(work, "low1", "low")
        assert wait_until(lambda: stats(demo.port)["queued"] == 1)
        low2 = pool.submit(work, "low2", "low")
        assert wait_until(lambda: stats(demo.port)["queued"] == 2)
        # Full: another low request is refused; a high one displaces the newest low waiter.
        refused = request(demo.port, "GET", "/work?ms=1", headers={"X-Priority": "low"})
        assert refused.status == 503
        high = pool.submit(work, "high", "high")
        assert low2.result().status == 503
        assert "displaced" in low2.result().json()["error"]
        assert high.result().status == 200 and low1.result().status == 200 and holder.result().status == 200
    order = [name for name, status in finished if status == 200]
    assert order == ["holder", "high", "low1"]
    assert stats(demo.port)["shed"] == {"low": 2, "normal": 0, "high": 0, "critical": 0}


def test_overload_status_can_be_429(start_demo):
    demo = start_demo("--max-concurrency", 1, "--max-queue", 0, "--overload-status", 429)
    with ThreadPoolExecutor(max_workers=1) as pool:
        holder = pool.submit(request, demo.port, "GET", "/work?ms=500")
        assert wait_until(lambda: stats(demo.port)["in_flight"] == 1)
        shed = request(demo.port, "GET", "/work?ms=1")
        assert shed.status == 429
        assert int(shed.header("retry-after")) >= 1
        assert shed.json()["request_id"] == shed.header("x-request-id")
        assert holder.result().status == 200


def test_retry_after_follows_queue_depth_and_service_time(start_demo):
    demo = start_demo("--max-concurrency", 1, "--max-queue", 20, "--queue-timeout-ms", 60000)
    # Teach the server a 100 ms service time.
    for _ in range(3):
        assert request(demo.port, "GET", "/work?ms=100").status == 200
    with ThreadPoolExecutor(max_workers=21) as pool:
        queued = [pool.submit(request, demo.port, "GET", "/work?ms=100") for _ in range(21)]
        assert wait_until(lambda: stats(demo.port)["queued"] == 20)
        shed = request(demo.port, "GET", "/work?ms=100")
        assert shed.status == 503
        # 20 waiting and one running, at 100 ms each on one permit: about 2 s to drain.
        retry_after = int(shed.header("retry-after"))
        assert 2 <= retry_after <= 4, retry_after
        assert all(f.result().status == 200 for f in queued)
    # An idle server's queue drains at once: the minimum, 1 s.
    with ThreadPoolExecutor(max_workers=1) as pool:
        demo2 = start_demo("--max-concurrency", 1, "--max-queue", 0)
        assert request(demo2.port, "GET", "/work?ms=20").status == 200
        holder = pool.submit(request, demo2.port, "GET", "/work?ms=300")
        assert wait_until(lambda: stats(demo2.port)["in_flight"] == 1)
        assert request(demo2.port, "GET", "/work?ms=1").header("retry-after") == "1"
        holder.result()


def test_a_heavy_route_takes_several_permits_of_the_global_budget(start_demo):
    demo = start_demo("--max-concurrency", 4, "--work-weight", 2)
    start = time.monotonic()
    with ThreadPoolExecutor(max_workers=4) as pool:
        responses = list(pool.map(lambda i: request(demo.port, "GET", f"/work?ms=300&id={i}"), range(4)))
    elapsed = time.monotonic() - start
    assert all(r.status == 200 for r in responses)
    # Two at a time (2 × 2 permits of 4): two rounds, where weight 1 would take one.
    assert elapsed >= 0.55, elapsed
    after = stats(demo.port)
    assert after["max_in_flight"] == 4 and after["in_flight"] == 0


def test_a_guaranteed_share_keeps_fast_routes_going_while_a_slow_one_saturates(start_demo):
    demo = start_demo("--max-concurrency", 4, "--max-queue", 100, "--fast-share", 25)
    with ThreadPoolExecutor(max_workers=12) as pool:
        slow = [pool.submit(request, demo.port, "GET", f"/work?ms=1500&id={i}") for i in range(10)]
        # /work may use 3 permits: the fourth is the fast routes' guarantee.
        assert wait_until(lambda: stats(demo.port)["queued"] == 7)
        assert stats(demo.port)["in_flight"] == 3
        for _ in range(20):
            start = time.monotonic()
            assert request(demo.port, "GET", "/json").status == 200
            assert time.monotonic() - start < 0.5, "the fast route waited behind the slow one"
        assert all(f.result().status == 200 for f in slow)


def test_without_a_share_the_fast_route_waits_behind_the_slow_one(start_demo):
    demo = start_demo("--max-concurrency", 4, "--max-queue", 100)
    with ThreadPoolExecutor(max_workers=12) as pool:
        slow = [pool.submit(request, demo.port, "GET", f"/work?ms=1000&id={i}") for i in range(10)]
        assert wait_until(lambda: stats(demo.port)["queued"] == 6)
        start = time.monotonic()
        assert request(demo.port, "GET", "/json").status == 200
        assert time.monotonic() - start >= 0.5
        assert all(f.result().status == 200 for f in slow)


def test_adaptive_limit_reports_and_moves_and_keeps_admitted_latency_near_target(start_demo):
    target_ms = 300
    demo = start_demo("--adaptive-target-ms", target_ms, "--max-concurrency", 64, "--work-capacity", 2,
                      "--max-queue", 1000)
    before = stats(demo.port)
    assert before["limit"] == 16 and before["adaptive"]["increases"] == 0
    latencies, statuses = [], []
    lock = threading.Lock()
    stop = time.monotonic() + 3

    def client():
        while time.monotonic() < stop:
            start = time.monotonic()
            response = request(demo.port, "GET", "/work?ms=20")
            with lock:
                statuses.append(response.status)
                if response.status == 200:
                    latencies.append(time.monotonic() - start)

    threads = [threading.Thread(target=client) for _ in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    after = stats(demo.port)
    adaptive = after["adaptive"]
    assert adaptive["increases"] + adaptive["decreases"] > 0
    assert 1 <= after["limit"] <= 64
    assert 15 <= adaptive["baseline_ms"] <= 200
    # Two dependency slots of 20 ms: at most 100 req/s. Excess is shed, not queued for long.
    assert statuses.count(200) >= 100 and statuses.count(503) > 0
    latencies.sort()
    p99 = latencies[int(len(latencies) * 0.99)]
    assert p99 <= 2 * target_ms / 1000, p99
    print(f"adaptive: p99 {p99 * 1000:.0f} ms, {statuses.count(200)} ok, {statuses.count(503)} shed, {after}")


def test_a_fixed_limit_reports_no_adaptive_figures(demo):
    body = stats(demo.port)
    assert body["adaptive"] is None and body["limit"] == 256
