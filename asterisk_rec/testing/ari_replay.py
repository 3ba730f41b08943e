"""Lab calls replayed into the Stasis app without the lab (the idea of panoramisk's ``testing``).

A fixture (``tests/fixtures/ari/*.json``, made by ``tests/integration/record_ari.py`` from a service's
``service.ari_trace``) holds what Asterisk and the app said to each other in one lab call, in the order
the app saw it: events, commands as given, Asterisk's answers. The replay runs a real ``StasisApp`` (with
its call flow, reconciliation and ledger, on a real journal) against a stand-in for the ARI client:
each event is delivered once the app has done all it can with the ones before (events come slower than
the app works), each command the app gives must be the fixture's next one, exactly, and gets the
answer Asterisk gave. Time is trio's mock clock: a ring time or a digit timeout passes at once, but only
when the app has nothing else to do. A command the fixture does not expect, or one it expects and the app
never gives, is a ``ReplayMismatch``."""

from __future__ import annotations

import dataclasses
import json
import math
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
import trio.testing

from asterisk_rec.callflow.app import StasisApp
from asterisk_rec.callflow.control import CallControl
from asterisk_rec.callflow.events import Event, event_time
from asterisk_rec.callflow.journal import Entry, Journal
from asterisk_rec.callflow.ledger import CallLedger
from asterisk_rec.completeness.model import Coverage
from asterisk_rec.config import CallSettings
from asterisk_rec.directory.models import (
    SCOPE_SWITCHES,
    ArchiveFormat,
    Device,
    DeviceKind,
    FailMode,
    Forwarding,
    Organisation,
    RecordingMode,
    RecordingScope,
    User,
)
from asterisk_rec.directory.snapshot import DirectorySnapshot
from asterisk_rec.errors import AriCommandFailed, AriConnectionLost

FIXTURES = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "ari"
# How long (mock time) the replay waits for a command the fixture expects next.
COMMAND_WAIT_SECONDS = 300.0
# Real time the app may sit idle before the mock clock jumps to its next timer (the app has no threads
# in a replay: the journal writes in place).
AUTOJUMP_SECONDS = 0.01
CALL_ID_VARIABLE = "CDR(asterisk_rec_call)"
END_OF_REPLAY = "end_of_replay"


class ReplayMismatch(AssertionError):
    pass


# The fixture's parts

def directory_json(organisations: list[Organisation], users: list[User]) -> dict[str, Any]:
    def organisation(o: Organisation) -> dict[str, Any]:
        return {"id": o.id, "name": o.name, "time_zone": o.time_zone, "language": o.language,
                "fail_mode": o.fail_mode.value, "archive_format": o.archive_format.value,
                "feature_code": o.feature_code, "pickup_code": o.pickup_code,
                "directed_pickup_prefix": o.directed_pickup_prefix}

    return {"organisations": [organisation(o) for o in organisations],
            "users": [{"id": u.id, "organisation": u.organisation.name, "extension": u.extension, "name": u.name,
                       "email": u.email, "language": u.language, "recording_mode": u.recording_mode.value,
                       "recorded_calls": list(u.recording_scope.switched_on),
                       "forwarding": dataclasses.asdict(u.forwarding), "pickup_group": u.pickup_group,
                       "devices": [{"id": d.id, "kind": d.kind.value, "endpoint": d.endpoint, "number": d.number}
                                   for d in u.devices]} for u in users]}


def directory_of(data: dict[str, Any]) -> DirectorySnapshot:
    organisations = {o["name"]: Organisation(o["id"], o["name"], o["time_zone"], o["language"],
                                             FailMode(o["fail_mode"]), ArchiveFormat(o["archive_format"]),
                                             o["feature_code"], o.get("pickup_code", "*8"),
                                             o.get("directed_pickup_prefix", "**")) for o in data["organisations"]}
    users = [User(u["id"], organisations[u["organisation"]], u["extension"], u["name"], u["email"], u["language"],
                  RecordingMode(u["recording_mode"]),
                  tuple(Device(d["id"], DeviceKind(d["kind"]), d["endpoint"], d["number"]) for d in u["devices"]),
                  # Fixtures recorded before the switches existed: every call recorded.
                  RecordingScope(*(name in u.get("recorded_calls", SCOPE_SWITCHES) for name in SCOPE_SWITCHES)),
                  Forwarding(**u.get("forwarding", {})), u.get("pickup_group"))
             for u in data["users"]]
    return DirectorySnapshot.of(organisations.values(), users)


