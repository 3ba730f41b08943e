"""End to end through the lab with real SIP phones (SIPp, RTP tones): the service rings every device
of a recorded user, plays the notice to the other party before the conversation, records the whole
conversation (both tones in at least 98 % of the windows) and leaves nothing behind in Asterisk. Every
call ends with exactly one call row (parties, direction, disposition, times), and a recorded one with one
archived file linked to it by call id, its SHA-256 verified."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest

from asterisk_rec.adapters.ari import AriRest
from asterisk_rec.adapters.db import Database
from asterisk_rec.config import Settings
from asterisk_rec.directory.store import DirectoryStore
from asterisk_rec.lab.directory import LAB_ORGANISATION
from asterisk_rec.testing.capture import RtpCapture
from asterisk_rec.testing.sipp import (
    ALICE_APP,
    ALICE_DESK,
    BOB_DESK,
    CAROL_DESK,
    DAVE_DESK,
    OUTSIDE_NUMBER,
    TRUNK,
    TRUNK_CALLER,
    Phone,
    busy,
    call_and_give_up,
    ring_only,
)
from tests.integration.calls import (
    CALLEE_HZ,
    CALLER_HZ,
    Records,
    assert_both_tones,
    assert_nothing_left,
    assert_notice_before_tone,
)
from tests.integration.conftest import AmiEvents, ServiceProcess, SetModes
from tests.integration.phones import finish, talk, unanswered

pytestmark = pytest.mark.anyio




async def recorded_call(tmp_path: Path, caller: Phone, number: str, callee: Phone, *,
                        listen: Phone | None = None, **talking: Any) -> RtpCapture:
    """``talk``, capturing what ``listen`` (by default the callee) heard."""
    capture = RtpCapture((listen or callee).media_port, tmp_path / "heard.pcap")
    with capture:
        await talk(tmp_path, caller, number, callee, **talking)
    return capture


async def test_outside_caller_to_recorded_user_answered_on_the_mobile(
        records: Records, ari: AriRest, set_modes: SetModes, tmp_path: Path) -> None:
    """An outside caller over the trunk calls Alice (always recorded; desk, app and mobile): the mobile leg
    answers; the caller heard the notice before Alice's tone; the recording holds both tones."""
    await set_modes(alice="always")
    before = await records.snapshot()
    heard = await recorded_call(tmp_path, TRUNK_CALLER, "201", TRUNK, caller_id=OUTSIDE_NUMBER,
                                listen=TRUNK_CALLER)
    assert_notice_before_tone(heard.audio(), CALLEE_HZ)
    call_row = await records.one_call(before, talk_seconds=7, caller=OUTSIDE_NUMBER, callee="201",
                                      direction="inbound", disposition="answered")
    assert_both_tones(await records.new_recording(before, linked_to=call_row))


async def test_desk_answers_while_the_app_rings(
        records: Records, ari: AriRest, set_modes: SetModes, tmp_path: Path) -> None:
    """Alice's desk phone answers while her app also rang (and is then cancelled, "answered elsewhere");
    the outside caller heard the notice first; one recording with both tones."""
    await set_modes(alice="always")
    before = await records.snapshot()
    heard = await recorded_call(tmp_path, TRUNK_CALLER, "201", ALICE_DESK, caller_id=OUTSIDE_NUMBER,
                                listen=TRUNK_CALLER, also_ringing=(ALICE_APP,))
    assert_notice_before_tone(heard.audio(), CALLEE_HZ)
    call_row = await records.one_call(before, talk_seconds=7, caller=OUTSIDE_NUMBER, callee="201",
                                      direction="inbound", disposition="answered")
    assert_both_tones(await records.new_recording(before, linked_to=call_row))


async def test_recorded_users_app_calls_an_outside_number(
        records: Records, ari: AriRest, set_modes: SetModes, tmp_path: Path) -> None:
    """Alice calls out from her app: the callee hears the notice on answer, before Alice's tone."""
    await set_modes(alice="always")
    before = await records.snapshot()
    heard = await recorded_call(tmp_path, ALICE_APP, OUTSIDE_NUMBER, TRUNK)
    assert_notice_before_tone(heard.audio(), CALLER_HZ)
    call_row = await records.one_call(before, talk_seconds=7, caller="201", callee=OUTSIDE_NUMBER,
                                      direction="outbound", disposition="answered")
    assert_both_tones(await records.new_recording(before, linked_to=call_row))


