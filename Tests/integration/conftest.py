"""Fixtures for the cross-language behaviour suite: it starts a demo binary itself."""
import os
import resource
import re
import signal
import subprocess
import time

import pytest

LISTENING = re.compile(r"^listening on http://(?P<host>[^\s]+):(?P<port>\d+)$")


# The suite opens many sockets at once; so may the demos (they raise their own limit).
_soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
if _soft < _hard:
    resource.setrlimit(resource.RLIMIT_NOFILE, (_hard, _hard))


def pytest_addoption(parser):
    parser.addoption("--demo", action="append", default=[],
                     help="path of a demo binary (sluice-demo or sluice-c-demo); repeat for several")
    parser.addoption("--libsluice", default=os.environ.get("SLUICE_LIB", ""),
                     help="path of libsluice.so, for the Python embedding test")


def pytest_generate_tests(metafunc):
    if "demo_path" in metafunc.fixturenames:
        paths = metafunc.config.getoption("demo") or [os.environ.get("SLUICE_DEMO", "")]
        paths = [p for p in paths if p]
        if not paths:
            raise pytest.UsageError("give the demo binary with --demo PATH")
        metafunc.parametrize("demo_path", paths, ids=[os.path.basename(p) for p in paths], scope="module")


class Demo:
    """A running demo process: its address, and a graceful stop that must exit 0."""

    def __init__(self, path, args, preexec_fn=None, stderr=subprocess.DEVNULL):
        self.process = subprocess.Popen([path, "--host", "127.0.0.1", "--port", "0", *args],
                                        stdout=subprocess.PIPE, stderr=stderr, text=True,
                                        preexec_fn=preexec_fn)
        line = self.process.stdout.readline().strip()
        match = LISTENING.match(line)
        if not match:
            self.process.kill()
            raise RuntimeError(f"first line was {line!r}")
        self.host = match.group("host")
        self.port = int(match.group("port"))

    def stop(self, timeout=15):
        """Sends SIGTERM and returns the exit code (killing the process if it overstays)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            return None


@pytest.fixture
def start_demo(demo_path):
    """Starts demos with the given flags; each is stopped at the end and must exit 0."""
    started = []

    def start(*args, stderr=subprocess.DEVNULL):
        demo = Demo(demo_path, [str(a) for a in args], stderr=stderr)
        started.append(demo)
        return demo

    yield start
    for demo in started:
        code = demo.stop()
        assert code == 0, f"demo exited with {code}"


@pytest.fixture
def demo(start_demo):
    return start_demo()


def memory(demo, field):
    """A memory field of the demo's /proc status (VmRSS, VmHWM, ...), in bytes."""
    with open(f"/proc/{demo.process.pid}/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise AssertionError(f"no {field} for the demo")


def wait_until(predicate, timeout=10.0, interval=0.02):
    """Polls a condition the test expects to become true; fails after `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()
