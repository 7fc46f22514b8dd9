"""Pipelined requests: answers in request order, each whole, gathered into one write when
they are ready together, and never held back for a slower request behind them."""
import socket
import struct
import sys
import time

import pytest

from http_client import Connection

HELLO = b"GET /hello HTTP/1.1\r\nHost: a\r\n\r\n"


def segments_received(sock):
    """TCP segments this socket has received so far (Linux tcp_info.tcpi_segs_in)."""
    info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 256)
    return struct.unpack_from("I", info, 140)[0]


def post(target, body):
    return b"POST %s HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\n\r\n%s" % (target, len(body), body)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="counts segments through Linux's TCP_INFO")
@pytest.mark.parametrize("batch", [
    HELLO * 16,
    b"GET /json HTTP/1.1\r\nHost: a\r\n\r\n" * 16,
    b"".join(post(b"/echo", b"%02d" % i * 50) for i in range(16)),
], ids=["hello", "json", "echo"])
def test_answers_ready_together_leave_in_one_write(demo, batch):
    # Sixteen answers written one by one arrive as a dozen or more segments; gathered into one
    # write, as one (a few at most, should the kernel split it).
    with Connection(demo.port) as connection:
        assert connection.request("GET", "/hello").status == 200  # the handshake's segments are behind us
        before = segments_received(connection.sock)
        connection.send(batch)
        answers = [connection.read_response() for _ in range(16)]
        assert all(answer.status == 200 for answer in answers)
        assert segments_received(connection.sock) - before <= 3


def test_answers_keep_request_order_across_every_kind_of_handler(demo):
    batch = [
        (b"GET /work?ms=40&id=first HTTP/1.1\r\nHost: a\r\n\r\n", lambda r: r.json()["id"] == "first"),
        (HELLO, lambda r: r.body == b"Hello, World!"),
        (post(b"/echo", b"one"), lambda r: r.body == b"one"),
        (b"GET /json HTTP/1.1\r\nHost: a\r\n\r\n", lambda r: r.json() == {"message": "Hello, World!"}),
        (b"GET /work?ms=0&id=second HTTP/1.1\r\nHost: a\r\n\r\n", lambda r: r.json()["id"] == "second"),
        (b"GET /nope HTTP/1.1\r\nHost: a\r\n\r\n", lambda r: r.status == 404),
        (b"HEAD /hello HTTP/1.1\r\nHost: a\r\n\r\n", lambda r: r.body == b"" and r.header("content-length") == "13"),
        (b"GET /gated?ms=5 HTTP/1.1\r\nHost: a\r\n\r\n", lambda r: r.json()["in_flight"] == 1),
        (b"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\ntwo\r\n0\r\n\r\n",
         lambda r: r.body == b"two"),
        (b"GET /fail HTTP/1.1\r\nHost: a\r\n\r\n", lambda r: r.status == 500),
        (post(b"/echo", b"three"), lambda r: r.body == b"three"),
    ]
    with Connection(demo.port) as connection:
        for _ in range(3):
            connection.send(b"".join(raw for raw, _ in batch))
            for raw, check in batch:
                answer = connection.read_response(head=raw.startswith(b"HEAD"))
                assert check(answer), (raw, answer.status, answer.body)


def test_counter_increments_answered_in_order(demo):
    with Connection(demo.port) as connection:
        start = connection.request("GET", "/counter").json()["value"]
        connection.send(b"POST /counter/increment HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n" * 20
                        + b"GET /counter HTTP/1.1\r\nHost: a\r\n\r\n")
        values = [connection.read_response().json()["value"] for _ in range(21)]
        assert values == list(range(start + 1, start + 21)) + [start + 20]


def test_ready_answers_are_not_held_for_a_slow_request_behind_them(demo):
    # The answers before the 3 s request are ready at once: a server that kept them until the
    # slow one finished (to write them together) would deliver them 3 s late.
    with Connection(demo.port) as connection:
        started = time.monotonic()
        connection.send(HELLO * 2 + b"GET /work?ms=3000&id=slow HTTP/1.1\r\nHost: a\r\n\r\n" + HELLO)
        assert connection.read_response().body == b"Hello, World!"
        assert connection.read_response().body == b"Hello, World!"
        assert time.monotonic() - started < 1.5
        assert connection.read_response().json()["id"] == "slow"
        assert connection.read_response().body == b"Hello, World!"


def test_more_answers_than_one_write_holds(demo):
    # 300 answers of ~200 bytes, and 40 echoes of 2 KiB: many times the gathered write's bound.
    with Connection(demo.port) as connection:
        connection.send(b"GET /json HTTP/1.1\r\nHost: a\r\n\r\n" * 300)
        for _ in range(300):
            assert connection.read_response().json() == {"message": "Hello, World!"}
        bodies = [bytes([65 + i % 26]) * 2048 for i in range(40)]
        connection.send(b"".join(post(b"/echo", body) for body in bodies))
        for body in bodies:
            assert connection.read_response().body == body


def test_half_closed_client_gets_every_pipelined_answer(start_demo):
    # The requests sent before the FIN are answered, in order, then the connection ends; on a
    # fresh server too, where the first answer may come back to the loop in the same poll
    # that reports the FIN (the rest were then dropped).
    for _ in range(3):
        demo = start_demo()
        for _ in range(2):
            with Connection(demo.port) as connection:
                connection.send(HELLO * 16)
                connection.sock.shutdown(socket.SHUT_WR)
                for _ in range(16):
                    assert connection.read_response().body == b"Hello, World!"
                assert connection.closed_by_server()


def test_close_on_the_last_pipelined_request(demo):
    with Connection(demo.port) as connection:
        connection.send(HELLO * 8 + b"GET /hello HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n" + HELLO)
        for _ in range(8):
            assert connection.read_response().header("connection") is None
        last = connection.read_response()
        assert last.body == b"Hello, World!" and last.header("connection") == "close"
        assert connection.closed_by_server()  # the request after it is never answered


@pytest.mark.parametrize("cut_short", [
    b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc",
    b"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n",
    b"GET /hello HTTP/1.1\r\nHo",
], ids=["length-body", "chunked-body", "head"])
def test_request_cut_short_by_a_fin_ends_the_connection_at_once(demo, cut_short):
    # The answers before it go out; the unfinished request can never complete, so the server
    # ends the connection instead of waiting out its 10 s header timeout.
    with Connection(demo.port) as connection:
        started = time.monotonic()
        connection.send(HELLO * 2 + cut_short)
        connection.sock.shutdown(socket.SHUT_WR)
        for _ in range(2):
            assert connection.read_response().body == b"Hello, World!"
        assert connection.closed_by_server()
        assert time.monotonic() - started < 5