async def test_internal_call_recorded_user_to_unrecorded(
        records: Records, ari: AriRest, set_modes: SetModes, tmp_path: Path) -> None:
    """Alice (recorded) calls Bob (not recorded): Bob hears the notice before Alice's tone; one recording."""
    await set_modes(alice="always")
    before = await records.snapshot()
    heard = await recorded_call(tmp_path, ALICE_DESK, "202", BOB_DESK)
    assert_notice_before_tone(heard.audio(), CALLER_HZ)
    call_row = await records.one_call(before, talk_seconds=7, caller="201",
                                      callee="202", direction="internal", disposition="answered")
    assert_both_tones(await records.new_recording(before, linked_to=call_row))


async def test_call_from_a_users_mobile_over_the_trunk(
        records: Records, ari: AriRest, set_modes: SetModes, tmp_path: Path) -> None:
    """Alice calls Bob from her mobile: the call arrives over the trunk with her number as caller id, is
    attributed to her (recorded), so Bob hears the notice first; one recording with both tones."""
    await set_modes(alice="always")
    before = await records.snapshot()
    heard = await recorded_call(tmp_path, TRUNK_CALLER, "202", BOB_DESK, caller_id="+31600000201")
    assert_notice_before_tone(heard.audio(), CALLER_HZ)
    call_row = await records.one_call(before, talk_seconds=7, caller="201",
                                      callee="202", direction="internal", disposition="answered")
    assert_both_tones(await records.new_recording(before, linked_to=call_row))


async def test_call_between_unrecorded_users_is_not_recorded(
        records: Records, ari: AriRest, set_modes: SetModes, tmp_path: Path) -> None:
    """Carol calls Dave, neither recorded: they talk (both SIPp runs succeed) and no recording is made."""
    await set_modes()
    before = await records.snapshot()
    await talk(tmp_path, CAROL_DESK, "204", DAVE_DESK, call_ms=3000)
    await anyio.sleep(1)
    await records.assert_no_recording(before)
    await records.one_call(before, talk_seconds=3, caller="203",
                           callee="204", direction="internal", disposition="answered")


async def test_busy_gives_486_and_the_dialplan_fallback_runs(
        records: Records, ari: AriRest, set_modes: SetModes, ami_events: AmiEvents, tmp_path: Path) -> None:
    """Bob (recorded) is busy: the caller gets 486 Busy Here after the notice, the dialplan's fallback
    runs with ASTERISK_REC_DIALSTATUS=BUSY, and no recording is made."""
    await set_modes(bob="always")
    before = await records.snapshot()
    busy_phone = busy(BOB_DESK, tmp_path / "bob")
    assert await unanswered(tmp_path, CAROL_DESK, "202") == 486
    await finish(busy_phone)
    event = await ami_events.wait_for("LabFallback")
    assert (event["Status"], event["Number"]) == ("BUSY", "202")
    await records.assert_no_recording(before)
    await records.one_call(before, caller="203", callee="202", direction="internal", disposition="busy")


async def test_no_answer_gives_480_and_the_dialplan_fallback_runs(
        records: Records, ari: AriRest, set_modes: SetModes, ami_events: AmiEvents, tmp_path: Path) -> None:
    """Bob's phone rings past the ring time: it is cancelled, the caller gets 480, and the fallback runs
    with NOANSWER."""
    await set_modes(bob="always")
    before = await records.snapshot()
    ringing = ring_only(BOB_DESK, tmp_path / "bob")
    assert await unanswered(tmp_path, CAROL_DESK, "202") == 480
    await finish(ringing)
    event = await ami_events.wait_for("LabFallback")
    assert (event["Status"], event["Number"]) == ("NOANSWER", "202")
    await records.one_call(before, caller="203", callee="202", direction="internal", disposition="no_answer")


