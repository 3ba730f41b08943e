"""A call between users of two organisations is on record for both: its row appears in each one's calls,
and its recording is owned by both (so it stays until the last owner's retention ends)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from asterisk_rec.adapters.db import Database
from asterisk_rec.config import Settings
from asterisk_rec.directory.models import Organisation
from asterisk_rec.directory.store import DirectoryStore
from asterisk_rec.lab.directory import LAB_ORGANISATION
from asterisk_rec.testing.sipp import BOB_DESK, TRUNK_CALLER
from tests.integration.calls import Records, assert_both_tones
from tests.integration.conftest import SetModes
from tests.integration.phones import talk

pytestmark = pytest.mark.anyio
CARLA_MOBILE = "+31600000301"


@pytest.fixture
async def carol_elsewhere(settings: Settings, set_modes: SetModes) -> AsyncIterator[Organisation]:
    """For one test, Carla of another organisation, recorded always, with a mobile (+31600000301)."""
    async with Database(settings.database, max_size=1) as db:
        store = DirectoryStore(db)
        other = await store.add_organisation(f"other-{uuid.uuid4().hex[:8]}", language="en")
        try:
            await store.add_user(other.name, "301", "Carla Other", language="en")
            await store.add_device(other.name, "301", "mobile", CARLA_MOBILE)
            await store.set_recording(other.name, "301", "always")
            yield other
        finally:
            await store.remove_user(other.name, "301")


async def test_call_between_two_organisations_is_on_record_for_both(
        settings: Settings, carol_elsewhere: Organisation, records: Records, tmp_path: Path) -> None:
    """Carla (another organisation, recorded) calls Bob (the lab's) from her mobile, over the trunk to the
    lab's number (a phone of hers cannot name the lab's organisation: it would be refused): one call row,
    in both organisations' calls; one archived recording, owned by both, with both tones."""
    before = await records.snapshot()
    await talk(tmp_path, TRUNK_CALLER, "202", BOB_DESK, caller_id=CARLA_MOBILE, call_ms=7000)
    row = await records.one_call(before, caller="301", callee="202", direction="internal", disposition="answered")
    assert_both_tones(await records.new_recording(before, linked_to=row))
    lab = await records.rows("SELECT id FROM organisations WHERE name = %s", (LAB_ORGANISATION,))
    expected = sorted([carol_elsewhere.id, lab[0]["id"]])
    listed = await records.rows("SELECT organisation_id FROM call_organisations WHERE call_id = %s ORDER BY 1",
                                (row["id"],))
    assert [r["organisation_id"] for r in listed] == expected
    owners = await records.rows(
        "SELECT o.organisation_id FROM recording_owners o JOIN recordings r ON r.id = o.recording_id"
        " WHERE r.call_id = %s ORDER BY 1", (row["call_id"],))
    assert [r["organisation_id"] for r in owners] == expected
