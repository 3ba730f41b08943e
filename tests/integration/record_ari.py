"""Records the replay fixtures (tests/fixtures/ari/*.json) from real calls in the lab: each scenario runs
the service with ``service.ari_trace`` set, places its call with SIPp phones, and writes the trace (events,
commands, answers), the service's call settings and the lab directory into the scenario's fixture.

Not part of the suite (its name does not start with test_): run it when the call flow's dialogue with
Asterisk changes on purpose, with the lab up, then read the fixtures' diff:

    .venv/bin/pytest tests/integration/record_ari.py          (all scenarios; several minutes)
    .venv/bin/pytest tests/integration/record_ari.py -k busy  (one)
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import pytest

from asterisk_rec.adapters.ari import AriRest
from asterisk_rec.adapters.db import Database
from asterisk_rec.archive.records import RecordingStore
from asterisk_rec.callflow import entries
from asterisk_rec.callflow.journal import Journal
from asterisk_rec.config import Settings
from asterisk_rec.directory.store import DirectoryStore
from asterisk_rec.lab.directory import LAB_ORGANISATION
from asterisk_rec.testing.ari_replay import FIXTURES, directory_json
from asterisk_rec.testing.sipp import (
    ALICE_APP,
    ALICE_DESK,
    BOB_DESK,
    CAROL_DESK,
    DAVE_DESK,
    OUTSIDE_NUMBER,
    TRUNK,
    TRUNK_B_CALLER,
    TRUNK_CALLER,
    Phone,
    answer,
    busy,
    call,
    call_and_give_up,
    call_with_codes,
    ring_only,
    ulaw_tone,
)
from tests.integration.calls import CALLEE_HZ, CALLER_HZ, assert_nothing_left
from tests.integration.conftest import ServiceProcess, SetModes
from tests.integration.phones import finish, talk, unanswered
from tests.integration.test_attended_transfers import (
    alice_consults_outside_and_transfers_bob,
    bob_consults_carol_and_transfers_alice,
    bob_transfers_alice_to_carol_who_hung_up,
)
from tests.integration.test_forwarding import (
    alice_calls_bob_who_does_not_answer_then_carol,
    alice_calls_bob_who_forwards_to_carol,
    alice_calls_busy_bob_who_forwards_to_a_mobile,
)
from tests.integration.test_on_demand import ALICE_MOBILE
from tests.integration.test_pickup import picked_up
from tests.integration.test_transfers import (
    alice_pauses_and_bob_transfers_her_to_carol,
    alice_transfers_bob_outside,
    bob_leaves_alice_with_carol_who_does_not_answer,
    bob_transfers_alice_to_busy_carol,
    bob_transfers_alice_to_carol,
)

pytestmark = pytest.mark.anyio

Scenario = Callable[[Path], Awaitable[None]]


class Recorder:
    """Runs the session's service with a trace of its own for each scenario, and back without one after."""

    def __init__(self, settings: Settings, service: ServiceProcess, ari: AriRest, workdir: Path) -> None:
        self.settings = settings
        self.service = service
        self.ari = ari
        self.workdir = workdir

    def trace_to(self, path: Path) -> None:
        self.service.stop()
        self.service.start(f"service.ari_trace={path}")

    async def record(self, name: str, description: str, scenario: Scenario) -> Path:
        trace = self.workdir / f"{name}.jsonl"
        self.trace_to(trace)
        await scenario(self.workdir / name)
        await self.done()
        return write_fixture(name, description, trace, await self.directory())

    async def done(self) -> None:
        """The call is over in Asterisk, and the service has ended it (its last commands traced)."""
        await assert_nothing_left(self.ari, within=20)
        # The answer to its last command, and the events that trail a call's end.
        await anyio.sleep(1)
        self.service.stop()

    async def change_directory(self, make: Callable[[DirectoryStore], Awaitable[object]]) -> None:
        """A change the service loads at its next start (each scenario starts it with its trace)."""
        async with Database(self.settings.database, max_size=1) as db:
            await make(DirectoryStore(db))

    async def directory(self) -> dict[str, Any]:
        async with Database(self.settings.database, max_size=1) as db:
            store = DirectoryStore(db)
            return directory_json(await store.organisations(), await store.all_users())

    async def known_parts(self, journal: Path, name: str) -> dict[str, Any]:
        """What a restarted service finds of a recording's parts: the journal's newest, else the row's."""
        waiting = await Journal(journal).open().latest(entries.PARTS, name)
        if waiting is not None:
            return {name: waiting.payload["parts"]}
        async with Database(self.settings.database, max_size=1) as db:
            return {name: entries.parts_out((await RecordingStore(db).covered(name)).parts)}


