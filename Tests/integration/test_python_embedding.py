"""The Python embedding (examples/python-ctypes): Python handlers served by libsluice."""
import os
import re
import signal
import subprocess
import sys

import pytest

from http_client import Connection

HERE = os.path.dirname(os.path.abspath(__file__))
SERVER = os.path.join(HERE, "..", "..", "examples", "python-ctypes", "server.py")


@pytest.fixture
def embedded(request):
    library = request.config.getoption("libsluice")
    if not library:
        pytest.skip("give libsluice with --libsluice PATH (make test does)")
    process = subprocess.Popen([sys.executable, SERVER, "--lib", library, "--port", "0"],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    match = re.match(r"^listening on http://127\.0\.0\.1:(\d+)$", process.stdout.readline().strip())
    assert match, "the embedded server did not start"
    yield int(match.group(1))
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0


def test_python_handlers_answer_over_http(embedded):
    with Connection(embedded) as connection:
        hello = connection.request("GET", "/hello-py")
        assert hello.status == 200 and hello.body == b"Hello from Python"
        assert connection.request("GET", "/add/40/2").json() == {"sum": 42}
        bad = connection.request("GET", "/add/x/2")
        assert bad.status == 400 and bad.json()["request_id"] == bad.header("x-request-id")
        values = [connection.request("POST", "/count").json()["value"] for _ in range(20)]
        assert values == list(range(1, 21))
