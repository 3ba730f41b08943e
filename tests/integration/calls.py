"""Shared steps of the end-to-end call tests: phones, recordings, and what Asterisk has left."""

from __future__ import annotations

from pathlib import Path

import anyio

from asterisk_rec.adapters.ari import AriRest
from asterisk_rec.testing.tones import SILENCE_RMS, Audio, read_wav, tone_share, tone_windows, windows

CALLER_HZ, CALLEE_HZ = 700, 1300
RING_HZ = (440, 480)


async def stored_recordings(ari: AriRest) -> set[str]:
    listed = (await ari.request("GET", "recordings/stored")).json()
    return {r["name"] for r in listed if r["name"].startswith("asterisk-rec/")}


async def new_recording(ari: AriRest, before: set[str], target: Path, within: float = 10) -> Audio:
    """The one recording made since ``before``, fetched over ARI."""
    with anyio.fail_after(within):
        # Asterisk has no event for a stored file appearing: poll it.
        while not (made := await stored_recordings(ari) - before):  # noqa: ASYNC110
            await anyio.sleep(0.2)
    assert len(made) == 1, f"expected one recording of the call, got {sorted(made)}"
    await ari.download_stored_recording(made.pop(), target)
    return read_wav(target)


async def assert_nothing_left(ari: AriRest, within: float = 10) -> None:
    """After the call: no channels and no bridges in Asterisk (live recordings end with their channel)."""
    with anyio.fail_after(within):
        while True:
            channels = (await ari.request("GET", "channels")).json()
            bridges = (await ari.request("GET", "bridges")).json()
            if not channels and not bridges:
                return
            await anyio.sleep(0.2)


def assert_both_tones(audio: Audio) -> None:
    """Each party's tone fills at least 98 % of the recording's 100 ms windows, from its first window on."""
    for frequency in (CALLER_HZ, CALLEE_HZ):
        flags = tone_windows(audio, frequency)
        coverage = sum(flags) / len(flags)
        assert coverage >= 0.98, f"{frequency} Hz in {coverage:.1%} of {len(flags)} windows"
        assert flags.index(True) <= 1, f"{frequency} Hz starts only {flags.index(True) * 100} ms in"


def speech_windows(audio: Audio) -> list[bool]:
    """Windows with sound that is none of the test tones nor ringing: the notice."""
    tones = (CALLER_HZ, CALLEE_HZ, *RING_HZ)
    flags = []
    for window in windows(audio):
        loud = (sum(x * x for x in window) / len(window)) ** 0.5 >= SILENCE_RMS
        flags.append(loud and all(tone_share(window, audio.rate, f) < 0.2 for f in tones))
    return flags


def assert_notice_before_tone(heard: Audio, tone_hz: int) -> None:
    """What a phone heard: the notice (at least a second of speech), which ends before the other
    party's tone begins."""
    tone = tone_windows(heard, tone_hz)
    assert any(tone), f"the phone never heard {tone_hz} Hz"
    first_tone = tone.index(True)
    speech = speech_windows(heard)
    assert sum(speech[:first_tone]) >= 10, f"only {sum(speech[:first_tone])} windows of notice before the tone"
    late = [i for i, s in enumerate(speech) if s and i > first_tone]
    assert not late, f"notice-like sound after the tone began, at windows {late[:5]}"
