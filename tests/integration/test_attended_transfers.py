"""Attended transfers end to end, with real phones (SIPp: ``asterisk_rec.testing.transfers``): a party
holds the call, consults someone in a call of its own, and refers the held party to them with Replaces
(no Referred-By). The transferred call stays one call: its row shows the chain (naming the consultation
call, which has a row of its own), its recording goes on in the same file (one part before, one after,
each holding both tones of its parties in at least 98 % of its 100 ms windows), and whoever now talks to
a recorded user without having heard the notice hears it first. A transfer naming a consultation that has
ended is refused and the parties go on as they were. Nothing is left in Asterisk (the ``ari`` fixture)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest

from asterisk_rec.adapters.ari import AriRest
from asterisk_rec.testing.capture import RtpCapture
from asterisk_rec.testing.sipp import (
    ALICE_APP,
    ALICE_DESK,
    BOB_DESK,
    CAROL_DESK,
    OUTSIDE_NUMBER,
    TRUNK,
    answer,
    ulaw_tone,
)
from asterisk_rec.testing.transfers import (
    answer_and_hang_up,
    answer_and_transfer_attended,
    call_and_transfer_attended,
    call_until_hung_up,
)
from tests.integration.calls import CALLEE_HZ, CALLER_HZ, TARGET_HZ, Records, Snapshot, assert_notice_before_tone
from tests.integration.conftest import Portal, SetModes
from tests.integration.phones import finish
from tests.integration.test_transfers import assert_parts

pytestmark = pytest.mark.anyio


async def calls_by_caller(records: Records, before: Snapshot, count: int = 2) -> dict[str, dict[str, Any]]:
    """The ``count`` call rows since ``before`` (the transferred call and its consultation), by caller."""
    rows = await records.wait_for_calls(before, count)
    return {row["caller"]: row for row in rows}


async def bob_consults_carol_and_transfers_alice(work: Path) -> None:
    """Alice calls Bob; he talks 4 s, holds her, consults Carol 3 s and transfers Alice to her (he hangs up
    when the consultation ends); Carol hangs up 14 s after she answered Bob."""
    await anyio.Path(work).mkdir(parents=True, exist_ok=True)
    carol = answer_and_hang_up(CAROL_DESK, ulaw_tone(work / "carol.ul", TARGET_HZ, 20), work / "carol",
                               talk_ms=14000)
    bob = answer_and_transfer_attended(BOB_DESK, ulaw_tone(work / "bob.ul", CALLEE_HZ), work / "bob", "203",
                                       talk_ms=4000, consult_ms=3000)
    await anyio.sleep(0.3)
    alice = call_until_hung_up(ALICE_DESK, "202", ulaw_tone(work / "alice.ul", CALLER_HZ, 30), work / "alice")
    await finish(alice, bob, carol)


async def alice_consults_outside_and_transfers_bob(work: Path) -> None:
    """Alice calls Bob from her softphone app, talks 4 s, holds him, consults an outside number 3 s and
    transfers Bob to it; the outside party hangs up 12 s after it answered Alice."""
    await anyio.Path(work).mkdir(parents=True, exist_ok=True)
    outside = answer_and_hang_up(TRUNK, ulaw_tone(work / "outside.ul", TARGET_HZ, 20), work / "outside",
                                 talk_ms=12000)
    bob = answer(BOB_DESK, ulaw_tone(work / "bob.ul", CALLEE_HZ, 30), work / "bob", ring_ms=1000)
    await anyio.sleep(0.3)
    alice = call_and_transfer_attended(ALICE_APP, "202", ulaw_tone(work / "alice.ul", CALLER_HZ), work / "alice",
                                       OUTSIDE_NUMBER, talk_ms=4000, consult_ms=3000)
    await finish(alice, bob, outside)


async def bob_transfers_alice_to_carol_who_hung_up(work: Path) -> None:
    """Alice calls Bob; he holds her and consults Carol, who hangs up after 2.5 s; Bob's phone sends the
    transfer all the same, then takes Alice back and they talk 4 s more."""
    await anyio.Path(work).mkdir(parents=True, exist_ok=True)
    carol = answer_and_hang_up(CAROL_DESK, ulaw_tone(work / "carol.ul", TARGET_HZ), work / "carol", talk_ms=2500)
    bob = answer_and_transfer_attended(BOB_DESK, ulaw_tone(work / "bob.ul", CALLEE_HZ, 30), work / "bob", "203",
                                       talk_ms=4000, consult_ms=1000, too_late_then_talk_ms=4000)
    await anyio.sleep(0.3)
    alice = call_until_hung_up(ALICE_DESK, "202", ulaw_tone(work / "alice.ul", CALLER_HZ, 30), work / "alice")
    await finish(alice, bob, carol)


async def test_the_callee_transfers_the_caller_to_the_colleague_he_consulted(
        records: Records, ari: AriRest, set_modes: SetModes, portal: Portal, tmp_path: Path) -> None:
    """Alice (recorded always) calls Bob, who consults Carol (an unrecorded call of its own: nobody in it is
    recorded) and transfers Alice to her (``bob_consults_carol_and_transfers_alice``). Carol, who has not
    heard the notice,
    hears it before Alice's tone; the file: Alice and Bob, then Alice and Carol. Alice's call row has the
    chain Bob -> Carol, attended, naming the consultation, whose row (202 -> 203) has no recording."""
    await set_modes(alice="always")
    before = await records.snapshot()
    capture = RtpCapture(CAROL_DESK.media_port, tmp_path / "carol.pcap")
    with capture:
        await bob_consults_carol_and_transfers_alice(tmp_path)
    rows = await calls_by_caller(records, before)
    call, consultation = rows["201"], rows["202"]
    assert (consultation["callee"], consultation["disposition"]) == ("203", "answered")
    assert consultation["call_id"] != call["call_id"]
    (transfer,) = await records.chain(call)
    assert (transfer["kind"], transfer["transferor"], transfer["transferee"], transfer["target"],
            transfer["outcome"], transfer["consultation_call_id"]) == (
        "attended", "202", "201", "203", "answered", consultation["call_id"])
    await assert_parts(records, call, (CALLER_HZ, CALLEE_HZ), (CALLER_HZ, TARGET_HZ))
    assert_notice_before_tone(capture.audio(), CALLER_HZ)
    assert not await records.rows("SELECT 1 FROM recordings WHERE call_id = %s", (consultation["call_id"],))
    async with portal.api(portal.admin) as api:
        (listed,) = (await api.get(f"/api/v1/calls/{call['id']}")).json()["transfers"]
    assert (listed["kind"], listed["target"], listed["consultation"]) == ("attended", "203",
                                                                          consultation["call_id"])
    async with portal.session(portal.admin) as client:
        page = (await client.get("/reports/calls")).text
    assert "Transferred after consultation: 202 &rarr; 203 (answered)" in page


async def test_the_caller_transfers_a_recorded_callee_to_the_outside_party_she_consulted(
        records: Records, ari: AriRest, set_modes: SetModes, tmp_path: Path) -> None:
    """Alice calls Bob (recorded always) from her softphone app and, after consulting an outside number,
    transfers Bob to it (``alice_consults_outside_and_transfers_bob``). The outside party hears the notice
    first; the file: Alice and Bob, then Bob and the outside party."""
    await set_modes(bob="always")
    before = await records.snapshot()
    capture = RtpCapture(TRUNK.media_port, tmp_path / "outside.pcap")
    with capture:
        await alice_consults_outside_and_transfers_bob(tmp_path)
    # Both calls are Alice's: told apart by their callee.
    rows = {row["callee"]: row for row in await records.wait_for_calls(before, 2)}
    call, consultation = rows["202"], rows[OUTSIDE_NUMBER]
    (transfer,) = await records.chain(call)
    assert (transfer["kind"], transfer["transferor"], transfer["transferee"], transfer["target"],
            transfer["outcome"], transfer["consultation_call_id"]) == (
        "attended", "201", "202", OUTSIDE_NUMBER, "answered", consultation["call_id"])
    await assert_parts(records, call, (CALLER_HZ, CALLEE_HZ), (CALLEE_HZ, TARGET_HZ))
    assert_notice_before_tone(capture.audio(), CALLEE_HZ)


async def test_an_attended_transfer_to_a_consultation_that_ended_is_refused_and_nothing_is_lost(
        records: Records, ari: AriRest, set_modes: SetModes, tmp_path: Path) -> None:
    """Alice (recorded always) calls Bob, who transfers her to Carol after Carol hung up the consultation
    (``bob_transfers_alice_to_carol_who_hung_up``). It is refused (the chain says so), Bob takes Alice
    back: the file has both parts, Alice and Bob in each."""
    await set_modes(alice="always")
    before = await records.snapshot()
    await bob_transfers_alice_to_carol_who_hung_up(tmp_path)
    rows = await calls_by_caller(records, before)
    call = rows["201"]
    (transfer,) = await records.chain(call)
    assert (transfer["kind"], transfer["target"], transfer["outcome"]) == ("attended", "203", "refused")
    await assert_parts(records, call, (CALLER_HZ, CALLEE_HZ), (CALLER_HZ, CALLEE_HZ))
