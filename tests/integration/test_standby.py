"""A standby for the lab's Asterisk: two instances of the service, each with its own journal (as on two
machines), share the node's lease in PostgreSQL. The suite's own service is stopped for these tests and
started again after."""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import datetime
from functools import partial
from pathlib import Path

import anyio
import pytest
from anyio.abc import SocketStream

from asterisk_rec.config import Settings
from asterisk_rec.testing.sipp import ALICE_DESK, BOB_DESK, answer, call, ulaw_tone
from asterisk_rec.testing.tones import longest_hole_ms
from tests.integration.calls import CALLEE_HZ, CALLER_HZ, Records, assert_both_tones
from tests.integration.conftest import ServiceProcess, SetModes
from tests.integration.phones import finish
from tests.integration.test_faults import assert_counts

pytestmark = pytest.mark.anyio

RUNNING = "asterisk-rec is running"
# (The holder's name begins with its node.)
STANDBY = "standby for node 'main': main@"
CALLS = 20
TALK_MS = 15000


def instance(service: ServiceProcess, workdir: Path, name: str) -> ServiceProcess:
    return ServiceProcess(service.command, workdir / f"{name}.log")


def standby_settings(workdir: Path, name: str, *more: str) -> tuple[str, ...]:
    return ("standby.enabled=true", f"service.journal={workdir / f'{name}.journal.sqlite3'}", *more)


@contextmanager
def two_instances(service: ServiceProcess, workdir: Path) -> Iterator[tuple[ServiceProcess, ServiceProcess]]:
    """The suite's service stopped; two instances made (not started); after the block, both stopped and
    the suite's service started again."""
    service.stop()
    first, second = instance(service, workdir, "first"), instance(service, workdir, "second")
    try:
        yield first, second
    finally:
        for each in (first, second):
            each.stop()
        service.start()


async def wait_for_text(process: ServiceProcess, text: str, after: int, within: float) -> float:
    """The monotonic time at which ``text`` was first seen in what ``process`` logged after ``after``
    (looked for every 20 ms)."""
    with anyio.fail_after(within):
        while text not in process.log.read_text()[after:]:  # noqa: ASYNC110
            await anyio.sleep(0.02)
    return time.monotonic()


