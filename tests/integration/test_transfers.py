"""Blind transfers end to end, with real phones that send SIP REFER (SIPp scenarios in
``asterisk_rec.testing.transfers``: no Referred-By header, with and without ``Refer-Sub: false``), each
party sending its own tone. The call stays one call: one row with the chain of transfers, one recording
whose parts hold, each, both tones of the parties then talking in at least 98 % of their 100 ms windows;
a party who has not heard the notice and now talks to a recorded user hears it first; a failed transfer
loses nothing; nothing is left in Asterisk."""

from __future__ import annotations

from datetime import datetime
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
    busy,
    call,
    call_with_codes,
    ring_only,
    ulaw_tone,
)
from asterisk_rec.testing.tones import Audio, tone_windows
from asterisk_rec.testing.transfers import (
    answer_and_hang_up,
    answer_and_transfer,
    call_and_transfer,
    call_until_hung_up,
)
from tests.integration.calls import (
    CALLEE_HZ,
    CALLER_HZ,
    TARGET_HZ,
    Records,
    Snapshot,
    assert_notice_before_tone,
)
from tests.integration.conftest import Portal, ServiceProcess, SetModes
from tests.integration.phones import finish

pytestmark = pytest.mark.anyio



async def transferred_call(records: Records, before: Snapshot, caller: str, transfers: int) -> dict[str, Any]:
    """The one call row since ``before``, once its chain of ``transfers`` transfers is written."""
    row = await records.one_call(before, caller=caller, disposition="answered")
    await records.chain(row, transfers)
    return row