@dataclass
class Fixture:
    name: str
    description: str
    app: str
    settings: CallSettings
    directory: DirectorySnapshot
    steps: list[dict[str, Any]]
    # The parts the journal or PostgreSQL held for a recording when the replayed service started.
    known_parts: dict[str, list[list[str | None]]] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> Fixture:
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls(path.stem, data["description"], data["app"], CallSettings(**data["settings"]),
                   directory_of(data["directory"]), data["steps"], data.get("known_parts", {}))

    def call_ids(self) -> Iterator[str]:
        """The call ids the recorded service gave its calls, in order (each call tags its caller first)."""
        seen: list[str] = []
        for step in self.steps:
            params = step.get("params", {})
            if step.get("command") == "channels.setChannelVar" and params.get("variable") == CALL_ID_VARIABLE \
                    and params["value"] not in seen:
                seen.append(params["value"])
        return iter(seen)

    def began(self) -> datetime:
        """When the first event happened (Asterisk's timestamp)."""
        for step in self.steps:
            if "event" in step and (at := event_time(step["event"])) is not None:
                return datetime.fromtimestamp(at, UTC)
        return datetime(2026, 1, 1, tzinfo=UTC)

    def commands(self) -> list[dict[str, Any]]:
        return [step for step in self.steps if "command" in step]


# Stand-ins

@dataclass
class Issued:
    operation: str
    params: dict[str, Any]
    answered: anyio.Event = field(default_factory=anyio.Event)
    answer: dict[str, Any] | None = None


class ReplayedClient:
    """The ARI client as far as ``CallControl`` uses it: ``client.call("<repository>.<operation>", **params)``.
    Once closed (the fixture is over, or the replay failed) every command is answered at once as if its
    object were gone, so the app ends its calls; those commands are kept in ``late``."""

    def __init__(self) -> None:
        self.send, self.issued = anyio.create_memory_object_stream[Issued](math.inf)
        self.closed = False
        self.late: list[Issued] = []
        # Commands taken from the stream and waiting for their answer in the fixture, by the fixture's id.
        self.waiting: dict[int, Issued] = {}

    def close(self) -> None:
        self.closed = True
        for issued in self.waiting.values():
            # Asterisk had not answered when the trace ended (or the replay failed before the answer).
            issued.answer = {"error": {"status": None, "text": "no answer in the fixture"}}
            issued.answered.set()
        while self.issued.statistics().current_buffer_used:
            self._gone(self.issued.receive_nowait())

    def _gone(self, issued: Issued) -> None:
        self.late.append(issued)
        issued.answer = {"error": {"status": 404, "text": "the replay is over"}}
        issued.answered.set()

    async def call(self, name: str, /, **params: Any) -> Any:
        issued = Issued(name, json.loads(json.dumps(params)))
        if self.closed:
            self._gone(issued)
        else:
            self.send.send_nowait(issued)
        await issued.answered.wait()
        return _answer(issued)


def _answer(issued: Issued) -> Any:
    answer = issued.answer or {}
    error = answer.get("error")
    if error is not None:
        status, text = error.get("status"), error.get("text", "")
        if status is None:
            raise AriConnectionLost(text)
        raise AriCommandFailed(f"ARI {issued.operation} answered {status}: {text}", status, text)
    return answer.get("result")


class ArchiveHandOff:
    """The archiver as the ledger sees it: which recordings were held back and which released to it."""

    def __init__(self) -> None:
        self.held: list[str] = []
        self.released: list[tuple[str, bool]] = []

    def hold(self, name: str) -> None:
        self.held.append(name)

    def release(self, name: str, archive: bool = True) -> None:
        self.released.append((name, archive))


class KnownParts:
    """The recordings' rows as far as the ledger reads them (an adopted call's parts so far)."""

    def __init__(self, parts: dict[str, list[list[str | None]]]) -> None:
        self.parts = parts

    async def covered(self, name: str) -> Coverage:
        return Coverage([[datetime.fromisoformat(p) if p else None for p in part] for part in self.parts.get(name, [])])


@dataclass
class Replayed:
    """What the app left: the journal's entries (for PostgreSQL) and the archive's hand-offs."""

    entries: list[Entry]
    archive: ArchiveHandOff
    commands: int

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        return [entry.payload for entry in self.entries if entry.kind == kind]


# The replay

class ReplayClock:
    """The app's wall clock in a replay: the time of the last event Asterisk sent (its timestamp), plus
    the mock time passed since; never going back."""

    def __init__(self, began: datetime) -> None:
        self.last = began
        self.since = anyio.current_time()
        self.latest = began

    def event_arrived(self, event: Event) -> None:
        at = event_time(event)
        if at is not None:
            self.last = datetime.fromtimestamp(at, UTC)
            self.since = anyio.current_time()

    def __call__(self) -> datetime:
        self.latest = max(self.latest, self.last + timedelta(seconds=anyio.current_time() - self.since))
        return self.latest


