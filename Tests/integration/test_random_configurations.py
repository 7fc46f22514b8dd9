"""The demo contract under configurations drawn at random: capacities, weights, loops, timeouts.

The rest of the suite holds each promise at a few chosen settings. A server can be right at
those and wrong at others (an off-by-one at a queue bound of 0, a weight that does not divide
the limit, a timer armed on the wrong loop), so each test here draws its settings afresh and
checks the exact counts the contract gives for them.

The seed is printed with every failure and can be replayed: SLUICE_TEST_SEED=N.
"""
import os
import random
import signal
import threading
import time

import pytest

from conftest import wait_until
from http_client import run_all, stats

SEED = int(os.environ.get("SLUICE_TEST_SEED", random.randrange(1 << 32)))


@pytest.fixture
def rng(request):
    # One stream per test and demo, so a failing test replays alone.
    return random.Random(f"{SEED}:{request.node.name}")


def statuses(answers):
    return [status for status, _, _ in answers]


def test_admission_is_exact_at_random_capacities(start_demo, rng):
    for trial in range(6):
        weight = rng.choice([1, 1, 2, 3])
        limit = rng.randint(weight, 40)
        slots = limit // weight
        # At most five waves through the gate, so the queue empties in a few seconds.
        queue = rng.randint(0, 5 * slots)
        count = slots + queue + rng.randint(0, 40)
        loops = rng.choice([1, 2, 3])
        setting = dict(seed=SEED, trial=trial, limit=limit, queue=queue, weight=weight, loops=loops,
                       count=count)
        # The queue timeout is far away: every queued request must be served, none shed by time.
        demo = start_demo("--io-threads", loops, "--max-concurrency", limit, "--max-queue", queue,
                          "--work-weight", weight, "--queue-timeout-ms", 600_000)
        # Long enough that all requests have arrived before the first one ends (one that came
        # later would find a freed slot): connecting takes well under a millisecond a request
        # even on a busy machine, so 3 ms each on top of half a second.
        hold_ms = 500 + 3 * count
        answers = run_all(demo.port, "GET", [f"/work?ms={hold_ms}&id={i}" for i in range(count)])
        admitted = min(count, slots + queue)
        got = statuses(answers)
        assert got.count(200) == admitted and got.count(503) == count - admitted, setting
        assert all("retry-after" in headers for status, headers, _ in answers if status == 503), setting
        after = stats(demo.port)
        # Permits, not requests: a /work request holds `weight` of them.
        assert after["max_in_flight"] == min(count, slots) * weight, (setting, after)
        assert (after["completed"], after["rejected"], after["in_flight"], after["queued"]) == \
            (admitted, count - admitted, 0, 0), (setting, after)
        demo.stop()


def test_deadlines_hold_at_random_timeouts(start_demo, rng):
    for trial in range(6):
        timeout_ms = rng.choice([40, 100, 250])
        count = rng.randint(1, 40)
        loops = rng.choice([1, 2])
        setting = dict(seed=SEED, trial=trial, timeout_ms=timeout_ms, count=count, loops=loops)
        demo = start_demo("--io-threads", loops, "--handler-timeout-ms", timeout_ms)
        # Well inside the deadline (a tenth of it, or no wait at all for the shortest, so that a
        # busy machine's scheduling cannot push one past it): all answered. Far past it: all
        # 504, at the deadline.
        fast_ms = timeout_ms // 10 if timeout_ms >= 100 else 0
        fast = run_all(demo.port, "GET", [f"/work?ms={fast_ms}" for _ in range(count)])
        assert statuses(fast) == [200] * count, setting
        sleep_ms = timeout_ms * 20
        start = time.monotonic()
        slow = run_all(demo.port, "GET", [f"/work?ms={sleep_ms}" for _ in range(count)])
        elapsed = time.monotonic() - start
        assert statuses(slow) == [504] * count, setting
        # A server that waited for the handlers would take sleep_ms; the deadline is a twentieth.
        assert elapsed < sleep_ms / 1000 / 2, (setting, elapsed)
        # The permits come back when the cancelled handlers end, just after their 504s.
        assert wait_until(lambda: stats(demo.port)["in_flight"] == 0), setting
        after = stats(demo.port)
        assert (after["timed_out"], after["completed"]) == (count, count), (setting, after)
        demo.stop()


def test_queue_timeouts_hold_at_random_bounds(start_demo, rng):
    for trial in range(6):
        limit = rng.randint(1, 8)
        queue_timeout_ms = rng.choice([50, 100, 300])
        count = limit + rng.randint(1, 30)
        loops = rng.choice([1, 2])
        setting = dict(seed=SEED, trial=trial, limit=limit, queue_timeout_ms=queue_timeout_ms, count=count,
                       loops=loops)
        demo = start_demo("--io-threads", loops, "--max-concurrency", limit,
                          "--queue-timeout-ms", queue_timeout_ms)
        # Those admitted run for four queue timeouts: everyone queued behind them times out.
        answers = run_all(demo.port, "GET", [f"/work?ms={queue_timeout_ms * 4}" for _ in range(count)])
        got = statuses(answers)
        assert got.count(200) == limit and got.count(503) == count - limit, setting
        assert all("retry-after" in headers for status, headers, _ in answers if status == 503), setting
        after = stats(demo.port)
        assert (after["rejected"], after["completed"], after["max_in_flight"]) == (count - limit, limit, limit), \
            (setting, after)
        demo.stop()


def test_drain_at_random_timeouts_finishes_what_fits_and_cancels_the_rest(start_demo, rng):
    for trial in range(5):
        drain_ms = rng.choice([300, 600, 1000])
        loops = rng.choice([1, 2])
        # Each request either fits in the drain easily or outlasts it by far.
        sleeps = [rng.choice([drain_ms // 6, drain_ms * 5]) for _ in range(rng.randint(1, 30))]
        setting = dict(seed=SEED, trial=trial, drain_ms=drain_ms, loops=loops, sleeps=sleeps)
        demo = start_demo("--io-threads", loops, "--drain-timeout-ms", drain_ms)
        answers = {}
        client = threading.Thread(target=lambda: answers.update(
            all=run_all(demo.port, "GET", [f"/work?ms={ms}" for ms in sleeps])))
        client.start()
        # Every request is running (or, a short one, already done) before the signal.
        assert wait_until(lambda: (lambda s: s["in_flight"] + s["completed"])(stats(demo.port)) == len(sleeps),
                          interval=0.005), setting
        start = time.monotonic()
        demo.process.send_signal(signal.SIGTERM)
        assert demo.process.wait(timeout=30) == 0, setting
        stopped_after = time.monotonic() - start
        client.join()
        expected = [200 if ms < drain_ms else 503 for ms in sleeps]
        assert statuses(answers["all"]) == expected, setting
        # The long sleeps end at the drain timeout, not at their own end.
        assert stopped_after < drain_ms / 1000 + (drain_ms * 5 / 1000 - drain_ms / 1000) / 2, (setting, stopped_after)