def parts_in_file(parts: list[list[str]]) -> list[tuple[float, float]]:
    """Where each recorded part lies in the file (seconds): paused and moved time is not in it."""
    spans, at = [], 0.0
    for start, end in parts:
        length = (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()
        spans.append((at, at + length))
        at += length
    return spans


def assert_tones_in(audio: Audio, span: tuple[float, float], tones: tuple[int, ...]) -> None:
    """Each tone in at least 98 % of the 100 ms windows of the part (its first and last window aside:
    the part's times are the app's, the file's edges Asterisk's)."""
    first, last = int(span[0] * 10) + 1, int(span[1] * 10) - 1
    assert last - first >= 10, f"part {span} too short"
    for tone in tones:
        flags = tone_windows(audio, tone)[first:last]
        coverage = sum(flags) / len(flags)
        assert coverage >= 0.98, f"{tone} Hz in {coverage:.1%} of the windows of part {span}"


async def recording_of(records: Records, row: dict[str, Any]) -> tuple[Audio, list[tuple[float, float]]]:
    (stored,) = await records.rows("SELECT * FROM recordings WHERE call_id = %s AND state = 'stored'",
                                   (row["call_id"],))
    audio = await anyio.to_thread.run_sync(records.verified_audio, stored)
    return audio, parts_in_file(stored["parts"])


async def bob_transfers_alice_to_carol(work: Path) -> None:
    """Alice calls Bob; Bob answers, talks 4 s and transfers her to Carol (he hangs up when told she
    answered); Carol answers; Alice hangs up 16 s after Bob answered."""
    await anyio.Path(work).mkdir(parents=True, exist_ok=True)
    carol = answer(CAROL_DESK, ulaw_tone(work / "carol.ul", TARGET_HZ), work / "carol", ring_ms=1000)
    bob = answer_and_transfer(BOB_DESK, ulaw_tone(work / "bob.ul", CALLEE_HZ), work / "bob", "203", talk_ms=4000,
                              refer_sub=True)
    await anyio.sleep(0.3)
    alice = call(ALICE_DESK, "202", ulaw_tone(work / "alice.ul", CALLER_HZ), work / "alice", call_ms=16000)
    await finish(alice, bob, carol)


async def alice_transfers_bob_outside(work: Path) -> None:
    """Alice calls Bob from her softphone app, talks 4 s and transfers him to an outside number (asking
    for progress: she hangs up when told it was answered); the outside party talks 7 s and hangs up."""
    await anyio.Path(work).mkdir(parents=True, exist_ok=True)
    outside = answer_and_hang_up(TRUNK, ulaw_tone(work / "outside.ul", TARGET_HZ), work / "outside", talk_ms=7000)
    bob = answer(BOB_DESK, ulaw_tone(work / "bob.ul", CALLEE_HZ), work / "bob", ring_ms=1000)
    await anyio.sleep(0.3)
    alice = call_and_transfer(ALICE_APP, "202", ulaw_tone(work / "alice.ul", CALLER_HZ), work / "alice",
                              OUTSIDE_NUMBER, talk_ms=4000, refer_sub=True)
    await finish(alice, bob, outside)


async def bob_transfers_alice_to_busy_carol(work: Path) -> None:
    """Alice calls Bob; Bob transfers her to Carol, who is busy; told so (NOTIFY 603), Bob takes the call
    back; Alice hangs up 10 s after Bob answered."""
    await anyio.Path(work).mkdir(parents=True, exist_ok=True)
    carol = busy(CAROL_DESK, work / "carol")
    bob = answer_and_transfer(BOB_DESK, ulaw_tone(work / "bob.ul", CALLEE_HZ), work / "bob", "203",
                              talk_ms=4000, refer_sub=True, stay_on_failure=True)
    await anyio.sleep(0.3)
    alice = call(ALICE_DESK, "202", ulaw_tone(work / "alice.ul", CALLER_HZ), work / "alice", call_ms=10000)
    await finish(alice, bob, carol)


async def bob_leaves_alice_with_carol_who_does_not_answer(work: Path) -> None:
    """Alice calls Bob; Bob transfers her to Carol and hangs up at the first NOTIFY (100 Trying); Carol's
    phone rings past the ring time; Bob's phone rings again (the ring back), he answers and they talk until
    Alice hangs up, 26 s after Bob first answered."""
    await anyio.Path(work).mkdir(parents=True, exist_ok=True)
    carol = ring_only(CAROL_DESK, work / "carol")
    bob = answer_and_transfer(BOB_DESK, ulaw_tone(work / "bob.ul", CALLEE_HZ), work / "bob", "203", talk_ms=4000,
                              refer_sub=True, leave_at_once=True)
    await anyio.sleep(0.3)
    alice = call(ALICE_DESK, "202", ulaw_tone(work / "alice.ul", CALLER_HZ), work / "alice", call_ms=26000)
    await finish(bob)
    bob_again = answer(BOB_DESK, ulaw_tone(work / "bob.ul", CALLEE_HZ), work / "bob-again", ring_ms=1000)
    await finish(alice, bob_again, carol)


async def assert_parts(records: Records, row: dict[str, Any], *tones: tuple[int, ...]) -> Audio:
    """The call's stored file has one recorded part per entry of ``tones``, each holding those tones
    (``assert_tones_in``); returns its audio."""
    audio, parts = await recording_of(records, row)
    assert len(parts) == len(tones), parts
    for part, part_tones in zip(parts, tones, strict=True):
        assert_tones_in(audio, part, part_tones)
    return audio


async def alice_pauses_and_bob_transfers_her_to_carol(work: Path) -> None:
    """Alice calls Bob and dials the feature code 2 s, 9 s and 17 s after he answered; Bob transfers her
    to Carol at 11 s; Alice hangs up at 22 s."""
    await anyio.Path(work).mkdir(parents=True, exist_ok=True)
    carol = answer(CAROL_DESK, ulaw_tone(work / "carol.ul", TARGET_HZ, 30), work / "carol", ring_ms=1000)
    bob = answer_and_transfer(BOB_DESK, ulaw_tone(work / "bob.ul", CALLEE_HZ, 30), work / "bob", "203",
                              talk_ms=11000, refer_sub=True)
    await anyio.sleep(0.3)
    alice = call_with_codes(ALICE_DESK, "202", ulaw_tone(work / "alice.ul", CALLER_HZ, 30), work / "alice",
                            22000, [(2000, "*1,150"), (9000, "*1,150"), (17000, "*1,150")])
    await finish(alice, bob, carol)


async def test_the_callee_transfers_the_caller_to_a_colleague_who_hears_the_notice(
        records: Records, ari: AriRest, set_modes: SetModes, portal: Portal, tmp_path: Path) -> None:
    """Alice (recorded always) calls Bob, who transfers her to Carol (``bob_transfers_alice_to_carol``).
    Carol's devices ring; she answers and hears the notice before Alice's tone (she had not heard it).
    One row with the chain Bob -> Carol answered (in the API and in Reports > Calls); one file: part 1
    Alice and Bob, part 2 Alice and Carol."""
    await set_modes(alice="always")
    before = await records.snapshot()
    capture = RtpCapture(CAROL_DESK.media_port, tmp_path / "carol.pcap")
    with capture:
        await bob_transfers_alice_to_carol(tmp_path)
    row = await transferred_call(records, before, "201", 1)
    (transfer,) = await records.chain(row)
    assert (transfer["kind"], transfer["transferor"], transfer["transferee"], transfer["target"],
            transfer["outcome"]) == ("blind", "202", "201", "203", "answered")
    await assert_parts(records, row, (CALLER_HZ, CALLEE_HZ), (CALLER_HZ, TARGET_HZ))
    assert_notice_before_tone(capture.audio(), CALLER_HZ)
    async with portal.api(portal.admin) as api:
        (listed,) = (await api.get(f"/api/v1/calls/{row['id']}")).json()["transfers"]
    assert (listed["kind"], listed["transferor"], listed["target"], listed["outcome"]) == (
        "blind", "202", "203", "answered")
    async with portal.session(portal.admin) as client:
        page = (await client.get("/reports/calls")).text
    assert "Transferred: 202 &rarr; 203 (answered)" in page


async def test_the_caller_transfers_a_recorded_callee_to_an_outside_number(
        records: Records, ari: AriRest, set_modes: SetModes, tmp_path: Path) -> None:
    """Alice calls Bob (recorded always: Alice hears the notice) and transfers him to an outside number
    (``alice_transfers_bob_outside``). The outside party hears the notice first; Bob's conversation with
    them goes on in the same file (a new snoop on Bob appends to it)."""
    await set_modes(bob="always")
    before = await records.snapshot()
    capture = RtpCapture(TRUNK.media_port, tmp_path / "outside.pcap")
    with capture:
        await alice_transfers_bob_outside(tmp_path)
    row = await transferred_call(records, before, "201", 1)
    (transfer,) = await records.chain(row)
    assert (transfer["transferor"], transfer["transferee"], transfer["target"], transfer["outcome"]) == (
        "201", "202", OUTSIDE_NUMBER, "answered")
    await assert_parts(records, row, (CALLER_HZ, CALLEE_HZ), (CALLEE_HZ, TARGET_HZ))
    assert_notice_before_tone(capture.audio(), CALLEE_HZ)


async def test_a_failed_transfer_keeps_the_parties_and_the_recording_going(
        records: Records, ari: AriRest, set_modes: SetModes, tmp_path: Path) -> None:
    """Alice (recorded always) calls Bob, who transfers her to Carol, who is busy
    (``bob_transfers_alice_to_busy_carol``): Bob takes the call back and they talk on, recorded in the same
    file (part 2); the chain says busy."""
    await set_modes(alice="always")
    before = await records.snapshot()
    await bob_transfers_alice_to_busy_carol(tmp_path)
    row = await transferred_call(records, before, "201", 1)
    (transfer,) = await records.chain(row)
    assert (transfer["target"], transfer["outcome"]) == ("203", "busy")
    await assert_parts(records, row, (CALLER_HZ, CALLEE_HZ), (CALLER_HZ, CALLEE_HZ))


async def test_a_transfer_nobody_takes_rings_the_transferor_back(
        records: Records, ari: AriRest, set_modes: SetModes, tmp_path: Path) -> None:
    """Alice (recorded always) is transferred by Bob, who hangs up at once, to Carol, who does not answer
    (``bob_leaves_alice_with_carol_who_does_not_answer``): Bob's devices ring back, he answers, and the
    recording goes on in the same file; the chain: blind no answer, then the ring back answered."""
    await set_modes(alice="always")
    before = await records.snapshot()
    await bob_leaves_alice_with_carol_who_does_not_answer(tmp_path)
    row = await transferred_call(records, before, "201", 2)
    chain = await records.chain(row)
    assert [(t["kind"], t["target"], t["outcome"]) for t in chain] == [
        ("blind", "203", "no_answer"), ("ring_back", "202", "answered")]
    await assert_parts(records, row, (CALLER_HZ, CALLEE_HZ), (CALLER_HZ, CALLEE_HZ))


async def test_a_transfer_nobody_takes_goes_to_the_dialplans_fallback_when_so_configured(
        records: Records, ari: AriRest, set_modes: SetModes, service: ServiceProcess, tmp_path: Path) -> None:
    """With calls.unanswered_transfer = dialplan (and a 6 s ring time), Alice (recorded always), whom Bob
    transferred to Carol before hanging up, goes back to the lab's fallback when Carol does not answer
    (which hangs her up with 19) instead of Bob's devices ringing again: the chain is the one transfer,
    unanswered; the file is Alice and Bob; nothing is left in Asterisk."""
    await set_modes(alice="always")
    service.stop()
    service.start("calls.unanswered_transfer=dialplan", "calls.ring_seconds=6")
    try:
        before = await records.snapshot()
        offset = service.log_size()
        carol = ring_only(CAROL_DESK, tmp_path / "carol")
        bob = answer_and_transfer(BOB_DESK, ulaw_tone(tmp_path / "bob.ul", CALLEE_HZ), tmp_path / "bob", "203",
                                  talk_ms=4000, refer_sub=True, leave_at_once=True)
        await anyio.sleep(0.3)
        alice = call_until_hung_up(ALICE_DESK, "202", ulaw_tone(tmp_path / "alice.ul", CALLER_HZ, 30),
                                   tmp_path / "alice")
        await finish(alice, bob, carol)
        service.wait_for_log("nobody took the transferred call (NOANSWER): back to the dialplan", after=offset)
        row = await transferred_call(records, before, "201", 1)
        assert [(t["kind"], t["target"], t["outcome"]) for t in await records.chain(row)] == [
            ("blind", "203", "no_answer")]
        await assert_parts(records, row, (CALLER_HZ, CALLEE_HZ))
    finally:
        service.stop()
        service.start()

async def test_a_recorded_user_who_transfers_the_call_away_leaves_the_rest_unrecorded(
        records: Records, ari: AriRest, set_modes: SetModes, tmp_path: Path) -> None:
    """Bob (recorded always) takes Alice's call and transfers her to Carol (neither recorded): the file
    ends with Bob's part (Alice and Bob); nothing of Alice's talk with Carol is recorded."""
    await set_modes(bob="always")
    before = await records.snapshot()
    await bob_transfers_alice_to_carol(tmp_path)
    row = await transferred_call(records, before, "201", 1)
    audio = await assert_parts(records, row, (CALLER_HZ, CALLEE_HZ))
    assert tone_windows(audio, TARGET_HZ).count(True) <= 2  # nothing of Carol

async def test_a_transfer_to_a_recorded_user_records_from_then_on_after_the_notice(
        records: Records, ari: AriRest, set_modes: SetModes, tmp_path: Path) -> None:
    """Nobody recorded in Alice's call to Bob; Bob transfers her to Carol (recorded always): Alice hears
    the notice before Carol's tone (played into the bridge while she waits), and the call is recorded
    from then on: one part, Alice and Carol."""
    await set_modes(carol="always")
    before = await records.snapshot()
    capture = RtpCapture(ALICE_DESK.media_port, tmp_path / "alice.pcap")
    with capture:
        await bob_transfers_alice_to_carol(tmp_path)
    row = await transferred_call(records, before, "201", 1)
    audio = await assert_parts(records, row, (CALLER_HZ, TARGET_HZ))
    assert tone_windows(audio, CALLEE_HZ).count(True) <= 2  # nothing of Bob: he was not recorded
    assert_notice_before_tone(capture.audio(), TARGET_HZ)


async def test_an_on_demand_users_pause_carries_over_the_transfer(
        records: Records, ari: AriRest, set_modes: SetModes, tmp_path: Path) -> None:
    """Alice (on demand) switches recording on (2 s) and pauses it (9 s); Bob transfers her to Carol (11 s);
    the recording stays paused with Carol until Alice resumes it (17 s): two parts, Alice and Bob, then
    Alice and Carol (each checked where Alice's phone sent its tone: it pauses it to send digits)."""
    await set_modes(alice="on demand")
    before = await records.snapshot()
    await alice_pauses_and_bob_transfers_her_to_carol(tmp_path)
    row = await transferred_call(records, before, "201", 1)
    audio, parts = await recording_of(records, row)
    assert len(parts) == 2, parts
    assert_tones_in(audio, (parts[0][0] + 3, parts[0][1] - 1), (CALLER_HZ, CALLEE_HZ))  # after the notice
    assert_tones_in(audio, (parts[1][0] + 1, parts[1][1]), (CALLER_HZ, TARGET_HZ))

