"""Nothing lost under faults: each test places calls through the lab while something breaks, and ends
with exact counts: as many call rows as calls placed, as many archived files (hash verified, both tones)
as recorded calls."""

from __future__ import annotations

import functools
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from asterisk_rec.config import Settings
from asterisk_rec.lab import Lab, LabSettings
from asterisk_rec.lab.services import ServiceSpec, service_specs
from asterisk_rec.testing.sipp import ALICE_DESK, BOB_DESK, answer, call, ulaw_tone
from tests.integration.calls import CALLEE_HZ, CALLER_HZ, Records, Snapshot, assert_both_tones
from tests.integration.conftest import PORTAL_PORT, Mailbox, Portal, ServiceProcess, SetModes, dutch_admin
from tests.integration.phones import finish, talk
from tests.integration.test_completeness import completeness_cli

pytestmark = pytest.mark.anyio

CONNECTED = "connected, recording"
# A recorded call's talk: as in the call-control tests, long enough (70 windows) that the first 100 ms
# window, in which the caller's tone may only begin, stays within the 98 % bar.
RECORDED_MS = 7000


def lab_service(name: str) -> tuple[Lab, ServiceSpec]:
    lab = Lab(LabSettings.from_environment())
    return lab, next(spec for spec in service_specs(lab.rootfs) if spec.name == name)


async def wait_for_log_count(service: ServiceProcess, text: str, count: int, within: float = 30) -> None:
    with anyio.fail_after(within):
        # The service's log is a file: poll it.
        while service.log.read_text().count(text) < count:  # noqa: ASYNC110
            await anyio.sleep(0.05)


async def assert_counts(records: Records, before: Snapshot, calls: int, recorded: int,
                        check_audio: bool = True) -> None:
    """Exactly ``calls`` call rows and ``recorded`` archived recordings since ``before``, each recording
    verified against its hash and holding both parties' tones, and linked to one of the rows."""
    rows = await records.wait_for_calls(before, calls, within=60)
    with anyio.fail_after(60):
        while len(stored := await records.stored_since(before)) < recorded:  # noqa: ASYNC110
            await anyio.sleep(0.3)
    await anyio.sleep(2)
    stored = await records.stored_since(before)
    assert len(stored) == recorded, [r["name"] for r in stored]
    call_ids = {row["call_id"] for row in rows}
    for recording in stored:
        assert recording["call_id"] in call_ids, f"{recording['name']} is linked to no call row"
        if check_audio:
            assert_both_tones(await anyio.to_thread.run_sync(records.verified_audio, recording))


async def test_service_killed_mid_fetch(settings: Settings, service: ServiceProcess, set_modes: SetModes,
                                        records: Records, tmp_path: Path) -> None:
    """The service is killed (-9) while it writes a finished recording into the archive, and started again:
    the recording, still in Asterisk's spool, is archived whole; one call row, one recording."""
    await set_modes(alice="always")
    before = await records.snapshot()
    day = datetime.now(UTC)
    partials = f"*/{day:%Y}/{day:%m}/{day:%d}/.*.partial"
    archive = Path(settings.archive.root)
    async with anyio.create_task_group() as calls:
        calls.start_soon(functools.partial(talk, tmp_path, ALICE_DESK, "202", BOB_DESK, call_ms=20000))
        with anyio.fail_after(60):
            while not list(archive.glob(partials)):  # noqa: ASYNC110, ASYNC240 (a glob of one day)
                await anyio.sleep(0.005)
        service.kill()
    service.start()
    await assert_counts(records, before, calls=1, recorded=1)


async def test_ami_dropped_at_hangup(settings: Settings, service: ServiceProcess, set_modes: SetModes,
                                     records: Records, tmp_path: Path) -> None:
    """The AMI connection is cut again and again around the hangup, so the call's CDR goes out while no
    AMI client listens: it is recovered from Asterisk's CDR file once AMI is back; one row."""
    await set_modes(alice="always")
    before = await records.snapshot()
    marker = service.log.read_text().count(CONNECTED)
    async with anyio.create_task_group() as calls:
        calls.start_soon(functools.partial(talk, tmp_path, ALICE_DESK, "202", BOB_DESK, call_ms=RECORDED_MS))
        await wait_for_log_count(service, CONNECTED, marker + 1)
        await anyio.sleep(RECORDED_MS / 1000 - 1.5)
        with anyio.move_on_after(4):
            while True:
                await anyio.run_process(["ss", "-K", "dst", "127.0.0.1", "dport", "=", ":5038"])
                await anyio.sleep(0.1)
    await assert_counts(records, before, calls=1, recorded=1)
    row = (await records.calls_since(before))[0]
    via = await records.rows("SELECT received_via FROM cdr_records WHERE linked_id = %s", (row["linked_id"],))
    assert [r["received_via"] for r in via] == ["csv"], via


