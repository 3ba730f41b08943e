"""The service loses its WebSocket, or dies, in the middle of a recorded call: the call goes on, stays
recorded to the end, and is finished properly (nothing left in Asterisk). Killed in the middle of a
transfer, it ends the call as one a party left, and the recording so far is archived; a call it adopted
can be transferred as before."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import anyio
import pytest

from asterisk_rec.adapters.ari import AriRest
from asterisk_rec.config import Settings
from asterisk_rec.testing.sipp import ALICE_DESK, BOB_DESK, CAROL_DESK, answer, call, ring_only, ulaw_tone
from asterisk_rec.testing.transfers import answer_and_transfer, call_until_hung_up
from tests.integration.calls import (
    CALLEE_HZ,
    CALLER_HZ,
    TARGET_HZ,
    Records,
    assert_both_tones,
    assert_nothing_left,
)
from tests.integration.conftest import ServiceProcess, SetModes
from tests.integration.phones import finish
from tests.integration.test_transfers import assert_parts, transferred_call

pytestmark = pytest.mark.anyio


async def connected_call_with_fault(settings: Settings, service: ServiceProcess, records: Records, tmp_path: Path,
                                    fault: str) -> None:
    async with AriRest(settings.ari) as ari:
        before = await records.snapshot()
        marker = service.log.read_text().count("connected, recording")
        answering = answer(BOB_DESK, ulaw_tone(tmp_path / "callee.ul", CALLEE_HZ), tmp_path / "callee", ring_ms=500)
        await anyio.sleep(0.3)
        calling = call(ALICE_DESK, "202", ulaw_tone(tmp_path / "caller.ul", CALLER_HZ), tmp_path / "caller",
                       call_ms=9000)
        with anyio.fail_after(15):
            # The service's log is a file: poll it.
            while service.log.read_text().count("connected, recording") == marker:  # noqa: ASYNC110
                await anyio.sleep(0.1)
        await anyio.sleep(2)
        if fault == "websocket":
            # Abort the service's TCP connections to Asterisk's HTTP server (the WebSocket among them).
            await anyio.run_process(["ss", "-K", "dst", "127.0.0.1", "dport", "=", ":8088"])
        else:
            service.kill()
            service.start()
        await finish(calling, answering)
        await assert_nothing_left(ari)
        call_row = await records.one_call(before, caller="201", callee="202", direction="internal",
                                          disposition="answered")
        assert_both_tones(await records.new_recording(before, linked_to=call_row))
        # The recorded part is on the row whole, from before the fault to the hangup (9 s of talk).
        (recording,) = await records.stored_since(before)
        assert len(recording["parts"]) == 1, recording["parts"]
        start, end = (datetime.fromisoformat(t) for t in recording["parts"][0])
        assert 8.0 <= (end - start).total_seconds() <= 10.5, recording["parts"]


async def test_websocket_loss_mid_call(settings: Settings, service: ServiceProcess, set_modes: SetModes,
                                       records: Records, tmp_path: Path) -> None:
    """The WebSocket is cut mid-call: the service connects again, the call ends cleanly, and its one
    recording holds both tones throughout."""
    await set_modes(alice="always")
    before_fault = service.log_size()
    await connected_call_with_fault(settings, service, records, tmp_path, "websocket")
    service.wait_for_log("): connecting again", after=before_fault)


async def test_service_killed_mid_call(settings: Settings, service: ServiceProcess, set_modes: SetModes,
                                       records: Records, tmp_path: Path) -> None:
    """The service is killed (-9) mid-call and started again: it adopts the call from Asterisk, ends it
    properly when the caller hangs up; the call has one row and its one archived recording holds both tones
    throughout; the row keeps the recorded part from before the kill to the hangup."""
    await set_modes(alice="always")
    await connected_call_with_fault(settings, service, records, tmp_path, "kill")
    service.wait_for_log("adopted (recording asterisk-rec/")


async def test_service_killed_mid_transfer(settings: Settings, service: ServiceProcess, set_modes: SetModes,
                                           records: Records, tmp_path: Path) -> None:
    """Alice (recorded always) calls Bob, who transfers her to Carol and hangs up; the service is killed
    (-9) while Carol's desk rings, and started again. Reconciled as a call a party left while the service
    was away: Alice's call ends and Carol's desk stops ringing (nothing left in Asterisk); the call has one
    row, and its recording up to the transfer (Alice and Bob) is archived, whole."""
    await set_modes(alice="always")
    async with AriRest(settings.ari) as ari:
        before = await records.snapshot()
        offset = service.log_size()
        carol = ring_only(CAROL_DESK, tmp_path / "carol")
        bob = answer_and_transfer(BOB_DESK, ulaw_tone(tmp_path / "bob.ul", CALLEE_HZ), tmp_path / "bob", "203",
                                  talk_ms=4000, refer_sub=True, leave_at_once=True)
        await anyio.sleep(0.3)
        alice = call_until_hung_up(ALICE_DESK, "202", ulaw_tone(tmp_path / "alice.ul", CALLER_HZ, 30),
                                   tmp_path / "alice")
        service.wait_for_log("transfers 201 to 203", after=offset)
        await anyio.sleep(1)
        service.kill()
        service.start()
        await finish(alice, bob, carol)
        await assert_nothing_left(ari)
    row = await records.one_call(before, caller="201", callee="202", disposition="answered")
    await records.new_recording(before, linked_to=row)
    await assert_parts(records, row, (CALLER_HZ, CALLEE_HZ))


async def test_a_call_adopted_after_a_restart_can_be_transferred(settings: Settings, service: ServiceProcess,
                                                                set_modes: SetModes, records: Records,
                                                                tmp_path: Path) -> None:
    """The service is killed (-9) and started again while Alice (recorded always) talks with Bob; it
    adopts the call, and Bob then transfers Alice to Carol: Carol rings, answers, and the recording goes on
    in the same file (part 1 Alice and Bob across the restart, part 2 Alice and Carol); the chain has the
    transfer, by Bob's extension."""
    await set_modes(alice="always")
    async with AriRest(settings.ari) as ari:
        before = await records.snapshot()
        offset = service.log_size()
        carol = answer(CAROL_DESK, ulaw_tone(tmp_path / "carol.ul", TARGET_HZ), tmp_path / "carol", ring_ms=1000)
        bob = answer_and_transfer(BOB_DESK, ulaw_tone(tmp_path / "bob.ul", CALLEE_HZ), tmp_path / "bob", "203",
                                  talk_ms=8000, refer_sub=True)
        await anyio.sleep(0.3)
        alice = call(ALICE_DESK, "202", ulaw_tone(tmp_path / "alice.ul", CALLER_HZ, 30), tmp_path / "alice",
                     call_ms=18000)
        service.wait_for_log("connected, recording", after=offset)
        await anyio.sleep(2)
        service.kill()
        service.start()
        service.wait_for_log("adopted (recording asterisk-rec/")
        await finish(alice, bob, carol)
        await assert_nothing_left(ari)
    row = await transferred_call(records, before, "201", 1)
    (transfer,) = await records.chain(row)
    assert (transfer["kind"], transfer["transferor"], transfer["transferee"], transfer["target"],
            transfer["outcome"]) == ("blind", "202", "201", "203", "answered")
    await assert_parts(records, row, (CALLER_HZ, CALLEE_HZ), (CALLER_HZ, TARGET_HZ))


