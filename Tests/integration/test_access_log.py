"""--access-log: one line per handled request on stderr, the same from both demos."""
import re
import subprocess

from conftest import LISTENING
from http_client import request

LINE = re.compile(r"^info sluice-access: (?P<method>\S+) (?P<path>\S+) (?P<status>\S+) "
                  r"bytes=(?P<bytes>\d+) duration_ms=(?P<ms>[0-9.e-]+) request_id=(?P<id>\S+)$")


def start(demo_path, *flags):
    process = subprocess.Popen([demo_path, "--port", "0", *flags], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    match = LISTENING.match(process.stdout.readline().strip())
    assert match, "the demo did not start"
    return process, int(match.group("port"))


def stop(process):
    process.terminate()
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 0
    return [m.groupdict() for m in map(LINE.match, stderr.splitlines()) if m]


def test_access_log_writes_one_line_per_handled_request(demo_path):
    process, port = start(demo_path, "--access-log")
    hello = request(port, "GET", "/hello", headers={"X-Request-ID": "acc-1"})
    failed = request(port, "GET", "/fail", headers={"X-Request-ID": "acc-2"})
    echoed = request(port, "POST", "/echo", body=b"x" * 1000, headers={"X-Request-ID": "acc-3"})
    request(port, "GET", "/missing", headers={"X-Request-ID": "acc-4"})
    request(port, "GET", "/stats")
    streamed = request(port, "GET", "/stream?chunks=3&size=10", headers={"X-Request-ID": "acc-5"})
    assert (hello.status, failed.status, echoed.status, streamed.status) == (200, 500, 200, 200)
    lines = stop(process)
    by_id = {line["id"]: line for line in lines}
    assert set(by_id) == {"acc-1", "acc-2", "acc-3", "acc-5"}, lines  # not the 404, not the monitoring route
    # A streamed answer is logged when its body ends, with the bytes it wrote.
    assert by_id["acc-5"]["status"] == "200" and int(by_id["acc-5"]["bytes"]) == 30
    assert (by_id["acc-1"]["method"], by_id["acc-1"]["path"], by_id["acc-1"]["status"]) == ("GET", "/hello", "200")
    assert int(by_id["acc-1"]["bytes"]) == len(hello.body)
    assert by_id["acc-2"]["status"] == "500" and int(by_id["acc-2"]["bytes"]) == len(failed.body)
    assert by_id["acc-3"]["method"] == "POST" and int(by_id["acc-3"]["bytes"]) == 1000
    assert all(float(line["ms"]) >= 0 for line in lines)


def test_no_access_log_by_default(demo_path):
    process, port = start(demo_path)
    assert request(port, "GET", "/hello").status == 200
    assert stop(process) == []