async def readiness_until(ready: bool, within: float = 30) -> dict[str, Any]:
    """``/readyz`` once it says ``ready`` (200) or not (503); fails after ``within`` seconds with its last
    answer. ``/healthz`` answers meanwhile, whatever is down."""
    last: dict[str, Any] = {}
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{PORTAL_PORT}", timeout=5) as client:
        with anyio.move_on_after(within):
            while True:
                answer = await client.get("/readyz")
                assert answer.status_code in (200, 503), answer.text
                last = answer.json()
                assert last["ready"] is (answer.status_code == 200), last
                alive = await client.get("/healthz")
                assert alive.status_code == 200 and alive.json() == {"status": "alive"}
                if last["ready"] is ready:
                    return last
                await anyio.sleep(0.2)
    pytest.fail(f"/readyz never said ready={ready} within {within} s: {last}")


async def test_readiness_follows_postgresql(service: ServiceProcess) -> None:
    """Ready with ARI, AMI, PostgreSQL, the directory and the archive all well; PostgreSQL stopped: unready
    (503) naming it and the directory (stale), the others still fine; PostgreSQL back: ready again, the
    directory loaded again at once (within seconds, not after a supervisor's delay)."""
    checks = (await readiness_until(True))["checks"]
    assert {name for name, check in checks.items() if check["ok"]} == {"ari", "ami", "postgresql", "directory",
                                                                       "archive"}
    lab, postgresql = lab_service("postgresql")
    await anyio.to_thread.run_sync(lab.services.stop, postgresql)
    try:
        checks = (await readiness_until(False, within=15))["checks"]
        assert not checks["postgresql"]["ok"] and checks["postgresql"]["detail"], checks
        assert checks["ari"]["ok"] and checks["ami"]["ok"] and checks["archive"]["ok"], checks
        with anyio.fail_after(15):
            while (await readiness_until(False))["checks"]["directory"]["ok"]:  # noqa: ASYNC110 (HTTP polled)
                await anyio.sleep(0.2)
    finally:
        offset = service.log_size()
        await anyio.to_thread.run_sync(lab.services.start, postgresql)
    # Ready means the directory is loaded again: a change made now is seen (the next test changes who is
    # recorded).
    await readiness_until(True, within=15)
    service.wait_for_log("directory loaded", within=1, after=offset)


BURST = 20
BURST_TALK_MS = 20000


def set_up_seconds(recordings: list[dict[str, Any]]) -> list[float]:
    """Per call, sorted: from the end of the notice the callee heard on answering to the parties joined."""
    return sorted((r["joined_at"] - r["notice_finished_at"]).total_seconds() for r in recordings)


