"""What many connections cost the server in resident memory, black-box, against both demos.

An idle keep-alive connection holds no read buffer, and a poll that sees a thousand connections
hang up at once takes no buffer to read their EOFs into. A server that kept an 8 KiB buffer per
idle connection, or took one per EOF, would grow by 4-8 MiB here; the bounds allow 2 MiB.
A demo built with AddressSanitizer is skipped: its allocator keeps freed memory in quarantine
and pads every block, so resident memory says nothing about the server's own.
"""
import os
import signal

import pytest

from conftest import memory
from http_client import Connection, request

MiB = 1 << 20
CONNECTIONS = 1000
BOUND = 2 * MiB


def sanitized(path):
    with open(path, "rb") as binary:
        return b"__asan_init" in binary.read()


def reset_peak(demo):
    """Starts VmHWM again from the current RSS (Linux 4.0+)."""
    with open(f"/proc/{demo.process.pid}/clear_refs", "w") as clear:
        clear.write("5")


def open_idle_connections(port, count):
    connections = []
    for _ in range(count):
        connection = Connection(port)
        connections.append(connection)
        connection.send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
        assert connection.read_response().status == 200
    return connections


def test_idle_connections_and_a_mass_hangup_cost_little_memory(demo_path, demo):
    if sanitized(demo_path):
        pytest.skip("AddressSanitizer's allocator: resident memory is not the server's")
    # Warm the server's allocator on a first set, so that the measured set sees its steady state.
    for connection in open_idle_connections(demo.port, 64):
        connection.close()
    assert request(demo.port, "GET", "/hello").status == 200

    reset_peak(demo)
    before = memory(demo, "VmRSS")
    connections = open_idle_connections(demo.port, CONNECTIONS)
    idle = memory(demo, "VmHWM") - before
    assert idle < BOUND, f"{CONNECTIONS} idle connections took {idle / MiB:.1f} MiB"

    # All the hang-ups reach the server in one poll: it is stopped while they are sent.
    reset_peak(demo)
    before = memory(demo, "VmRSS")
    os.kill(demo.process.pid, signal.SIGSTOP)
    try:
        for connection in connections:
            connection.close()
    finally:
        os.kill(demo.process.pid, signal.SIGCONT)
    assert request(demo.port, "GET", "/hello").status == 200
    hangup = memory(demo, "VmHWM") - before
    assert hangup < BOUND, f"{CONNECTIONS} connections hanging up at once took {hangup / MiB:.1f} MiB"
