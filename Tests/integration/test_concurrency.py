"""The demo contract's concurrency behaviours, black-box over real sockets."""
import random
import socket
import time
from concurrent.futures import ThreadPoolExecutor

from conftest import wait_until
from http_client import Connection, request, stats


def assert_error_json(response, status):
    assert response.status == status
    body = response.json()
    assert isinstance(body["error"], str) and body["error"]
    assert body["request_id"] == response.header("x-request-id")


def test_isolation_each_request_gets_its_own_answer(demo):
    def one(i):
        headers = {"X-Request-ID": f"client-{i}"} if i % 3 == 0 else {}
        response = request(demo.port, "GET", f"/work?ms={random.randint(0, 150)}&id=req-{i}", headers=headers)
        return i, response

    with ThreadPoolExecutor(max_workers=150) as pool:
        results = list(pool.map(one, range(400)))
    ids = set()
    for i, response in results:
        assert response.status == 200
        body = response.json()
        assert body["id"] == f"req-{i}"
        assert body["request_id"] == response.header("x-request-id")
        if i % 3 == 0:
            assert body["request_id"] == f"client-{i}"
        ids.add(body["request_id"])
    assert len(ids) == 400


def test_shared_counter_is_exact_under_concurrency(demo):
    workers, per_worker = 100, 100

    def worker(_):
        values = []
        with Connection(demo.port) as connection:
            for _ in range(per_worker):
                response = connection.request("POST", "/counter/increment")
                assert response.status == 200
                values.append(response.json()["value"])
        return values

    with ThreadPoolExecutor(max_workers=workers) as pool:
        values = [v for chunk in pool.map(worker, range(workers)) for v in chunk]
    total = workers * per_worker
    assert sorted(values) == list(range(1, total + 1))
    assert request(demo.port, "GET", "/counter").json() == {"value": total}


def timed_parallel(port, targets, workers):
    start = time.monotonic()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        responses = list(pool.map(lambda target: request(port, "GET", target), targets))
    return time.monotonic() - start, responses


def test_sleeping_requests_overlap(demo):
    elapsed, responses = timed_parallel(demo.port, [f"/work?ms=500&id={i}" for i in range(100)], 100)
    assert all(r.status == 200 for r in responses)
    # 100 sleeps of 0.5 s: about one sleep when they overlap, 50 s if serialized.
    assert 0.5 <= elapsed < 3.0


def test_max_concurrency_binds(start_demo):
    demo = start_demo("--max-concurrency", 4)
    elapsed, responses = timed_parallel(demo.port, [f"/work?ms=300&id={i}" for i in range(16)], 16)
    assert all(r.status == 200 for r in responses)
    # 16 requests of 0.3 s through 4 slots take at least 4 rounds; an ungated server takes one.
    assert elapsed >= 4 * 0.3 * 0.95
    assert elapsed < 16 * 0.3
    assert stats(demo.port)["max_in_flight"] == 4


def test_error_isolation(demo):
    def one(i):
        if i % 2:
            return i, request(demo.port, "GET", "/fail")
        return i, request(demo.port, "GET", f"/work?ms=5&id=ok-{i}")

    with ThreadPoolExecutor(max_workers=50) as pool:
        results = list(pool.map(one, range(300)))
    for i, response in results:
        if i % 2:
            assert_error_json(response, 500)
        else:
            assert response.status == 200 and response.json()["id"] == f"ok-{i}"
    assert request(demo.port, "GET", "/hello").body == b"Hello, World!"
    after = stats(demo.port)
    assert after["errors"] == 150
    assert after["in_flight"] == 0


def test_gate_limit_holds_and_is_reached(start_demo):
    demo = start_demo("--gate-limit", 3)
    with ThreadPoolExecutor(max_workers=30) as pool:
        responses = list(pool.map(lambda _: request(demo.port, "GET", "/gated?ms=200"), range(30)))
    seen = [r.json()["in_flight"] for r in responses]
    assert all(r.status == 200 for r in responses)
    assert max(seen) == 3 and min(seen) >= 1
    gate = stats(demo.port)["gates"]["gated"]
    assert gate == {"limit": 3, "in_flight": 0, "max_in_flight": 3}