async def burst(workdir: Path, calls: int, talk_ms: int) -> None:
    """``calls`` calls Alice -> Bob (202), all started within two seconds, each talking ``talk_ms``."""
    await anyio.Path(workdir).mkdir(parents=True, exist_ok=True)
    answering = answer(BOB_DESK, ulaw_tone(workdir / "callee.ul", CALLEE_HZ, talk_ms / 1000 + 10), workdir / "bob",
                       calls=calls, timeout_s=120)
    await anyio.sleep(0.5)
    calling = call(ALICE_DESK, "202", ulaw_tone(workdir / "caller.ul", CALLER_HZ, talk_ms / 1000 + 10),
                   workdir / "alice", call_ms=talk_ms, calls=calls, per_second=calls // 2, timeout_s=120)
    await finish(calling, answering)


async def test_postgresql_stopped_60_s_while_20_recorded_calls_are_set_up(
        settings: Settings, service: ServiceProcess, set_modes: SetModes, records: Records, lab_env_file: Path,
        tmp_path: Path) -> None:
    """PostgreSQL stops; 20 recorded calls are set up (all within two seconds) and talk 20 s; PostgreSQL
    comes back after 60 s. Every call is set up as fast as with PostgreSQL up (attributed from the
    directory in memory, written down in the local journal), recorded from the moment the parties meet
    to its end, and once PostgreSQL is back every call row and recording row is there, exactly once, and
    none of the calls is a completeness exception."""
    await set_modes(alice="always")
    lab, postgresql = lab_service("postgresql")
    # The same burst with PostgreSQL up first: how fast calls are set up here anyway.
    baseline = await records.snapshot()
    await burst(tmp_path / "up", BURST, 3000)
    await assert_counts(records, baseline, calls=BURST, recorded=BURST, check_audio=False)
    up = set_up_seconds(await records.stored_since(baseline))
    before = await records.snapshot()
    await anyio.to_thread.run_sync(lab.services.stop, postgresql)
    stopped = anyio.current_time()
    try:
        await burst(tmp_path, BURST, BURST_TALK_MS)
        await anyio.sleep(max(0.0, 60 - (anyio.current_time() - stopped)))
    finally:
        await anyio.to_thread.run_sync(lab.services.start, postgresql)
    await assert_counts(records, before, calls=BURST, recorded=BURST)
    stored = await records.stored_since(before)
    down = set_up_seconds(stored)
    for label, figures in (("PostgreSQL up", up), ("PostgreSQL down", down)):
        print(f"notice's end to parties joined, {label}, {len(figures)} calls: median"
              f" {figures[len(figures) // 2] * 1000:.0f} ms, worst {figures[-1] * 1000:.0f} ms")
    assert down[-1] < max(1.0, 2 * up[-1]), (up, down)
    for recording in stored:
        recorded = sum((datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()
                       for start, end in recording["parts"])
        assert recording["duration_seconds"] >= BURST_TALK_MS / 1000 - 1.5, recording
        assert abs(recorded - recording["duration_seconds"]) < 1.5, recording
    rows = await records.rows("SELECT call_id, count(*) AS n FROM calls WHERE started_at >= %s GROUP BY call_id",
                              (before.since,))
    assert all(r["n"] == 1 for r in rows) and len(rows) == BURST, rows
    # PostgreSQL away is not an exception by itself: every call of the outage is judged complete.
    linked = {r["linked_id"] for r in await records.calls_since(before)}
    _, (report,) = await anyio.to_thread.run_sync(completeness_cli, lab_env_file)
    assert not [e for e in report["exceptions"] if e["linked_id"] in linked], report["exceptions"]


@contextmanager
def small_disk(path: Path, size: str) -> Iterator[None]:
    """``path`` on a tmpfs of its own of ``size`` (``remount`` it bigger for room to return); what was
    written there is copied back onto the real disk afterwards."""
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "asterisk-rec-archive", str(path)],
                   check=True, timeout=10)
    try:
        yield
    finally:
        keep = Path(tempfile.mkdtemp(prefix="archive-day-"))
        subprocess.run(["cp", "-a", f"{path}/.", str(keep)], check=True, timeout=60)
        subprocess.run(["umount", str(path)], check=True, timeout=10)
        subprocess.run(["cp", "-a", f"{keep}/.", str(path)], check=True, timeout=60)
        shutil.rmtree(keep)


def remount(path: Path, size: str) -> None:
    subprocess.run(["mount", "-o", f"remount,size={size}", str(path)], check=True, timeout=10)


async def test_archive_disk_full_during_20_recorded_calls(settings: Settings, service: ServiceProcess,
                                                          set_modes: SetModes, records: Records,
                                                          tmp_path: Path) -> None:
    """Today's archive directory of the lab is a 64 kB filesystem of its own: 20 recorded calls all
    connect and are recorded, storing fails for want of room (one alarm, the same service process on),
    the recordings wait in Asterisk's spool; once the filesystem has room every one is archived and
    linked to its call, exactly once."""
    await set_modes(alice="always")
    organisation = await records.rows("SELECT id FROM organisations WHERE name = 'lab'")
    day = datetime.now(UTC)
    directory = Path(settings.archive.root) / str(organisation[0]["id"]) / f"{day:%Y}" / f"{day:%m}" / f"{day:%d}"
    before = await records.snapshot()
    process = service.process
    offset = len(service.log.read_text())
    with small_disk(directory, "64k"):
        await burst(tmp_path, BURST, 8000)
        await wait_for_log_count(service, "ALARM: the archive's disk", 1)
        rows = await records.wait_for_calls(before, BURST, within=60)
        assert all(r["disposition"] == "answered" for r in rows), rows
        assert await records.stored_since(before) == []
        assert service.process is process and process is not None and process.poll() is None
        remount(directory, "64m")
        await assert_counts(records, before, calls=BURST, recorded=BURST)
        log = service.log.read_text()[offset:]
        assert log.count("ALARM: the archive's disk") == 1 and "all clear: the archive's disk" in log


