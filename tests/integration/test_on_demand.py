"""On-demand recording switched with the feature code (*1) during the call, end to end through the lab
with SIPp phones sending tones and RFC 2833 digits. While the user dials, Asterisk mutes their audio,
so the windows of the code itself are left out of the tone bars."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import anyio
import pytest

from asterisk_rec.testing.sipp import (
    ALICE_APP,
    ALICE_DESK,
    BOB_DESK,
    CAROL_DESK,
    TRUNK_CALLER,
    Phone,
    answer,
    call_with_codes,
    ulaw_tone,
)
from asterisk_rec.testing.tones import Audio, tone_share, tone_windows, windows
from tests.integration.calls import CALLEE_HZ, CALLER_HZ, Records
from tests.integration.conftest import AmiEvents, ServiceProcess, SetModes
from tests.integration.phones import finish

pytestmark = pytest.mark.anyio

CODE = "*1,150"  # the code, each digit 150 ms
ALICE_MOBILE = "+31600000201"
# The windows at the end of a part in which the user was dialling the code that ended it.
DIALLING_WINDOWS = 12
# What the tones leave unexplained in a window of the notice (RMS; the codec's floor is about 200).
NOTICE_RMS = 800


async def call_dialling(tmp_path: Path, caller: Phone, number: str, callee: Phone, call_ms: int,
                        codes_at_ms: list[int], caller_id: str | None = None) -> None:
    answering = answer(callee, ulaw_tone(tmp_path / "callee.ul", CALLEE_HZ, 40), tmp_path / "callee", ring_ms=500)
    await anyio.sleep(0.3)
    calling = call_with_codes(caller, number, ulaw_tone(tmp_path / "caller.ul", CALLER_HZ, 40), tmp_path / "caller",
                              call_ms, [(at, CODE) for at in codes_at_ms], caller_id)
    await finish(calling, answering)


def part_seconds(recording: dict[str, Any]) -> list[float]:
    return [(datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()
            for start, end in recording["parts"]]


def notice_windows(audio: Audio) -> list[bool]:
    """Windows with sound beside the two tones (the notice, played into the bridge over the parties'
    tones): what the tones do not explain is well above the codec's noise floor."""
    flags = []
    for window in windows(audio):
        energy = sum(x * x for x in window) / len(window)
        tones = sum(tone_share(window, audio.rate, f) for f in (CALLER_HZ, CALLEE_HZ))
        flags.append((max(0.0, 1 - tones) * energy) ** 0.5 >= NOTICE_RMS)
    return flags


def assert_notice_then_tones(audio: Audio) -> None:
    """The file begins with the notice (heard within its first 500 ms, lasting at least 800 ms); after it,
    both tones fill 98 % of the windows up to the dialling of the code that ended the recording. (The
    prompt starts once the recording runs: 100-200 ms later, up to 400 ms on the first call after
    Asterisk started.)"""
    notice = notice_windows(audio)
    assert any(notice[:5]) and sum(notice[:30]) >= 8, f"no notice at the start: {notice[:30]}"
    notice_end = max(i for i, s in enumerate(notice[:30]) if s) + 1
    for frequency in (CALLER_HZ, CALLEE_HZ):
        flags = tone_windows(audio, frequency)[notice_end:len(notice) - DIALLING_WINDOWS]
        coverage = sum(flags) / len(flags)
        assert coverage >= 0.98, f"{frequency} Hz in {coverage:.1%} of {len(flags)} windows after the notice"


@pytest.mark.parametrize("device", ["desk", "app", "mobile"])
async def test_code_starts_and_stops_the_recording(records: Records, set_modes: SetModes, tmp_path: Path,
                                                   device: str) -> None:
    """Alice (on demand) dials the code 5 s into a 25 s call and again at 15 s, from her desk phone, her app
    or her mobile (over the trunk, RFC 2833): one file of about 10 s that begins with the notice and holds
    both tones; one part; one call row linked to it."""
    await set_modes(alice="on demand")
    before = await records.snapshot()
    phone, caller_id = {"desk": (ALICE_DESK, None), "app": (ALICE_APP, None),
                        "mobile": (TRUNK_CALLER, ALICE_MOBILE)}[device]
    await call_dialling(tmp_path, phone, "202", BOB_DESK, 25000, [5000, 15000], caller_id)
    row = await records.one_call(before, caller="201", callee="202", disposition="answered")
    audio = await records.new_recording(before, linked_to=row)
    assert 9.0 <= audio.seconds <= 11.0, audio.seconds
    assert_notice_then_tones(audio)
    (recording,) = await records.stored_since(before)
    assert len(recording["parts"]) == 1 and 9.0 <= part_seconds(recording)[0] <= 11.0, recording["parts"]
    assert recording["notice_finished_at"] is not None


