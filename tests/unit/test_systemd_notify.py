"""systemd's notify protocol over a real Unix datagram socket (as systemd listens): what is sent, when
the watchdog is asked for, and nothing outside systemd."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

from asterisk_rec.adapters.systemd import keep_watchdog_fed, notify, watchdog_interval


@pytest.fixture
def listening(tmp_path: Path) -> Iterator[tuple[socket.socket, str]]:
    path = str(tmp_path / "notify")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(path)
        sock.settimeout(5)
        yield sock, path


def test_ready_reaches_the_socket_and_nothing_is_sent_outside_systemd(
        listening: tuple[socket.socket, str], tmp_path: Path) -> None:
    """READY=1 arrives as one datagram; without NOTIFY_SOCKET nothing is sent; a socket nobody listens
    on is reported as not notified, not raised."""
    sock, path = listening
    assert notify("READY=1", {"NOTIFY_SOCKET": path})
    assert sock.recv(100) == b"READY=1"
    assert not notify("READY=1", {})
    assert not notify("READY=1", {"NOTIFY_SOCKET": str(tmp_path / "nobody")})


def test_an_abstract_socket_is_named_with_an_at_sign() -> None:
    """``@name`` is the abstract socket ``\\0name``."""
    name = f"asterisk-rec-test-{os.getpid()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        sock.settimeout(5)
        assert notify("STATUS=Jürgen \U0001f4de", {"NOTIFY_SOCKET": "@" + name})
        assert sock.recv(100).decode() == "STATUS=Jürgen \U0001f4de"


@pytest.mark.parametrize(("environ", "expected"), [
    ({"WATCHDOG_USEC": "30000000"}, 15.0),
    ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": str(os.getpid())}, 15.0),
    ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"}, None),  # meant for another process
    ({"WATCHDOG_USEC": "0"}, None),
    ({"WATCHDOG_USEC": "-1"}, None),
    ({"WATCHDOG_USEC": "\uff19"}, None),  # a fullwidth nine
    ({"WATCHDOG_USEC": "thirty"}, None),
    ({"WATCHDOG_USEC": " 30"}, None),
    ({"WATCHDOG_USEC": str(2**64)}, 2**64 / 2_000_000),
    ({}, None),
])
def test_the_watchdog_period_is_read_from_systemds_variables(environ: dict[str, str], expected: float | None) -> None:
    """Half of WATCHDOG_USEC, for this process only; anything else is no watchdog."""
    assert watchdog_interval(environ) == expected


@pytest.mark.anyio
async def test_the_watchdog_is_fed_while_the_loop_runs(listening: tuple[socket.socket, str]) -> None:
    """With a watchdog of 0.2 s, WATCHDOG=1 comes every 0.1 s: three of them within the bound."""
    sock, path = listening
    sock.setblocking(False)
    received: list[bytes] = []
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(keep_watchdog_fed, {"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "200000"})
        with anyio.fail_after(5):
            while len(received) < 3:
                await anyio.wait_readable(sock)
                received.append(sock.recv(100))
        tasks.cancel_scope.cancel()
    assert received == [b"WATCHDOG=1"] * 3
