"""Faults: running out of descriptors, and SIGTERM under load."""
import resource
import socket
import subprocess
import threading
import time

from conftest import Demo, wait_until
from http_client import Connection, request


def test_out_of_descriptors_then_recovers(demo_path):
    """With a low descriptor limit the demo drops what it cannot accept, and serves again later."""
    def low_limit():
        resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))

    demo = Demo(demo_path, [], preexec_fn=low_limit)
    try:
        held = []
        for _ in range(120):  # well past 64 descriptors
            try:
                held.append(socket.create_connection(("127.0.0.1", demo.port), timeout=2))
            except OSError:
                break
        # Some of these were refused or closed at once (EMFILE); the server did not die.
        assert demo.process.poll() is None
        for connection in held:
            connection.close()
        assert wait_until(lambda: _answers(demo.port), timeout=10)
        stats = request(demo.port, "GET", "/stats").json()
        assert stats["in_flight"] == 0 and stats["queued"] == 0
    finally:
        assert demo.stop() == 0


def _answers(port):
    try:
        return request(port, "GET", "/hello", timeout=2).status == 200
    except OSError:
        return False


def test_sigterm_under_load_completes_every_admitted_request(demo_path):
    demo = Demo(demo_path, ["--drain-timeout-ms", "5000"])
    results, errors = [], []
    stop_sending = threading.Event()

    def client(n):
        # Each client keeps one connection busy with short requests until it is refused.
        i = 0
        while not stop_sending.is_set():
            try:
                with Connection(demo.port, timeout=10) as connection:
                    while not stop_sending.is_set():
                        response = connection.request("GET", f"/work?ms=20&id=c{n}-{i}")
                        results.append((f"c{n}-{i}", response))
                        i += 1
                        if response.header("connection") == "close":
                            break
            except (ConnectionError, OSError):
                errors.append(n)  # refused or closed between requests: expected once draining
                time.sleep(0.01)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(16)]
    for thread in threads:
        thread.start()
    assert wait_until(lambda: len(results) > 200, timeout=20)
    start = time.monotonic()
    demo.process.send_signal(15)
    code = demo.process.wait(timeout=15)
    elapsed = time.monotonic() - start
    stop_sending.set()
    for thread in threads:
        thread.join(timeout=15)
    assert code == 0
    assert elapsed < 5.0
    # Every response that arrived is complete and correct: 200 with its own id.
    for expected_id, response in results:
        assert response.status == 200, response.status
        assert response.json()["id"] == expected_id


def test_a_second_server_on_a_busy_port_fails_instead_of_sharing_it(start_demo, demo_path):
    """Several io threads listen with SO_REUSEPORT; a second such server on the same port must
    refuse to start (as a single listener would), not take part of the first one's traffic."""
    first = start_demo("--io-threads", "2")
    for io_threads in ("2", "1"):
        second = subprocess.run([demo_path, "--host", "127.0.0.1", "--port", str(first.port),
                                 "--io-threads", io_threads],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=30)
        assert second.returncode != 0, f"a second server with {io_threads} io thread(s) started"
        assert "listening on" not in second.stdout
        assert second.stderr.strip(), "it says why"
    # Every connection still reaches the first server: none went to a second listener.
    before = request(first.port, "GET", "/stats").json()["completed"]
    for _ in range(50):
        assert request(first.port, "GET", "/hello").status == 200
    assert request(first.port, "GET", "/stats").json()["completed"] - before >= 50
