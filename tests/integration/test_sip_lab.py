"""Real SIP phones through the lab: two SIPp phones call each other through plain Asterisk, recorded by
a dialplan MixMonitor (the baseline the app is measured against), and the recording holds both tones."""

from __future__ import annotations

import uuid
from pathlib import Path

import anyio
import pytest

from asterisk_rec.adapters.ari import AriRest
from asterisk_rec.config import Settings
from asterisk_rec.errors import AriError
from asterisk_rec.testing.sipp import ALICE_DESK, BOB_DESK, answer, call, ulaw_tone
from asterisk_rec.testing.tones import read_wav, tone_coverage

pytestmark = pytest.mark.anyio

CALLER_HZ, CALLEE_HZ = 700, 1300


async def fetch_when_stored(ari: AriRest, name: str, target: Path, within: float = 10) -> None:
    """MixMonitor closes its file a moment after the hangup."""
    with anyio.fail_after(within):
        while True:
            try:
                await ari.download_stored_recording(name, target)
                return
            except AriError:
                await anyio.sleep(0.2)


async def test_sipp_phones_talk_through_the_lab_and_mixmonitor_records_both(settings: Settings,
                                                                           tmp_path: Path) -> None:
    """alice-desk calls bob-desk (8202, plain Dial): both SIPp runs succeed, and the MixMonitor recording
    holds each phone's tone in at least 98 % of its 100 ms windows."""
    test_id = f"sip-lab-{uuid.uuid4().hex[:8]}"
    callee = answer(BOB_DESK, ulaw_tone(tmp_path / "bob.ul", CALLEE_HZ), tmp_path / "bob")
    await anyio.sleep(0.3)
    caller = call(ALICE_DESK, "8202", ulaw_tone(tmp_path / "alice.ul", CALLER_HZ), tmp_path / "alice",
                  call_ms=8000, test_id=test_id)
    try:
        assert await anyio.to_thread.run_sync(caller.wait) == 0, caller.log()
        assert await anyio.to_thread.run_sync(callee.wait) == 0, callee.log()
    finally:
        caller.stop()
        callee.stop()

    target = tmp_path / "call.wav"
    async with AriRest(settings.ari) as ari:
        await fetch_when_stored(ari, f"lab-plain/{test_id}-1", target)
        await ari.request("DELETE", f"recordings/stored/lab-plain%2F{test_id}-1")
    audio = read_wav(target)
    assert audio.seconds > 7, audio.seconds
    for frequency in (CALLER_HZ, CALLEE_HZ):
        coverage = tone_coverage(audio, frequency)
        assert coverage >= 0.98, f"{frequency} Hz fills only {coverage:.1%} of the windows ({audio.seconds:.1f} s)"
