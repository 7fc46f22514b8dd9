"""The demo contract's basic endpoints, and its process behaviour."""
import json
import os

from http_client import Connection, request


def test_hello(demo):
    response = request(demo.port, "GET", "/hello")
    assert response.status == 200
    assert response.body == b"Hello, World!"
    assert response.header("content-type").startswith("text/plain")
    assert response.header("x-request-id")


def test_json(demo):
    response = request(demo.port, "GET", "/json")
    assert response.status == 200
    assert response.header("content-type") == "application/json"
    assert json.loads(response.body) == {"message": "Hello, World!"}


def test_echo_is_byte_exact(demo):
    body = bytes(range(256)) * 40
    response = request(demo.port, "POST", "/echo", body=body)
    assert response.status == 200
    assert response.body == body


def test_echo_serves_every_body_size(demo):
    # Every size across allocator boundaries: an off-by-one past a body's buffer would
    # corrupt the heap at some of them (it once did, at 1000 bytes, in the C API). Up to
    # 2200 the sizes also cross the point where a body stops fitting beside its head in the
    # server's 2 KiB stack buffer (copied there and written as one) and goes out as a part
    # of its own.
    sizes = list(range(0, 2200)) + [4095, 4096, 4097, 65535, 65536, 65537]
    with Connection(demo.port) as connection:
        for size in sizes:
            body = bytes((size + i) % 256 for i in range(size))
            response = connection.request("POST", "/echo", body)
            assert response.status == 200 and response.body == body, size


def test_echo_larger_than_the_socket_takes_at_once(start_demo):
    # The client reads nothing until it has sent everything, through a small receive buffer,
    # and the answer (6 MB) is larger than a loopback send buffer grows (4 MiB): the socket
    # takes part of it, and the rest must follow intact (the server writes a body answered on
    # its loop from the handler's memory, and keeps what the socket did not take).
    import socket
    demo = start_demo("--max-body-bytes", "8000000")
    body = bytes((7 * i) % 251 for i in range(6_000_000))
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(30)
    sock.connect(("127.0.0.1", demo.port))
    connection = Connection.__new__(Connection)
    connection.sock, connection.buffer = sock, b""
    with connection:
        connection.send(b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\n\r\n" % len(body) + body +
                        b"GET /hello HTTP/1.1\r\nHost: a\r\n\r\n")
        echoed = connection.read_response()
        assert echoed.status == 200 and echoed.body == body
        assert connection.read_response().body == b"Hello, World!"


def test_client_request_id_is_echoed(demo):
    response = request(demo.port, "GET", "/hello", headers={"X-Request-ID": "client-chosen-42"})
    assert response.header("x-request-id") == "client-chosen-42"


def test_unknown_path_is_404_json(demo):
    response = request(demo.port, "GET", "/no-such-path")
    assert response.status == 404
    assert response.json()["request_id"] == response.header("x-request-id")


def test_keep_alive_and_pipelining(demo):
    with Connection(demo.port) as connection:
        connection.send(b"GET /hello HTTP/1.1\r\nHost: a\r\n\r\n" * 50)
        for _ in range(50):
            assert connection.read_response().body == b"Hello, World!"


