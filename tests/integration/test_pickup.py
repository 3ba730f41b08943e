"""Call pickup end to end with real phones: while Bob's phone rings, a colleague dials the pickup code of
their group (*8) or the directed code (** + 202); their phone is connected as if Bob had answered, the
ringing stops, the call is recorded by Bob's policy (and the picker's), and the call's one row names who
answered; nothing to pick up: 480; nothing left in Asterisk."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from asterisk_rec.adapters.ari import AriRest
from asterisk_rec.directory.store import DirectoryStore
from asterisk_rec.lab.directory import LAB_ORGANISATION
from asterisk_rec.testing.sipp import ALICE_DESK, BOB_DESK, CAROL_DESK, DAVE_DESK, Phone, call, ring_only, ulaw_tone
from asterisk_rec.testing.transfers import call_until_hung_up
from tests.integration.calls import CALLEE_HZ, CALLER_HZ, Records, assert_both_tones
from tests.integration.conftest import DirectoryChange, SetModes
from tests.integration.phones import finish, unanswered

pytestmark = pytest.mark.anyio



@pytest.fixture
async def sales_group(directory_change: DirectoryChange) -> AsyncIterator[None]:
    """Bob and Carol in the pickup group "sales" for one test (in the service's directory too)."""
    async def put(group: str) -> None:
        async def both(store: DirectoryStore) -> None:
            for extension in ("202", "203"):
                await store.set_pickup_group(LAB_ORGANISATION, extension, group)

        await directory_change(both)

    await put("sales")
    yield
    await put("")


async def picked_up(tmp_path: Path, picker: Phone, code: str) -> None:
    """Alice calls Bob; his phone rings; 4 s later (after the notice) ``picker`` dials ``code`` and talks
    until Alice hangs up, 5 s after she was connected."""
    bob = ring_only(BOB_DESK, tmp_path / "bob")
    await anyio.sleep(0.3)
    alice = call(ALICE_DESK, "202", ulaw_tone(tmp_path / "alice.ul", CALLER_HZ), tmp_path / "alice", call_ms=5000)
    await anyio.sleep(4)
    picking = call_until_hung_up(picker, code, ulaw_tone(tmp_path / "picker.ul", CALLEE_HZ), tmp_path / "picker")
    await finish(alice, picking, bob)


async def assert_picked_by(records: Records, before: Any, extension: str) -> None:
    row = await records.one_call(before, caller="201", callee="202", disposition="answered")
    assert [(t["kind"], t["transferor"], t["target"], t["outcome"]) for t in await records.chain(row)] == [
        ("pickup", extension, "202", "answered")]
    assert_both_tones(await records.new_recording(before, linked_to=row))


async def test_a_colleague_of_the_group_picks_up_with_the_group_code(
        records: Records, ari: AriRest, set_modes: SetModes, sales_group: None, tmp_path: Path) -> None:
    """Bob (recorded always) rings; Carol (his pickup group) dials *8: connected, recorded, one row that
    names Carol as who answered."""
    await set_modes(bob="always")
    before = await records.snapshot()
    await picked_up(tmp_path, CAROL_DESK, "*8")
    await assert_picked_by(records, before, "203")


async def test_any_colleague_picks_up_one_user_with_the_directed_code(
        records: Records, ari: AriRest, set_modes: SetModes, tmp_path: Path) -> None:
    """Dave (in no group) dials **202 while Bob (recorded always) rings: connected, recorded."""
    await set_modes(bob="always")
    before = await records.snapshot()
    await picked_up(tmp_path, DAVE_DESK, "**202")
    await assert_picked_by(records, before, "204")


async def test_nothing_to_pick_up_is_refused(records: Records, ari: AriRest, set_modes: SetModes,
                                             sales_group: None, tmp_path: Path) -> None:
    """With no call ringing in the group, *8 gets 480 and no call row of the app."""
    await set_modes()
    assert await unanswered(tmp_path, CAROL_DESK, "*8") == 480