async def test_two_toggle_pairs_give_two_parts_in_one_file(records: Records, set_modes: SetModes,
                                                            tmp_path: Path) -> None:
    """Codes at 4, 9, 14 and 19 s of a 24 s call: one file of about 10 s holding two parts of about 5 s."""
    await set_modes(alice="on demand")
    before = await records.snapshot()
    await call_dialling(tmp_path, ALICE_DESK, "202", BOB_DESK, 24000, [4000, 9000, 14000, 19000])
    row = await records.one_call(before, caller="201", callee="202", disposition="answered")
    audio = await records.new_recording(before, linked_to=row)
    assert 9.0 <= audio.seconds <= 11.0, audio.seconds
    (recording,) = await records.stored_since(before)
    assert [round(s) for s in part_seconds(recording)] == [5, 5], recording["parts"]


async def test_the_other_partys_code_changes_nothing(records: Records, set_modes: SetModes,
                                                     tmp_path: Path) -> None:
    """Carol (not recorded) calls Alice (on demand) and dials the code: nothing is recorded."""
    await set_modes(alice="on demand")
    before = await records.snapshot()
    await call_dialling(tmp_path, CAROL_DESK, "201", ALICE_DESK, 10000, [3000])
    await records.one_call(before, caller="203", callee="201", disposition="answered")
    await records.assert_no_recording(before)


async def test_an_always_recorded_users_code_does_not_stop_the_recording(
        records: Records, set_modes: SetModes, tmp_path: Path) -> None:
    """Alice (always recorded) dials the code 3 s into a 10 s call: she hears the refusal, and the
    recording goes on to the end in one part."""
    await set_modes(alice="always")
    before = await records.snapshot()
    await call_dialling(tmp_path, ALICE_DESK, "202", BOB_DESK, 10000, [3000])
    row = await records.one_call(before, caller="201", callee="202", disposition="answered")
    audio = await records.new_recording(before, linked_to=row)
    (recording,) = await records.stored_since(before)
    assert len(recording["parts"]) == 1, recording["parts"]
    assert audio.seconds >= 9.5, audio.seconds


async def test_the_far_end_gets_every_digit_but_the_code(records: Records, set_modes: SetModes,
                                                          ami_events: AmiEvents, tmp_path: Path) -> None:
    """Alice (on demand) calls the lab's IVR (a Read() in Asterisk's dialplan) and dials 1 2, then the code,
    then 3 4: the IVR receives 1 2 3 4, each once and in order, and nothing of the code; the code started a
    recording. Her phone sends digits only: SIPp's tone between digits (see codes_scenario) makes
    Asterisk itself report digits twice, which is SIPp's doing, not a phone's."""
    await set_modes(alice="on demand")
    before = await records.snapshot()
    calling = call_with_codes(ALICE_DESK, "299", ulaw_tone(tmp_path / "caller.ul", CALLER_HZ, 40),
                              tmp_path / "caller", 14000, [(3000, "12,150"), (6000, CODE), (10000, "34,150")],
                              talk=False)
    await finish(calling)
    # Two calls in Asterisk's eyes: Alice's to the IVR's endpoint, and the IVR's inbound side (Asterisk
    # calling itself), which is the lab's machinery.
    rows = await records.wait_for_calls(before, 2)
    assert [(r["caller"], r["callee"], r["disposition"]) for r in rows if r["call_id"]] == [
        ("201", "299", "answered")]
    await anyio.sleep(1)
    assert [e["Digit"] for e in ami_events.named("LabIvrDigit")] == ["1", "2", "3", "4"]
    await records.new_recording(before)


async def test_the_code_works_in_a_call_adopted_after_a_restart(service: ServiceProcess, records: Records,
                                                                 set_modes: SetModes, tmp_path: Path) -> None:
    """The service is killed (-9) while Alice (on demand) talks unrecorded with Bob, and started again: it
    adopts the call with her policy, so her code at 12 s of a 22 s call starts the recording: one file of
    about 10 s that begins with the notice and holds both tones."""
    await set_modes(alice="on demand")
    before = await records.snapshot()
    marker = service.log.read_text().count(": connected")
    answering = answer(BOB_DESK, ulaw_tone(tmp_path / "callee.ul", CALLEE_HZ, 40), tmp_path / "callee", ring_ms=500)
    await anyio.sleep(0.3)
    calling = call_with_codes(ALICE_DESK, "202", ulaw_tone(tmp_path / "caller.ul", CALLER_HZ, 40),
                              tmp_path / "caller", 22000, [(12000, CODE)])
    with anyio.fail_after(15):
        # The service's log is a file: poll it.
        while service.log.read_text().count(": connected") == marker:  # noqa: ASYNC110
            await anyio.sleep(0.1)
    service.kill()
    service.start()
    service.wait_for_log("adopted (recording none)")
    await finish(calling, answering)
    row = await records.one_call(before, caller="201", callee="202", disposition="answered")
    audio = await records.new_recording(before, linked_to=row)
    # From the code's end (12.5 s, less SIPp's scheduling) to the hangup.
    assert 8.5 <= audio.seconds <= 10.5, audio.seconds
    assert_notice_then_tones(audio)