async def test_the_standby_takes_over_within_5_s_of_the_active_one_killed(
        settings: Settings, service: ServiceProcess, set_modes: SetModes, records: Records, tmp_path: Path) -> None:
    """20 recorded calls (all set up within two seconds) talk 15 s; the active instance is killed (-9)
    once all are recording: the standby's Stasis app is registered and its calls adopted within 5 s of the
    kill, every call has its row and its recording, holding both parties' tones with no hole over 100 ms;
    the killed instance, started again, waits as the standby."""
    await set_modes(alice="always")
    with two_instances(service, tmp_path) as (first, second):
        first.start(*standby_settings(tmp_path, "first"))
        second.start(*standby_settings(tmp_path, "second"), ready=STANDBY)
        before = await records.snapshot()
        answering = answer(BOB_DESK, ulaw_tone(tmp_path / "callee.ul", CALLEE_HZ, TALK_MS / 1000 + 10),
                           tmp_path / "bob", calls=CALLS, timeout_s=120)
        await anyio.sleep(0.5)
        calling = call(ALICE_DESK, "202", ulaw_tone(tmp_path / "caller.ul", CALLER_HZ, TALK_MS / 1000 + 10),
                       tmp_path / "alice", call_ms=TALK_MS, calls=CALLS, per_second=CALLS // 2, timeout_s=120)
        try:
            with anyio.fail_after(30):
                while first.log.read_text()[first.offset:].count("connected, recording") < CALLS:  # noqa: ASYNC110
                    await anyio.sleep(0.1)
            await anyio.sleep(1)
            offset = second.log_size()
            killed = time.monotonic()
            first.kill()
            registered = await wait_for_text(second, RUNNING, offset, within=30)
            assert second.log.read_text()[offset:].count("adopted (recording") == CALLS
        finally:
            await finish(calling, answering)
        takeover = registered - killed
        assert takeover <= 5.0, f"the standby took {takeover:.1f} s"
        await assert_counts(records, before, calls=CALLS, recorded=CALLS)
        for recording in await records.stored_since(before):
            audio = await anyio.to_thread.run_sync(records.verified_audio, recording)
            assert_both_tones(audio)
            holes = {hz: longest_hole_ms(audio, hz) for hz in (CALLER_HZ, CALLEE_HZ)}
            assert max(holes.values()) <= 100, (recording["name"], holes)
        first.start(*standby_settings(tmp_path, "first"), ready=STANDBY)
        assert "stepping down" not in second.log.read_text()


class Blackhole:
    """A TCP relay on loopback to PostgreSQL that can be cut as a network cut does: it stops passing bytes
    either way, and new connections hang (nothing is refused, nothing closed)."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.cut = anyio.Event()
        self.port = 0

    @asynccontextmanager
    async def running(self) -> AsyncIterator[Blackhole]:
        listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)
        self.port = listener.extra(anyio.abc.SocketAttribute.local_port)
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(listener.serve, self._relay)
            try:
                yield self
            finally:
                tasks.cancel_scope.cancel()

    async def _relay(self, client: SocketStream) -> None:
        """One connection relayed both ways; either side closing or failing ends it (and only it)."""
        async with client:
            try:
                server = await anyio.connect_tcp("127.0.0.1", self.target_port)
            except OSError:
                return
            async with server, anyio.create_task_group() as tasks:
                async def one_way(source: SocketStream, sink: SocketStream) -> None:
                    with contextlib.suppress(OSError, anyio.BrokenResourceError, anyio.ClosedResourceError,
                                             anyio.EndOfStream):
                        await self._pass(source, sink)
                    tasks.cancel_scope.cancel()

                tasks.start_soon(one_way, client, server)
                tasks.start_soon(one_way, server, client)

    async def _pass(self, source: SocketStream, sink: SocketStream) -> None:
        async for data in source:
            if self.cut.is_set():
                await anyio.sleep_forever()
            await sink.send(data)


def logged_at(log: str, text: str) -> datetime:
    """When a text-format log line holding ``text`` was written (its leading timestamp)."""
    line = next(line for line in log.splitlines() if text in line)
    stamp = re.match(r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3})", line)
    assert stamp is not None, line
    return datetime.strptime(stamp[1], "%Y-%m-%d %H:%M:%S,%f")


async def test_an_active_instance_cut_off_from_postgresql_steps_down_before_the_standby_takes_over(
        settings: Settings, service: ServiceProcess, tmp_path: Path) -> None:
    """The active instance reaches PostgreSQL through a relay that is then cut (bytes stop, nothing is
    refused): it steps down, its Stasis app off Asterisk, before the standby takes the lease (which it does
    within 5 s); the relay mended, the stepped-down instance waits as the standby, and the new active one
    stays active."""
    with two_instances(service, tmp_path) as (first, second):
        async with Blackhole(settings.database.port).running() as relay:
            # In threads: the relay runs in this event loop, which a start's wait would block.
            await anyio.to_thread.run_sync(
                partial(first.start, *standby_settings(tmp_path, "first", f"database.port={relay.port}")))
            await anyio.to_thread.run_sync(partial(second.start, *standby_settings(tmp_path, "second"),
                                                   ready=STANDBY))
            offsets = first.log_size(), second.log_size()
            relay.cut.set()
            cut = time.monotonic()
            await wait_for_text(second, RUNNING, offsets[1], within=30)
            assert time.monotonic() - cut <= 5.0 + 1.0  # (its reconcile and log line after the takeover)
            first_log = first.log.read_text()[offsets[0]:]
            second_log = second.log.read_text()[offsets[1]:]
            assert "stepping down on node 'main'" in first_log, first_log[-3000:]
            stepped_down = logged_at(first_log, "stepping down on node 'main'")
            took_over = logged_at(second_log, "active for node 'main'")
            assert stepped_down < took_over, (stepped_down, took_over)
            relay.cut = anyio.Event()
            await wait_for_text(first, STANDBY, offsets[0], within=30)
            assert "stepping down" not in second.log.read_text()[offsets[1]:]
