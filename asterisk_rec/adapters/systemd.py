"""systemd's notify protocol (sd_notify, without libsystemd): ``READY=1`` once the service runs, and
``WATCHDOG=1`` from the event loop at half the unit's ``WatchdogSec``, so systemd restarts a service whose
loop has stalled. Outside systemd (no ``NOTIFY_SOCKET``) nothing is sent."""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Mapping

import anyio

log = logging.getLogger(__name__)


def _address(environ: Mapping[str, str]) -> str | None:
    path = environ.get("NOTIFY_SOCKET", "")
    if not path:
        return None
    # An abstract socket is named with a leading "@" in the variable, a NUL on the wire.
    return "\0" + path[1:] if path.startswith("@") else path


def notify(message: str, environ: Mapping[str, str] = os.environ) -> bool:
    """Sends ``message`` (``READY=1``, ``WATCHDOG=1``, ``STATUS=...``); False outside systemd or when the
    socket refuses (logged: a missed notification costs at most a restart)."""
    address = _address(environ)
    if address is None:
        return False
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(address)
            sock.sendall(message.encode())
    except OSError as err:
        log.warning("cannot notify systemd (%s): %s", message.split("=", 1)[0], err)
        return False
    return True


def watchdog_interval(environ: Mapping[str, str] = os.environ) -> float | None:
    """Half of the watchdog's period (``WATCHDOG_USEC``), if systemd asked this process for it."""
    text = environ.get("WATCHDOG_USEC", "")
    # ASCII digits only: int() also takes other scripts' digits (a fullwidth nine), which systemd never writes.
    if not (text.isascii() and text.isdigit()) or int(text) == 0:
        return None
    pid = environ.get("WATCHDOG_PID", "")
    if pid and pid != str(os.getpid()):
        return None
    return int(text) / 2_000_000


async def keep_watchdog_fed(environ: Mapping[str, str] = os.environ) -> None:
    """``WATCHDOG=1`` at half the period for as long as the event loop runs (returns at once without a
    watchdog)."""
    interval = watchdog_interval(environ)
    if interval is None:
        return
    while True:
        notify("WATCHDOG=1", environ)
        await anyio.sleep(interval)