def test_bad_request_is_refused_and_closed(demo):
    with Connection(demo.port) as connection:
        connection.send(b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n")
        response = connection.read_response()
        assert response.status == 400
        assert connection.closed_by_server()


def test_bad_query_parameters_are_400_naming_the_parameter(demo):
    # The same contract on both demos: a number out of range or not a number is the client's
    # error, and the message says which parameter.
    cases = [
        ("/work?ms=-1", "ms"), ("/work?ms=abc", "ms"), ("/work?ms=99999999999999999999", "ms"),
        ("/gated?ms=x", "ms"), ("/stream?chunks=-1", "chunks"), ("/stream?chunks=2&size=0", "size"),
        ("/stream?chunks=1&delay_ms=60001", "delay_ms"), ("/events?n=-2", "n"),
    ]
    for path, parameter in cases:
        response = request(demo.port, "GET", path)
        assert response.status == 400, path
        body = response.json()
        assert body["error"].startswith(parameter + " must be"), (path, body)
        assert body["request_id"] == response.header("x-request-id")


def test_refusals_carry_a_request_id(start_demo):
    # The server's own refusals (the parser's, the body limit's) carry X-Request-ID like every
    # other answer: the client's own when it is safe to echo and was read, else a fresh one;
    # and the same JSON error body as a handler's errors, its request_id the header's.
    demo = start_demo("--max-body-bytes", 100)
    seen = set()
    for raw, status, own in [
        (b"GET / HTTP/1.1\r\nHost: a\r\nX-Request-ID: mine-1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
         400, "mine-1"),
        (b"POST /echo HTTP/1.1\r\nHost: a\r\nX-Request-ID: mine-2\r\nContent-Length: 101\r\n\r\n", 413, "mine-2"),
        (b"GET /hello HTTP/1.1\r\nX-Request-ID: mine-3\r\n\r\n", 400, "mine-3"),  # no Host
        (b"GET /hello HTTP/1.1\r\nHost: a\r\nX-Request-ID: not safe\r\nBad Name: x\r\n\r\n", 400, None),
        (b'GET /hello HTTP/1.1\r\nX-Request-ID: q"uo\\te\r\n\r\n', 400, 'q"uo\\te'),  # escaped in the body
        (b"GET /hello HTTP/9.0\r\nHost: a\r\n\r\n", 505, None),
        (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: a\r\n\r\n", 414, None),
        (b"GET /hello HTTP/1.1\r\nHost: a\r\n" + b"X: y\r\n" * 101 + b"\r\n", 431, None),
    ]:
        with Connection(demo.port) as connection:
            connection.send(raw)
            response = connection.read_response()
            assert response.status == status, raw[:60]
            request_id = response.header("x-request-id")
            assert request_id, raw[:60]
            if own:
                assert request_id == own
            else:
                assert all(0x21 <= ord(c) < 0x7F for c in request_id) and request_id not in seen
            seen.add(request_id)
            assert response.header("content-type") == "application/json"
            body = response.json()
            assert body["request_id"] == request_id and body["error"], raw[:60]
            assert connection.closed_by_server()


def test_body_over_limit_is_413(start_demo):
    demo = start_demo("--max-body-bytes", 100)
    response = request(demo.port, "POST", "/echo", body=b"x" * 101)
    assert response.status == 413
    assert request(demo.port, "POST", "/echo", body=b"y" * 100).body == b"y" * 100


def test_sigterm_exits_zero(start_demo):
    demo = start_demo()
    assert request(demo.port, "GET", "/hello").status == 200
    assert demo.stop() == 0


def test_event_loop_threads_carry_their_names(start_demo):
    # An operator finds the loops by name in top -H, perf and gdb: one per --io-threads.
    demo = start_demo("--io-threads", 3)
    tasks = f"/proc/{demo.process.pid}/task"
    names = []
    for task in os.listdir(tasks):
        with open(f"{tasks}/{task}/comm") as comm:
            names.append(comm.read().strip())
    assert sorted(name for name in names if name.startswith("sluice-io")) == ["sluice-io-0", "sluice-io-1", "sluice-io-2"]
    assert request(demo.port, "GET", "/hello").status == 200


def test_http10_keep_alive_is_announced(demo):
    with Connection(demo.port) as connection:
        for _ in range(3):
            connection.send(b"GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            response = connection.read_response()
            assert response.body == b"Hello, World!"
            assert response.header("connection").lower() == "keep-alive"


def test_unknown_method_is_501_and_options_asterisk_lists_methods(demo):
    with Connection(demo.port) as connection:
        response = connection.request("BREW", "/hello")
        assert response.status == 501
        assert response.json()["request_id"] == response.header("x-request-id")
        connection.send(b"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n")
        options = connection.read_response()
        assert options.status == 204
        allowed = {m.strip() for m in options.header("allow").split(",")}
        assert {"GET", "POST", "HEAD", "OPTIONS"} <= allowed
        assert connection.request("DELETE", "/hello").status == 405
        connection.send(b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n")
        assert connection.read_response().status == 501


def test_many_simultaneous_connections(demo):
    connections = [Connection(demo.port) for _ in range(1200)]
    try:
        for connection in connections[::100]:
            assert connection.request("GET", "/hello").status == 200
    finally:
        for connection in connections:
            connection.close()


def test_inline_refusal_that_closes_with_pipelined_bytes_behind_it(demo):
    # A 404 answered at once, on a connection that closes, with another request behind it.
    for _ in range(5):
        with Connection(demo.port) as connection:
            connection.send(b"GET /nope HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
                            b"GET /hello HTTP/1.1\r\nHost: a\r\n\r\n")
            assert connection.read_response().status == 404
            assert connection.closed_by_server()
    assert request(demo.port, "GET", "/hello").status == 200


def test_refused_request_body_is_skipped_never_read_as_a_request(demo):
    # Refusals answered as soon as the head is parsed (no route, no such method on the route,
    # a method nobody implements) still own their body: bytes that look like a request inside
    # it must be skipped. Reading them as the next request would let a body smuggle one.
    smuggled = b"GET /json HTTP/1.1\r\nHost: a\r\n\r\n"
    cases = [
        (b"POST /no-such-path", 404),
        (b"DELETE /hello", 405),
        (b"BREW /hello", 501),
    ]
    for request_line, status in cases:
        with Connection(demo.port) as connection:
            framings = [
                b"Content-Length: %d\r\n\r\n" % len(smuggled) + smuggled,
                b"Transfer-Encoding: chunked\r\n\r\n%x\r\n" % len(smuggled) + smuggled + b"\r\n0\r\n\r\n",
            ]
            for framing in framings:
                connection.send(request_line + b" HTTP/1.1\r\nHost: a\r\n" + framing
                                + b"GET /hello HTTP/1.1\r\nHost: a\r\n\r\n")
                assert connection.read_response().status == status
                following = connection.read_response()
                assert (following.status, following.body) == (200, b"Hello, World!"), request_line


def test_expect_continue_to_a_refused_request_is_answered_at_once(demo):
    # No 100 (Continue) invites a body that no route takes: the refusal comes first, and
    # says the connection closes (the body may still be on its way).
    for request_line, status in [(b"POST /no-such-path", 404), (b"PUT /hello", 405)]:
        with Connection(demo.port, timeout=5) as connection:
            connection.send(request_line + b" HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n"
                            b"Content-Length: 1000000\r\n\r\n")
            response = connection.read_response()
            assert response.status == status
            assert response.header("connection") == "close"
            assert connection.closed_by_server()
    with Connection(demo.port, timeout=5) as connection:
        connection.send(b"POST /echo HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n")
        assert connection.read_response().status == 100
        connection.send(b"hello")
        assert connection.read_response().body == b"hello"


def test_allow_lists_every_method_the_path_answers(demo):
    with Connection(demo.port) as connection:
        refused = connection.request("DELETE", "/hello")
        assert refused.status == 405
        assert {m.strip() for m in refused.header("allow").split(",")} == {"GET", "HEAD", "OPTIONS"}
        options = connection.request("OPTIONS", "/echo")
        assert options.status == 204
        assert {m.strip() for m in options.header("allow").split(",")} == {"POST", "OPTIONS"}
        assert options.header("content-length") is None
        assert connection.request("GET", "/hello").status == 200
