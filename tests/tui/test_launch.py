"""`s3rb-tui --demo` in a real pseudo-terminal: it opens the console, q quits with exit code 0, and it
exits when its terminal goes away (SIGHUP)."""

from __future__ import annotations

import os
import select
import signal
import sys
import time

import pytest

pty = pytest.importorskip("pty")


def _spawn(tmp_path):
    env = dict(os.environ, S3RB_DEMO_DIR=str(tmp_path / "demo"), S3RB_DEMO_ROWS="2000", TERM="xterm-256color", COLUMNS="100", LINES="30")
    pid, fd = pty.fork()
    if pid == 0:  # the child: the real program, as a user starts it
        os.execve(sys.executable, [sys.executable, "-m", "s3rb_tui", "--demo"], env)
    return pid, fd


def _read_until(fd, needle: bytes, timeout: float) -> bytes:
    out, deadline = b"", time.monotonic() + timeout
    while needle not in out:
        if time.monotonic() > deadline:
            raise AssertionError(f"{needle!r} not seen within {timeout}s; last output: {out[-400:]!r}")
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                data = os.read(fd, 65536)
            except OSError:
                break
            if not data:
                break
            out += data
    return out


def _wait_exit(pid: int, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        select.select([], [], [], 0.05)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    raise AssertionError(f"s3rb-tui did not exit within {timeout}s")


def test_demo_console_opens_and_q_quits(tmp_path):
    pid, fd = _spawn(tmp_path)
    try:
        _read_until(fd, b"partner_info", timeout=60)  # the dashboard has drawn the demo's tables
        os.write(fd, b"q")
        assert _wait_exit(pid, timeout=20) == 0
    finally:
        os.close(fd)


def test_console_exits_when_its_terminal_goes_away(tmp_path):
    pid, fd = _spawn(tmp_path)
    _read_until(fd, b"partner_info", timeout=60)
    os.close(fd)  # hang up: the child gets SIGHUP and EOF on its terminal
    _wait_exit(pid, timeout=20)  # raises (and kills it) if the console is still running