@contextmanager
def read_only(path: Path) -> Iterator[None]:
    """``path`` read-only (a read-only bind mount of itself: the service runs as root, which ignores
    permissions)."""
    subprocess.run(["mount", "--bind", str(path), str(path)], check=True)
    try:
        subprocess.run(["mount", "-o", "remount,bind,ro", str(path)], check=True)
        yield
    finally:
        subprocess.run(["umount", str(path)], check=True)


async def test_archive_read_only_30_s(settings: Settings, service: ServiceProcess, set_modes: SetModes,
                                      records: Records, portal: Portal, mailbox: Mailbox, tmp_path: Path) -> None:
    """The archive is read-only for 30 s around a recorded call: the service is unready (the archive
    not writable), storing fails, is reported and retried, and succeeds once the archive is writable;
    one row, one recording, ready again. The alarm is raised once and cleared once: an e-mail each to
    every admin, in the admin's language (an English and a Dutch one), none more while it lasts."""
    await set_modes(alice="always")
    async with dutch_admin(settings) as dutch:
        await archive_read_only_30_s(settings, service, records, portal, mailbox, tmp_path, dutch)


async def archive_read_only_30_s(settings: Settings, service: ServiceProcess, records: Records, portal: Portal,
                                 mailbox: Mailbox, tmp_path: Path, dutch: str) -> None:
    mails_before = {who: len(mailbox.to(who)) for who in (portal.admin.email, dutch)}
    archive = Path(settings.archive.root)
    await anyio.Path(archive).mkdir(parents=True, exist_ok=True)
    before = await records.snapshot()
    failures = service.log.read_text().count("failed (attempt")
    with read_only(archive):
        started = anyio.current_time()
        checks = (await readiness_until(False, within=10))["checks"]
        assert checks["archive"] == {"ok": False, "detail": f"{archive} is not writable"}, checks
        await talk(tmp_path, ALICE_DESK, "202", BOB_DESK, call_ms=RECORDED_MS)
        await wait_for_log_count(service, "failed (attempt", failures + 1)
        await anyio.sleep(max(0.0, 30 - (anyio.current_time() - started)))
    await assert_counts(records, before, calls=1, recorded=1)
    await readiness_until(True, within=10)
    expected = {portal.admin.email: ["Alarm: recordings cannot be stored",
                                     "All clear: recordings cannot be stored"],
                dutch: ["Alarm: opnames kunnen niet worden opgeslagen",
                        "Opgelost: opnames kunnen niet worden opgeslagen"]}
    with anyio.fail_after(30):
        while any(len(mailbox.to(who)) - mails_before[who] < 2 for who in expected):  # noqa: ASYNC110
            await anyio.sleep(0.3)
    await anyio.sleep(6)  # a look of the alarms later: nothing more
    for who, subjects in expected.items():
        got = [subject for subject in mailbox.subjects(who)[mails_before[who]:]
               if "stored" in subject or "opgeslagen" in subject]
        assert [subject.split(" (")[0] for subject in got] == subjects, got


async def test_asterisk_restarted_between_calls(settings: Settings, service: ServiceProcess, set_modes: SetModes,
                                                records: Records, tmp_path: Path) -> None:
    """Asterisk restarts between two recorded calls: the service is unready while Asterisk is away (ARI
    named), connects again (ARI and AMI), is ready again, and both calls have their rows and archived
    recordings."""
    await set_modes(alice="always")
    lab, asterisk = lab_service("asterisk")
    before = await records.snapshot()
    await talk(tmp_path / "a", ALICE_DESK, "202", BOB_DESK, call_ms=RECORDED_MS)
    running = service.log.read_text().count("asterisk-rec is running")
    await anyio.to_thread.run_sync(lab.services.stop, asterisk)
    checks = (await readiness_until(False, within=15))["checks"]
    assert not checks["ari"]["ok"] and checks["postgresql"]["ok"], checks
    await anyio.to_thread.run_sync(lab.services.start, asterisk)
    await wait_for_log_count(service, "asterisk-rec is running", running + 1, within=60)
    await readiness_until(True, within=15)
    await anyio.sleep(3)  # AMI logs in again within panoramisk's 2 s
    await talk(tmp_path / "b", ALICE_DESK, "202", BOB_DESK, call_ms=RECORDED_MS)
    await assert_counts(records, before, calls=2, recorded=2)