def read_trace(path: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    header: dict[str, Any] = {}
    steps = []
    for line in path.read_text(encoding="utf-8").splitlines():
        step = json.loads(line)
        step.pop("t", None)
        if "header" in step:
            header = step["header"]
        else:
            steps.append(step)
    return header, steps


def write_fixture(name: str, description: str, trace: Path, directory: dict[str, Any],
                  known_parts: dict[str, Any] | None = None) -> Path:
    header, steps = read_trace(trace)
    fixture = {"description": description, "app": header["app"], "settings": header["calls"],
               "directory": directory, "known_parts": known_parts or {}, "steps": steps}
    FIXTURES.mkdir(parents=True, exist_ok=True)
    path = FIXTURES / f"{name}.json"
    path.write_text(json.dumps(fixture, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


@pytest.fixture
async def recorder(settings: Settings, service: ServiceProcess, set_modes: SetModes,
                   tmp_path: Path) -> AsyncIterator[Recorder]:
    async with AriRest(settings.ari) as ari:
        await assert_nothing_left(ari)
        try:
            yield Recorder(settings, service, ari, tmp_path)
        finally:
            service.stop()
            service.start()


async def test_incoming_desk_answers_while_the_app_rings(recorder: Recorder, set_modes: SetModes) -> None:
    """An outside caller over the trunk calls Alice (always recorded): the caller hears the notice as early
    media while her desk, app and mobile ring; the desk answers, the others stop; recorded to the end."""
    await set_modes(alice="always")
    await recorder.record("incoming_desk_answers", test_incoming_desk_answers_while_the_app_rings.__doc__ or "",
                          lambda work: talk(work, TRUNK_CALLER, "201", ALICE_DESK, caller_id=OUTSIDE_NUMBER,
                                            also_ringing=(ALICE_APP,), call_ms=3000))


async def test_outgoing_notice_on_answer(recorder: Recorder, set_modes: SetModes) -> None:
    """Alice (always recorded) calls an outside number from her app: the callee hears the notice on
    answer, then the parties meet, recorded."""
    await set_modes(alice="always")
    await recorder.record("outgoing_notice_on_answer", test_outgoing_notice_on_answer.__doc__ or "",
                          lambda work: talk(work, ALICE_APP, OUTSIDE_NUMBER, TRUNK, call_ms=3000))


async def test_hold_and_unhold(recorder: Recorder, set_modes: SetModes) -> None:
    """Alice (always recorded) calls Bob, talks, holds and talks again: the recording pauses on hold and
    resumes on unhold."""
    await set_modes(alice="always")
    await recorder.record("hold_and_unhold", test_hold_and_unhold.__doc__ or "",
                          lambda work: talk(work, ALICE_DESK, "202", BOB_DESK, call_ms=2000, hold=True))


async def test_feature_code_with_a_pause(recorder: Recorder, set_modes: SetModes) -> None:
    """Alice (on demand) calls Bob unrecorded; her code starts the recording (both hear the notice), the
    code again pauses it, and once more resumes it."""
    await set_modes(alice="on demand")

    async def scenario(work: Path) -> None:
        await anyio.Path(work).mkdir(parents=True, exist_ok=True)
        answering = answer(BOB_DESK, ulaw_tone(work / "callee.ul", CALLEE_HZ, 20), work / "callee", ring_ms=500)
        await anyio.sleep(0.3)
        calling = call_with_codes(ALICE_DESK, "202", ulaw_tone(work / "caller.ul", CALLER_HZ, 20), work / "caller",
                                  10000, [(2000, "*1,150"), (5000, "*1,150"), (7500, "*1,150")])
        await finish(calling, answering)

    await recorder.record("feature_code_with_a_pause", test_feature_code_with_a_pause.__doc__ or "", scenario)


UNANSWERED = {
    "busy": (busy, 486, "Carol calls Bob (always recorded), who is busy: after the notice the caller goes back "
                        "to the dialplan with BUSY; no recording."),
    "no_answer": (ring_only, 480, "Carol calls Bob (always recorded), whose phone rings past the ring time: "
                                  "the leg is hung up and the caller goes back to the dialplan with NOANSWER."),
}


@pytest.mark.parametrize("name", list(UNANSWERED))
async def test_unanswered(recorder: Recorder, set_modes: SetModes, name: str) -> None:
    """Busy, and no answer: the caller is told and goes back to the dialplan (each fixture's description
    says which)."""
    await set_modes(bob="always")
    phone, final_code, description = UNANSWERED[name]

    async def scenario(work: Path) -> None:
        bob = phone(BOB_DESK, work / "bob")
        assert await unanswered(work, CAROL_DESK, "202") == final_code
        await finish(bob)

    await recorder.record(name, description, scenario)


async def test_caller_gives_up(recorder: Recorder, set_modes: SetModes) -> None:
    """Carol gives up while Alice's (always recorded) devices ring during the notice: every leg is
    cancelled, nothing is recorded."""
    await set_modes(alice="always")

    async def scenario(work: Path) -> None:
        desk, app = ring_only(ALICE_DESK, work / "desk"), ring_only(ALICE_APP, work / "app")
        await anyio.sleep(0.3)
        await finish(call_and_give_up(CAROL_DESK, "201", work / "caller"), desk, app)

    await recorder.record("caller_gives_up", test_caller_gives_up.__doc__ or "", scenario)


TRANSFERS = {
    "blind_transfer_by_the_callee": ("alice", bob_transfers_alice_to_carol),
    "blind_transfer_by_the_caller_outside": ("bob", alice_transfers_bob_outside),
    "blind_transfer_to_a_busy_colleague": ("alice", bob_transfers_alice_to_busy_carol),
    "blind_transfer_rung_back": ("alice", bob_leaves_alice_with_carol_who_does_not_answer),
    "blind_transfer_to_a_recorded_colleague": ("carol", bob_transfers_alice_to_carol),
    "blind_transfer_by_a_recorded_callee": ("bob", bob_transfers_alice_to_carol),
    "attended_transfer_by_the_callee": ("alice", bob_consults_carol_and_transfers_alice),
    "attended_transfer_by_the_caller_outside": ("bob", alice_consults_outside_and_transfers_bob),
    "attended_transfer_after_the_consultation_ended": ("alice", bob_transfers_alice_to_carol_who_hung_up),
}


@pytest.mark.parametrize("name", list(TRANSFERS))
async def test_transfers(recorder: Recorder, set_modes: SetModes, name: str) -> None:
    """A blind or attended transfer (the scenarios of test_transfers.py and test_attended_transfers.py,
    whose docstrings are the fixtures' descriptions), the recorded party always on."""
    recorded, scenario = TRANSFERS[name]
    await set_modes(**{recorded: "always"})
    await recorder.record(name, f"{recorded.capitalize()} is recorded always. {scenario.__doc__}", scenario)


FORWARDINGS: dict[str, tuple[str, dict[str, Any], Scenario]] = {
    "forwarded_always_to_a_colleague": ("bob", {"always": "203"}, alice_calls_bob_who_forwards_to_carol),
    "forwarded_when_busy_to_a_mobile": ("bob", {"busy": OUTSIDE_NUMBER}, alice_calls_busy_bob_who_forwards_to_a_mobile),
    "forwarded_after_no_answer_to_a_recorded_colleague": (
        "carol", {"no_answer": "203", "no_answer_seconds": 5}, alice_calls_bob_who_does_not_answer_then_carol),
}


@pytest.mark.parametrize("name", list(FORWARDINGS))
async def test_forwardings(recorder: Recorder, set_modes: SetModes, name: str) -> None:
    """Bob's forwarding (the scenarios of test_forwarding.py), the party named recorded always."""
    recorded, rules, scenario = FORWARDINGS[name]
    await set_modes(**{recorded: "always"})

    async def forward(**given: Any) -> None:
        await recorder.change_directory(lambda store: store.set_forwarding(LAB_ORGANISATION, "202", **given))

    await forward(**rules)
    try:
        await recorder.record(name, f"{recorded.capitalize()} is recorded always; Bob forwards {rules}. "
                              f"{scenario.__doc__}", scenario)
    finally:
        await forward(always="", busy="", no_answer="", no_answer_seconds=20)


@pytest.mark.parametrize(("name", "picker", "code"), [("picked_up_with_the_group_code", CAROL_DESK, "*8"),
                                                      ("picked_up_with_the_directed_code", DAVE_DESK, "**202")])
async def test_pickups(recorder: Recorder, set_modes: SetModes, name: str, picker: Phone, code: str) -> None:
    """Bob (recorded always, in the pickup group "sales" with Carol) rings; a colleague picks the call up
    (test_pickup.py's ``picked_up``)."""
    await set_modes(bob="always")

    async def group(name: str) -> None:
        async def both(store: DirectoryStore) -> None:
            for extension in ("202", "203"):
                await store.set_pickup_group(LAB_ORGANISATION, extension, name)

        await recorder.change_directory(both)

    await group("sales")
    try:
        await recorder.record(name, f"Bob is recorded always; {picker.endpoint} dials {code}. {picked_up.__doc__}",
                              lambda work: picked_up(work, picker, code))
    finally:
        await group("")


async def test_a_caller_id_from_an_untrusted_trunk(recorder: Recorder, set_modes: SetModes) -> None:
    """A call to Bob from the second carrier (not trusted) showing Alice's mobile number (Alice recorded
    always): an outside caller's call, not Alice's, and not recorded."""
    await set_modes(alice="always")

    async def scenario(work: Path) -> None:
        await talk(work, TRUNK_B_CALLER, "202", BOB_DESK, caller_id=ALICE_MOBILE, call_ms=2000)

    await recorder.record("untrusted_trunk_caller_id", test_a_caller_id_from_an_untrusted_trunk.__doc__ or "",
                          scenario)

async def test_an_on_demand_pause_across_a_transfer(recorder: Recorder, set_modes: SetModes) -> None:
    """Alice is recorded on demand: she switches recording on, pauses it, is transferred by Bob to Carol
    and resumes it (test_transfers.py's ``alice_pauses_and_bob_transfers_her_to_carol``)."""
    await set_modes(alice="on demand")
    await recorder.record("on_demand_pause_across_a_transfer", test_an_on_demand_pause_across_a_transfer.__doc__
                          or "", alice_pauses_and_bob_transfers_her_to_carol)

async def test_recorded_for_external_calls_only(recorder: Recorder, set_modes: SetModes) -> None:
    """Alice is recorded always, for external calls only (internal switched off): her call to Bob, a
    colleague, is not recorded (no notice, no snoop)."""
    await set_modes(scopes={"alice": {"internal": False}}, alice="always")

    async def scenario(work: Path) -> None:
        await talk(work, ALICE_DESK, "202", BOB_DESK, call_ms=2000)

    await recorder.record("recorded_for_external_calls_only", test_recorded_for_external_calls_only.__doc__ or "",
                          scenario)

async def test_adopted_after_a_restart(recorder: Recorder, set_modes: SetModes, service: ServiceProcess) -> None:
    """The service is killed (-9) while Alice (always recorded) talks with Bob and started again: it
    reconciles, adopts the call with its running recording and its parts so far, and ends it when the
    caller hangs up. The fixture is the second service's trace."""
    await set_modes(alice="always")
    work = recorder.workdir / "adopted"
    await anyio.Path(work).mkdir(parents=True, exist_ok=True)
    first, second = work / "first.jsonl", work / "second.jsonl"
    recorder.trace_to(first)
    answering = answer(BOB_DESK, ulaw_tone(work / "callee.ul", CALLEE_HZ), work / "callee", ring_ms=500)
    await anyio.sleep(0.3)
    calling = call(ALICE_DESK, "202", ulaw_tone(work / "caller.ul", CALLER_HZ), work / "caller", call_ms=8000)
    service.wait_for_log("connected, recording", within=15)
    await anyio.sleep(2)
    service.kill()
    name = next(step["params"]["name"] for step in read_trace(first)[1] if step.get("command") == "channels.record")
    known = await recorder.known_parts(Path(service_journal(service)), name)
    service.start(f"service.ari_trace={second}")
    await finish(calling, answering)
    await recorder.done()
    write_fixture("adopted_after_a_restart", test_adopted_after_a_restart.__doc__ or "", second,
                  await recorder.directory(), known)


def service_journal(service: ServiceProcess) -> str:
    setting = next(arg for arg in service.command if arg.startswith("service.journal="))
    return setting.split("=", 1)[1]
