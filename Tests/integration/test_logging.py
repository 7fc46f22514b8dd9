"""The demos' stderr log: --log-level picks what is written, and a full pipe never stalls them.

A supervisor that captures a server's stderr and stops reading it fills the pipe (64 KiB); a
server whose threads then block writing a log line stops answering. Both demos drop the line
instead: the library's own log (StderrLogHandler, which the C API uses) and the access log.
"""
import os
import re
import subprocess

import pytest

from conftest import Demo
from http_client import Connection, request, run_all


@pytest.mark.parametrize("io_threads", [1, 3])
def test_a_full_stderr_pipe_never_stalls_the_server(start_demo, io_threads):
    # Every request times out (a warning line each) and is logged by the access log: several
    # times what a pipe holds, written by the loops (three at once, in the second case) while
    # nobody reads. Room for all of them at once: with the default limit and queue (256 + 1024)
    # a burst read before the first deadline fires is rightly shed, which is not what this checks.
    count = 1500
    demo = start_demo("--io-threads", io_threads, "--max-concurrency", count, "--handler-timeout-ms", 1,
                      "--log-level", "info", "--access-log", stderr=subprocess.PIPE)
    for _ in range(2):
        answers = run_all(demo.port, "GET", [f"/work?ms=200&id={i}" for i in range(count)], timeout=60)
        others = [(index, status, body[:200]) for index, (status, _, body) in enumerate(answers) if status != 504]
        assert not others, f"{len(others)} answers other than 504, the first: {others[:3]}"
    assert request(demo.port, "GET", "/hello", timeout=10).text == "Hello, World!"
    stats = request(demo.port, "GET", "/stats", timeout=10).json()
    assert stats["timed_out"] == 2 * count and stats["in_flight"] == 0 and stats["rejected"] == 0
    # The stop logs too (teardown: it must still exit 0, promptly); then the lines that got
    # through are whole lines.
    assert demo.stop() == 0
    written = demo.process.stderr.read()
    demo.process.stderr.close()
    lines = written.splitlines()
    assert len(lines) > 100
    assert all(re.match(r"^(trace|debug|info|notice|warning|error|critical) [\w.-]+: ", line) for line in lines), lines[:5]


def test_log_level_picks_what_is_written(start_demo, tmp_path):
    deadline = re.compile(r"^warning [\w.-]+: handler deadline passed request_id=(\S+)$")
    for level, shown in (("warning", True), ("error", False)):
        path = tmp_path / f"stderr-{level}.log"
        with open(path, "w") as log:
            demo = start_demo("--handler-timeout-ms", 20, "--log-level", level, stderr=log)
            response = request(demo.port, "GET", "/work?ms=2000")
            assert response.status == 504
            assert demo.stop() == 0
        ids = [match.group(1) for match in map(deadline.match, path.read_text().splitlines()) if match]
        assert ids == ([response.header("x-request-id")] if shown else []), (level, path.read_text())


def test_a_closed_stderr_is_held_open_on_dev_null(demo_path):
    # A server started with stderr closed would give descriptor 2 to the first thing it opens
    # (a loop's epoll, or a client's socket), and its log lines would go there.
    demo = Demo(demo_path, ["--handler-timeout-ms", "5", "--log-level", "info"], preexec_fn=lambda: os.close(2))
    try:
        assert os.readlink(f"/proc/{demo.process.pid}/fd/2") == "/dev/null"
        with Connection(demo.port) as connection:
            for _ in range(3):
                response = connection.request("GET", "/work?ms=200")
                assert response.status == 504 and response.json()["request_id"] == response.header("x-request-id")
    finally:
        assert demo.stop() == 0
