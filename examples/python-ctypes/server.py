#!/usr/bin/env python3
"""Sluice embedded in Python through ctypes (standard library only).

Serves GET /hello-py, GET /add/:a/:b and POST /count (a shared counter) with Python
handlers. The first stdout line is "listening on http://HOST:PORT"; SIGTERM or SIGINT stop
it gracefully and it exits 0.

    python3 server.py --lib build/lib/libsluice.so.0 --port 0
"""
import argparse
import ctypes
import json
import signal
import sys


class ServerOptions(ctypes.Structure):
    """sluice_server_options, field for field (Include/sluice.h)."""
    _fields_ = [
        ("size", ctypes.c_size_t), ("host", ctypes.c_char_p), ("port", ctypes.c_int),
        ("io_threads", ctypes.c_int), ("max_connections", ctypes.c_int),
        ("max_request_line", ctypes.c_size_t), ("max_header_bytes", ctypes.c_size_t),
        ("max_header_count", ctypes.c_size_t), ("max_body_bytes", ctypes.c_uint64),
        ("header_timeout_ms", ctypes.c_uint64), ("idle_timeout_ms", ctypes.c_uint64),
        ("max_concurrency", ctypes.c_int), ("max_queue", ctypes.c_int),
        ("queue_timeout_ms", ctypes.c_uint64), ("handler_timeout_ms", ctypes.c_uint64),
        ("drain_timeout_ms", ctypes.c_uint64), ("blocking_pool_size", ctypes.c_int),
        ("adaptive", ctypes.c_int), ("adaptive_min_limit", ctypes.c_int),
        ("adaptive_target_ms", ctypes.c_uint64), ("overload_status", ctypes.c_int),
        ("retry_after_seconds", ctypes.c_int), ("log_level", ctypes.c_int),
    ]


class Header(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("value", ctypes.c_char_p)]


SLUICE_LOG_WARNING = 4  # Include/sluice.h
HANDLER = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p)


def load(path):
    lib = ctypes.CDLL(path)
    lib.sluice_server_create.argtypes = [ctypes.POINTER(ctypes.c_void_p), ctypes.POINTER(ServerOptions)]
    lib.sluice_server_add_route.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p, HANDLER,
                                            ctypes.c_void_p, ctypes.c_void_p]
    lib.sluice_server_start.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_int)]
    lib.sluice_server_run.argtypes = [ctypes.c_void_p]
    lib.sluice_server_stop.argtypes = [ctypes.c_void_p]
    lib.sluice_server_destroy.argtypes = [ctypes.c_void_p]
    lib.sluice_server_destroy.restype = None
    lib.sluice_request_param.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
    lib.sluice_request_param.restype = ctypes.c_char_p
    lib.sluice_request_id.argtypes = [ctypes.c_void_p]
    lib.sluice_request_id.restype = ctypes.c_char_p
    lib.sluice_request_server.argtypes = [ctypes.c_void_p]
    lib.sluice_request_server.restype = ctypes.c_void_p
    lib.sluice_respond.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.POINTER(Header), ctypes.c_size_t,
                                   ctypes.c_char_p, ctypes.c_size_t]
    lib.sluice_respond_error.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_char_p]
    lib.sluice_counter_add.argtypes = [ctypes.POINTER(ctypes.c_int64), ctypes.c_void_p, ctypes.c_char_p,
                                       ctypes.c_int64]
    lib.sluice_strerror.argtypes = [ctypes.c_int]
    lib.sluice_strerror.restype = ctypes.c_char_p
    return lib


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--lib", required=True, help="path of libsluice.so")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    args = parser.parse_args()
    lib = load(args.lib)

    def respond(request, status, body, content_type=b"text/plain; charset=utf-8"):
        headers = (Header * 1)(Header(b"Content-Type", content_type))
        lib.sluice_respond(request, status, headers, 1, body, len(body))

    # The handlers run on Sluice's threads; ctypes takes the GIL for them.
    @HANDLER
    def hello(request, user_data):
        respond(request, 200, b"Hello from Python")

    @HANDLER
    def add(request, user_data):
        try:
            a = int(lib.sluice_request_param(request, b"a"))
            b = int(lib.sluice_request_param(request, b"b"))
        except ValueError:
            lib.sluice_respond_error(request, 400, b"a and b must be integers")
            return
        respond(request, 200, json.dumps({"sum": a + b}).encode(), b"application/json")

    @HANDLER
    def count(request, user_data):
        value = ctypes.c_int64()
        lib.sluice_counter_add(ctypes.byref(value), lib.sluice_request_server(request), b"python", 1)
        respond(request, 200, json.dumps({"value": value.value}).encode(), b"application/json")

    options = ServerOptions(ctypes.sizeof(ServerOptions), args.host.encode(), args.port, 1, 10000, 8192, 16384,
                            100, 1048576, 10000, 5000, 256, 1024, 5000, 30000, 10000, 4, 0, 1, 500, 503, 1,
                            SLUICE_LOG_WARNING)
    server = ctypes.c_void_p()
    check(lib, lib.sluice_server_create(ctypes.byref(server), ctypes.byref(options)), "create")
    for method, pattern, handler in ((b"GET", b"/hello-py", hello), (b"GET", b"/add/:a/:b", add),
                                     (b"POST", b"/count", count)):
        check(lib, lib.sluice_server_add_route(server, method, pattern, handler, None, None), "add route")

    # Block the stop signals before Sluice starts its threads; the main thread waits for them.
    stop_signals = {signal.SIGTERM, signal.SIGINT}
    signal.pthread_sigmask(signal.SIG_BLOCK, stop_signals)
    port = ctypes.c_int()
    check(lib, lib.sluice_server_start(server, ctypes.byref(port)), "start")
    print(f"listening on http://{args.host}:{port.value}", flush=True)
    signal.sigwait(stop_signals)
    lib.sluice_server_stop(server)
    check(lib, lib.sluice_server_run(server), "run")
    lib.sluice_server_destroy(server)
    return 0


def check(lib, rc, what):
    if rc != 0:
        sys.exit(f"server.py: {what}: {lib.sluice_strerror(rc).decode()}")


if __name__ == "__main__":
    sys.exit(main())
