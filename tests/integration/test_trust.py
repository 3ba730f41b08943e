"""Trust at the edges of the dialplan, end to end: a dialplan naming another organisation than the
caller's is refused, a phone that is no user's device cannot call out through the trunk (toll fraud),
a trunk whose caller ids are not trusted cannot make a caller a user by caller id (a trusted one can),
and an organisation's calls out take the trunk configured for it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from asterisk_rec.adapters.db import Database
from asterisk_rec.config import Settings
from asterisk_rec.directory.store import DirectoryStore
from asterisk_rec.lab.directory import LAB_ORGANISATION, seed_lab_directory
from asterisk_rec.testing.sipp import (
    ALICE_DESK,
    BOB_DESK,
    CAROL_DESK,
    OUTSIDE_NUMBER,
    TRUNK_B,
    TRUNK_B_CALLER,
    TRUNK_CALLER,
)
from tests.integration.calls import Records
from tests.integration.conftest import AmiEvents, ServiceProcess, SetModes
from tests.integration.phones import talk, unanswered

pytestmark = pytest.mark.anyio
ALICE_MOBILE = "+31600000201"


async def test_a_dialplan_naming_another_organisation_is_refused(
        service: ServiceProcess, set_modes: SetModes, ami_events: AmiEvents, records: Records, tmp_path: Path) -> None:
    """Alice's desk phone (the lab's) reaches a dialplan that names the other organisation (9 + 202): the
    app refuses the call (back to the dialplan as CHANUNAVAIL, logged) and rings nobody."""
    await set_modes(alice="always")
    before = await records.snapshot()
    offset = service.log_size()
    assert await unanswered(tmp_path, ALICE_DESK, "9202") == 480
    event = await ami_events.wait_for("LabFallback")
    assert (event["Status"], event["Number"]) == ("CHANUNAVAIL", "202")
    service.wait_for_log("the dialplan names another organisation than the caller's", within=10, after=offset)
    await records.assert_no_recording(before)


@pytest.fixture
async def carol_unknown(settings: Settings, service: ServiceProcess) -> AsyncIterator[None]:
    """For one test, Carol's desk phone is no user's device (a lobby phone), in the service's directory too."""
    async with Database(settings.database, max_size=1) as db:
        store = DirectoryStore(db)
        offset = service.log_size()
        await store.remove_device(LAB_ORGANISATION, "203", "carol-desk")
        try:
            service.wait_for_log("directory loaded", within=10, after=offset)
            yield
        finally:
            await seed_lab_directory(store)


async def test_a_phone_of_nobody_cannot_call_out(service: ServiceProcess, carol_unknown: None, set_modes: SetModes,
                                                 ami_events: AmiEvents, records: Records, tmp_path: Path) -> None:
    """A phone that is no user's device dials an outside number: refused (toll fraud), the trunk is never
    dialled; the same phone still reaches an extension of the organisation the dialplan names."""
    await set_modes()
    before = await records.snapshot()
    offset = service.log_size()
    assert await unanswered(tmp_path / "out", CAROL_DESK, OUTSIDE_NUMBER) == 480
    event = await ami_events.wait_for("LabFallback")
    assert (event["Status"], event["Number"]) == ("CHANUNAVAIL", OUTSIDE_NUMBER)
    service.wait_for_log("only the organisation's users may call outside numbers", within=10, after=offset)
    await talk(tmp_path / "in", CAROL_DESK, "202", BOB_DESK, call_ms=2000)
    rows = await records.wait_for_calls(before, 2)
    assert [(r["callee"], r["disposition"]) for r in rows] == [(OUTSIDE_NUMBER, "no_answer"), ("202", "answered")]
    await records.assert_no_recording(before)


async def test_a_caller_id_names_a_user_only_from_a_trusted_trunk(set_modes: SetModes, records: Records,
                                                                  tmp_path: Path) -> None:
    """Alice (recorded always) has a mobile. A call to Bob from the second carrier (lab-trunk-b, not in
    calls.trusted_trunks) showing her mobile's number is an outside party's: not hers, inbound, not
    recorded. The same call from the trusted carrier is hers: internal, recorded."""
    await set_modes(alice="always")
    before = await records.snapshot()
    await talk(tmp_path / "untrusted", TRUNK_B_CALLER, "202", BOB_DESK, caller_id=ALICE_MOBILE, call_ms=2000)
    row = await records.one_call(before, caller=ALICE_MOBILE, callee="202", direction="inbound",
                                 disposition="answered")
    assert row["caller_user_id"] is None
    await records.assert_no_recording(before)
    before = await records.snapshot()
    await talk(tmp_path / "trusted", TRUNK_CALLER, "202", BOB_DESK, caller_id=ALICE_MOBILE, call_ms=2000)
    row = await records.one_call(before, caller="201", callee="202", direction="internal", disposition="answered")
    await records.new_recording(before, linked_to=row)


async def test_an_organisation_calls_out_on_its_own_trunk(service: ServiceProcess, set_modes: SetModes,
                                                          records: Records, tmp_path: Path) -> None:
    """With calls.outgoing_trunks naming lab-trunk-b for the lab's organisation, Alice's call to an
    outside number goes out on it (only the second carrier's phone answers), recorded as outbound."""
    await set_modes(alice="always")
    service.stop()
    service.start(f"calls.outgoing_trunks={LAB_ORGANISATION}=lab-trunk-b")
    try:
        before = await records.snapshot()
        await talk(tmp_path, ALICE_DESK, OUTSIDE_NUMBER, TRUNK_B, call_ms=2000)
        row = await records.one_call(before, caller="201", callee=OUTSIDE_NUMBER, direction="outbound",
                                     disposition="answered")
        await records.new_recording(before, linked_to=row)
    finally:
        service.stop()
        service.start()
