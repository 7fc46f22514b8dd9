"""The demos' command line: both refuse a bad flag the same way, before they listen.

A user who mistypes a flag learns which one and why, on stderr, with exit status 2; nothing
listens. --help prints the usage on stdout and exits 0.
"""
import os
import subprocess

import pytest


def run(demo_path, *args):
    return subprocess.run([demo_path, *args], capture_output=True, text=True, timeout=10)


def program(demo_path):
    return os.path.basename(demo_path)


@pytest.mark.parametrize("args, message", [
    (["--port", "70000"], "--port takes a whole number in 0...65535, not '70000'"),
    (["--io-threads", "0"], "--io-threads takes a whole number in 1...64, not '0'"),
    (["--max-concurrency", "many"], "--max-concurrency takes a whole number"),
    (["--overload-status", "500"], "--overload-status takes 503 or 429"),
    (["--log-level", "loud"], "--log-level takes trace, debug, info, notice, warning, error or critical"),
    (["--adaptive-target-ms", "50", "--max-concurrency", "4", "--min-limit", "5"],
     "--min-limit cannot exceed --max-concurrency"),
    (["--port"], "--port needs a value"),
    (["--bogus"], "unknown option --bogus"),
    (["--bogus", "1"], "unknown option --bogus"),
    (["--port", "0", "--max-queue"], "--max-queue needs a value"),
])
def test_a_bad_command_line_is_refused_with_exit_status_2(demo_path, args, message):
    result = run(demo_path, *args)
    assert result.returncode == 2, result
    assert result.stderr.startswith(f"{program(demo_path)}: {message}"), result.stderr
    assert "listening on" not in result.stdout


def test_help_prints_the_usage_and_exits_0(demo_path):
    result = run(demo_path, "--help")
    assert result.returncode == 0
    assert result.stdout.startswith(f"usage: {program(demo_path)} [--host ADDR] [--port N]")
    for flag in ("--max-queue", "--gate-limit", "--access-log", "--upload-limit-bytes", "--log-level"):
        assert flag in result.stdout