def test_overload_admits_exactly_capacity_and_sheds_the_rest(start_demo):
    demo = start_demo("--max-concurrency", 4, "--max-queue", 4)
    results = []

    def one(i):
        start = time.monotonic()
        response = request(demo.port, "GET", f"/work?ms=1500&id={i}")
        return response, time.monotonic() - start

    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(one, range(20)))
    admitted = [r for r, _ in results if r.status == 200]
    shed = [(r, t) for r, t in results if r.status == 503]
    assert len(admitted) == 8
    assert len(shed) == 12
    for response, elapsed in shed:
        assert_error_json(response, 503)
        assert response.header("retry-after") is not None
        assert elapsed < 1.0, "shed at once, not after waiting"
    after = stats(demo.port)
    assert after["rejected"] == 12
    assert after["completed"] == 8


def test_queue_timeout_is_503_near_its_bound(start_demo):
    demo = start_demo("--max-concurrency", 1, "--max-queue", 10, "--queue-timeout-ms", 300)
    with ThreadPoolExecutor(max_workers=2) as pool:
        holder = pool.submit(request, demo.port, "GET", "/work?ms=2000&id=holder")
        assert wait_until(lambda: stats(demo.port)["in_flight"] == 1)
        start = time.monotonic()
        response = request(demo.port, "GET", "/work?ms=10&id=waiter")
        elapsed = time.monotonic() - start
        assert_error_json(response, 503)
        assert response.header("retry-after") is not None
        assert 0.25 <= elapsed < 1.5
        assert holder.result().status == 200
    assert stats(demo.port)["rejected"] == 1


def test_deadline_is_504_and_cancels_the_handler(start_demo):
    demo = start_demo("--handler-timeout-ms", 300)
    start = time.monotonic()
    response = request(demo.port, "GET", "/work?ms=5000&id=late")
    elapsed = time.monotonic() - start
    assert_error_json(response, 504)
    assert 0.25 <= elapsed < 1.5
    # A handler still sleeping would hold its slot for 5 s; a cancelled one is gone at once.
    assert wait_until(lambda: stats(demo.port)["in_flight"] == 0, timeout=1.0)
    after = stats(demo.port)
    assert after["timed_out"] == 1
    assert after["completed"] == 0


def test_client_that_hangs_up_cancels_its_handler(start_demo):
    demo = start_demo("--max-concurrency", 5, "--max-queue", 20)
    connections = []
    for i in range(12):
        connection = Connection(demo.port)
        connection.send(f"GET /work?ms=10000&id=gone-{i} HTTP/1.1\r\nHost: a\r\n\r\n".encode())
        connections.append(connection)
    assert wait_until(lambda: (lambda s: s["in_flight"] == 5 and s["queued"] == 7)(stats(demo.port)))
    for connection in connections:
        connection.close()
    # Running and queued alike leave long before their 10 s sleep would end.
    assert wait_until(lambda: (lambda s: s["in_flight"] == 0 and s["queued"] == 0)(stats(demo.port)), timeout=3.0)
    after = stats(demo.port)
    assert after["cancelled"] == 12
    assert after["completed"] == 0
    assert request(demo.port, "GET", "/hello").status == 200


def test_drain_completes_in_flight_and_refuses_new_connections(start_demo):
    demo = start_demo("--drain-timeout-ms", 5000)
    with ThreadPoolExecutor(max_workers=10) as pool:
        futures = [pool.submit(request, demo.port, "GET", f"/work?ms=1000&id=d{i}") for i in range(10)]
        assert wait_until(lambda: stats(demo.port)["in_flight"] == 10)
        start = time.monotonic()
        code_future = pool.submit(demo.stop)

        def refused():
            try:
                socket.create_connection(("127.0.0.1", demo.port), timeout=1).close()
                return False
            except OSError:
                return True

        assert wait_until(refused, timeout=2.0)
        for i, future in enumerate(futures):
            response = future.result()
            assert response.status == 200 and response.json()["id"] == f"d{i}"
        assert code_future.result() == 0
        assert time.monotonic() - start < 5.0


def test_accounting_adds_up_after_a_mixed_run(start_demo):
    demo = start_demo("--max-concurrency", 8, "--max-queue", 1000)
    plan = ["/hello"] * 100 + ["/fail"] * 30 + ["/work?ms=20"] * 50 + ["/gated?ms=10"] * 20 + ["/json"] * 50
    random.shuffle(plan)
    with ThreadPoolExecutor(max_workers=25) as pool:
        responses = list(pool.map(lambda target: request(demo.port, "GET", target), plan))
    assert sum(r.status == 500 for r in responses) == 30
    assert sum(r.status == 200 for r in responses) == len(plan) - 30
    after = stats(demo.port)
    assert after["completed"] == len(plan)
    assert after["errors"] == 30
    assert after["in_flight"] == 0 and after["queued"] == 0
    assert after["rejected"] == 0 and after["timed_out"] == 0 and after["cancelled"] == 0
