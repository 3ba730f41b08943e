"""The tone analysis the recording tests rely on tells a tone from silence, noise and other tones."""

from __future__ import annotations

import random
import wave
from array import array
from pathlib import Path

from asterisk_rec.testing.tones import Audio, longest_hole_ms, read_wav, sine, tone_coverage, tone_windows


def test_pure_tone_fills_every_window() -> None:
    """A 1000 Hz tone: all windows hold 1000 Hz, none hold 440 Hz."""
    audio = Audio(sine(1000, 2.0), 8000)
    assert tone_coverage(audio, 1000) == 1.0
    assert tone_coverage(audio, 440) == 0.0


def test_two_mixed_tones_are_both_found() -> None:
    """Two tones summed (as a two-party recording holds them) are each found in every window."""
    a, b = sine(700, 1.0, amplitude=6000), sine(1300, 1.0, amplitude=6000)
    audio = Audio(array("h", (x + y for x, y in zip(a, b, strict=True))), 8000)
    assert tone_coverage(audio, 700) == 1.0
    assert tone_coverage(audio, 1300) == 1.0


def test_silence_and_noise_hold_no_tone() -> None:
    """Silence and white noise are not mistaken for a tone."""
    rng = random.Random(1)
    noise = array("h", (rng.randint(-8000, 8000) for _ in range(8000)))
    assert tone_coverage(Audio(array("h", [0] * 8000), 8000), 1000) == 0.0
    assert tone_coverage(Audio(noise, 8000), 1000) == 0.0


def test_windows_follow_where_the_tone_is() -> None:
    """Half a second of silence then half a second of tone: the first five windows empty, the last five full."""
    audio = Audio(array("h", [0] * 4000) + sine(1000, 0.5), 8000)
    assert tone_windows(audio, 1000) == [False] * 5 + [True] * 5


def test_the_longest_hole_is_between_the_tone_s_first_and_last_window() -> None:
    """Silence before and after the tone is not a hole; 300 ms of silence within it is, and the longer of
    two holes counts; a tone never heard is one hole as long as the audio."""
    silence = array("h", [0] * 2400)
    audio = Audio(silence + sine(1000, 1.0) + silence + sine(1000, 0.5) + array("h", [0] * 800)
                  + sine(1000, 0.5) + silence, 8000)
    assert longest_hole_ms(audio, 1000) == 300
    assert longest_hole_ms(Audio(sine(1000, 1.0), 8000), 1000) == 0
    assert longest_hole_ms(Audio(silence, 8000), 1000) == 300


def test_read_wav_roundtrip(tmp_path: Path) -> None:
    """A 16-bit mono WAV is read back sample for sample, with its rate."""
    samples = sine(500, 0.3, rate=16000)
    path = tmp_path / "t.wav"
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(samples.tobytes())
    audio = read_wav(path)
    assert audio.rate == 16000
    assert audio.samples == samples