async def test_hold_pauses_the_recording(records: Records, ari: AriRest, set_modes: SetModes, tmp_path: Path) -> None:
    """Alice (recorded) talks 3 s, holds 3 s, talks 3 s: the recording holds only the 6 s of talk, both
    tones throughout: nothing of the hold is recorded."""
    await set_modes(alice="always")
    before = await records.snapshot()
    heard = await recorded_call(tmp_path, ALICE_DESK, "202", BOB_DESK, call_ms=3000, hold=True)
    assert_notice_before_tone(heard.audio(), CALLER_HZ)
    call_row = await records.one_call(before, talk_seconds=9, direction="internal", caller="201",
                                      callee="202", disposition="answered")
    audio = await records.new_recording(before, linked_to=call_row)
    assert 5.0 <= audio.seconds <= 7.0, f"{audio.seconds:.1f} s recorded for 6 s of talk and 3 s of hold"
    assert_both_tones(audio)


async def test_app_stopped_fails_open_or_closed_as_the_organisation_chose(
        records: Records, settings: Settings, service: ServiceProcess, set_modes: SetModes, ami_events: AmiEvents,
        tmp_path: Path) -> None:
    """With the app stopped, an organisation failing open connects the call unrecorded and raises the
    AsteriskRecAppDown alarm; failing closed, the caller is refused (403) and the callee never rings."""
    await set_modes(bob="always")
    async with Database(settings.database, max_size=1) as db, AriRest(settings.ari) as ari:
        store = DirectoryStore(db)
        before = await records.snapshot()
        service.stop()
        try:
            await talk(tmp_path / "open", CAROL_DESK, "202", BOB_DESK, call_ms=2000)
            alarm = await ami_events.wait_for("AsteriskRecAppDown")
            assert (alarm["Organisation"], alarm["Number"]) == (LAB_ORGANISATION, "202")
            await records.assert_no_recording(before)

            # The service publishes the organisation's choice to the dialplan when it starts.
            await store.update_organisation(LAB_ORGANISATION, fail_mode="closed")
            service.start()
            service.stop()
            ringing = ring_only(BOB_DESK, tmp_path / "closed-b")
            assert await unanswered(tmp_path / "closed", CAROL_DESK, "202") == 403
            assert ringing.process.poll() is None, "Bob's phone rang although the call was refused"
            ringing.stop()
        finally:
            await store.update_organisation(LAB_ORGANISATION, fail_mode="open")
            if service.process is None:
                service.start()
        await assert_nothing_left(ari)
    # Both calls are on record all the same, from their CDRs: one connected, one refused.
    connected, refused = await records.wait_for_calls(before, 2)
    assert (connected["caller"], connected["callee"], connected["disposition"]) == ("203", "202", "answered")
    assert (refused["caller"], refused["callee"]) == ("203", "202")
    assert refused["disposition"] in ("failed", "no_answer"), refused


async def test_caller_hanging_up_while_it_rings_leaves_nothing(
        records: Records, ari: AriRest, set_modes: SetModes, tmp_path: Path) -> None:
    """Carol gives up while Alice's (recorded) desk and app ring during the notice: every leg is
    cancelled, nothing stays in Asterisk and no recording is made."""
    await set_modes(alice="always")
    before = await records.snapshot()
    desk, app = ring_only(ALICE_DESK, tmp_path / "desk"), ring_only(ALICE_APP, tmp_path / "app")
    await anyio.sleep(0.3)
    await finish(call_and_give_up(CAROL_DESK, "201", tmp_path / "caller"), desk, app)
    await assert_nothing_left(ari)
    await records.assert_no_recording(before)
    await records.one_call(before, direction="internal", caller="203", callee="201", disposition="no_answer")


async def test_bridge_recording_method_records_the_same_call(
        records: Records, ari: AriRest, service: ServiceProcess, set_modes: SetModes, tmp_path: Path) -> None:
    """With calls.recording_method=bridge the bridge itself is recorded: the same internal call gives one
    recording with both tones, and nothing is left behind."""
    await set_modes(alice="always")
    service.stop()
    service.start("calls.recording_method=bridge")
    try:
        before = await records.snapshot()
        await recorded_call(tmp_path, ALICE_DESK, "202", BOB_DESK)
        call_row = await records.one_call(before, talk_seconds=7, direction="internal", caller="201",
                                          callee="202", disposition="answered")
        assert_both_tones(await records.new_recording(before, linked_to=call_row))
    finally:
        service.stop()
        service.start()
