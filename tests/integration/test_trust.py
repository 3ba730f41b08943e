"""Trust at the edges of the dialplan, end to end: a dialplan naming another organisation than the
caller's is refused, a phone that is no user's device cannot call out through the trunk (toll fraud),
and a trunk whose caller ids are not trusted cannot make a caller a user by caller id."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from asterisk_rec.adapters.db import Database
from asterisk_rec.config import Settings
from asterisk_rec.directory.store import DirectoryStore
from asterisk_rec.lab.directory import LAB_ORGANISATION, seed_lab_directory
from asterisk_rec.testing.sipp import ALICE_DESK, BOB_DESK, CAROL_DESK, OUTSIDE_NUMBER, TRUNK_CALLER
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


async def test_an_untrusted_trunk_does_not_make_a_caller_a_user(service: ServiceProcess, set_modes: SetModes,
                                                                records: Records, tmp_path: Path) -> None:
    """With calls.trunk_caller_id_trusted off, a call from the trunk with Alice's mobile number as caller
    id is an outside party's: not Alice's (she is recorded always: no recording), direction inbound."""
    await set_modes(alice="always")
    service.stop()
    service.start("calls.trunk_caller_id_trusted=false")
    try:
        before = await records.snapshot()
        await talk(tmp_path, TRUNK_CALLER, "202", BOB_DESK, caller_id=ALICE_MOBILE, call_ms=2000)
        row = await records.one_call(before, caller=ALICE_MOBILE, callee="202", direction="inbound",
                                     disposition="answered")
        assert row["caller_user_id"] is None
        await records.assert_no_recording(before)
    finally:
        service.stop()
        service.start()