async def test_websocket_loss_while_the_transfer_target_rings(settings: Settings, service: ServiceProcess,
                                                              set_modes: SetModes, records: Records,
                                                              tmp_path: Path) -> None:
    """Alice (recorded always) calls Bob, who transfers her to Carol; the WebSocket is cut while Carol's
    desk rings, and she answers once the service is connected again: the transfer completes, the chain
    says answered, and the file holds Alice and Bob, then Alice and Carol; nothing left in Asterisk."""
    await set_modes(alice="always")
    async with AriRest(settings.ari) as ari:
        before = await records.snapshot()
        offset = service.log_size()
        carol = answer(CAROL_DESK, ulaw_tone(tmp_path / "carol.ul", TARGET_HZ), tmp_path / "carol", ring_ms=6000)
        bob = answer_and_transfer(BOB_DESK, ulaw_tone(tmp_path / "bob.ul", CALLEE_HZ), tmp_path / "bob", "203",
                                  talk_ms=4000, refer_sub=True)
        await anyio.sleep(0.3)
        alice = call(ALICE_DESK, "202", ulaw_tone(tmp_path / "alice.ul", CALLER_HZ, 30), tmp_path / "alice",
                     call_ms=20000)
        service.wait_for_log("transfers 201 to 203", after=offset)
        await anyio.run_process(["ss", "-K", "dst", "127.0.0.1", "dport", "=", ":8088"])
        service.wait_for_log("): connecting again", after=offset)
        await finish(alice, bob, carol)
        await assert_nothing_left(ari)
    row = await transferred_call(records, before, "201", 1)
    assert [(t["target"], t["outcome"]) for t in await records.chain(row)] == [("203", "answered")]
    await assert_parts(records, row, (CALLER_HZ, CALLEE_HZ), (CALLER_HZ, TARGET_HZ))