async def _in_place(function: Callable[..., Any], *args: Any) -> Any:
    """The journal's writes in the event loop, not a thread: trio's mock clock (and
    ``wait_all_tasks_blocked``) would take a task waiting for a thread for an idle one."""
    return function(*args)


async def replay(fixture: Fixture, journal_path: Path) -> Replayed:
    """Runs the fixture through a StasisApp; raises ``ReplayMismatch`` where the app departs from it.
    Must run on trio with a ``MockClock`` (``run_replay``)."""
    clock = ReplayClock(fixture.began())
    call_ids = fixture.call_ids()

    def next_call_id() -> str:
        found = next(call_ids, None)
        if found is None:
            raise ReplayMismatch("the app started a call the fixture does not have")
        return found

    journal = Journal(journal_path, run_sync=_in_place).open()
    archive = ArchiveHandOff()
    client = ReplayedClient()
    try:
        async with anyio.create_task_group() as tasks:
            ledger = CallLedger(None, KnownParts(fixture.known_parts), archive, tasks, journal)  # type: ignore[arg-type]
            app = StasisApp(CallControl(client, fixture.app), fixture.directory, fixture.settings, ledger, tasks,
                            call_ids=next_call_id, clock=clock)
            tasks.start_soon(app.reconcile)
            try:
                commands = await _feed(fixture, app, client, clock)
                # What the app does once the fixture is over: nothing but end, by itself.
                await trio.testing.wait_all_tasks_blocked()
            finally:
                client.close()
            with anyio.fail_after(COMMAND_WAIT_SECONDS):
                while app.active:  # noqa: ASYNC110 (the app has no event for it; mock time)
                    await anyio.sleep(1)
            if client.late:
                raise ReplayMismatch("after the fixture's end the app gave "
                                     + "; ".join(f"{c.operation} {c.params}" for c in client.late))
            # Every entry queued before this one is written once it is.
            await journal.append(END_OF_REPLAY, {})
            tasks.cancel_scope.cancel()
        entries = [entry for entry in await journal.pending(limit=10_000) if entry.kind != END_OF_REPLAY]
        return Replayed(entries, archive, commands)
    finally:
        journal.close()


async def _feed(fixture: Fixture, app: StasisApp, client: ReplayedClient, clock: ReplayClock) -> int:
    commands = 0
    for number, step in enumerate(fixture.steps, 1):
        if "event" in step:
            await trio.testing.wait_all_tasks_blocked()
            clock.event_arrived(step["event"])
            await app.router(step["event"])
        elif "command" in step:
            issued: Issued | None = None
            with anyio.move_on_after(COMMAND_WAIT_SECONDS):
                issued = await client.issued.receive()
            if issued is None:
                raise ReplayMismatch(f"step {number}: the app never gave {step['command']} {step['params']}")
            if (issued.operation, issued.params) != (step["command"], step["params"]):
                client.waiting[-number] = issued
                raise ReplayMismatch(f"step {number}: expected {step['command']} {step['params']},\n"
                                     f"the app gave {issued.operation} {issued.params}")
            client.waiting[step["id"]] = issued
            commands += 1
        elif "answer" in step:
            answered = client.waiting.pop(step["answer"])
            answered.answer = step
            answered.answered.set()
    return commands


def _mismatch_of(group: BaseExceptionGroup[BaseException]) -> ReplayMismatch | None:
    for error in group.exceptions:
        found = _mismatch_of(error) if isinstance(error, BaseExceptionGroup) else error
        if isinstance(found, ReplayMismatch):
            return found
    return None


def run_replay(fixture: Fixture) -> Replayed:
    """The replay on trio's mock clock, its journal in memory's file system where there is one (synced
    writes, in the event loop, stay quick)."""
    memory = Path("/dev/shm")
    with tempfile.TemporaryDirectory(dir=memory if memory.is_dir() else None) as scratch:
        try:
            result: Replayed = trio.run(replay, fixture, Path(scratch) / "journal.sqlite3",
                                        clock=trio.testing.MockClock(autojump_threshold=AUTOJUMP_SECONDS))
        except BaseExceptionGroup as group:
            # The task group's wrapping: the mismatch is what the test is about.
            mismatch = _mismatch_of(group)
            if mismatch is None:
                raise
            raise mismatch from group
    return result


def fixtures() -> list[Path]:
    return sorted(FIXTURES.glob("*.json"))

