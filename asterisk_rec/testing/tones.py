"""Which tones a recording holds, window by window (Goertzel), for the recording tests' coverage bars."""

from __future__ import annotations

import math
import subprocess
import tempfile
import wave
from array import array
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

# A window "holds" a tone when that frequency carries this share of the window's energy: low enough for
# two tones mixed together (about half each), high enough that noise or silence never passes.
TONE_SHARE = 0.2
# Below this RMS (16-bit samples) a window is silence, whatever its spectrum.
SILENCE_RMS = 60.0


@dataclass(frozen=True)
class Audio:
    samples: array[int]
    rate: int

    @property
    def seconds(self) -> float:
        return len(self.samples) / self.rate


def read_wav(path: Path) -> Audio:
    with wave.open(str(path), "rb") as wav:
        if wav.getsampwidth() != 2 or wav.getnchannels() != 1:
            raise ValueError(f"{path}: expected 16-bit mono, got {wav.getsampwidth() * 8}-bit, "
                             f"{wav.getnchannels()} channels")
        samples = array("h")
        samples.frombytes(wav.readframes(wav.getnframes()))
        return Audio(samples, wav.getframerate())


def tone_share(window: Sequence[int], rate: int, frequency: float) -> float:
    """The share of the window's energy at ``frequency`` (1.0 for a pure tone on a bin)."""
    n = len(window)
    energy = math.fsum(x * x for x in window)
    if n == 0 or energy == 0 or math.sqrt(energy / n) < SILENCE_RMS:
        return 0.0
    coefficient = 2 * math.cos(2 * math.pi * frequency / rate)
    s1 = s2 = 0.0
    for x in window:
        s1, s2 = x + coefficient * s1 - s2, s1
    power = s1 * s1 + s2 * s2 - coefficient * s1 * s2
    return min(1.0, 2 * power / (n * energy))


def windows(audio: Audio, window_ms: int = 100) -> list[Sequence[int]]:
    size = audio.rate * window_ms // 1000
    return [audio.samples[i:i + size] for i in range(0, len(audio.samples) - size + 1, size)]


def tone_windows(audio: Audio, frequency: float, window_ms: int = 100) -> list[bool]:
    """For each whole window, whether it holds the tone."""
    return [tone_share(w, audio.rate, frequency) >= TONE_SHARE for w in windows(audio, window_ms)]


def longest_hole_ms(audio: Audio, frequency: float, window_ms: int = 100) -> int:
    """The longest run of windows without the tone, from its first window to its last (in ms)."""
    flags = tone_windows(audio, frequency, window_ms)
    if True not in flags:
        return len(flags) * window_ms
    inside = flags[flags.index(True):len(flags) - flags[::-1].index(True)]
    longest = run = 0
    for held in inside:
        run = 0 if held else run + 1
        longest = max(longest, run)
    return longest * window_ms


def tone_coverage(audio: Audio, frequency: float, window_ms: int = 100) -> float:
    """The share of the recording's windows that hold the tone."""
    flags = tone_windows(audio, frequency, window_ms)
    return sum(flags) / len(flags) if flags else 0.0


def sine(frequency: float, seconds: float, rate: int = 8000, amplitude: int = 8000) -> array[int]:
    """A test tone as 16-bit samples."""
    return array("h", (round(amplitude * math.sin(2 * math.pi * frequency * i / rate))
                       for i in range(round(seconds * rate))))


def read_audio(path: Path) -> Audio:
    """Any file ffmpeg decodes (an archived FLAC, Opus or MP3), as 8 kHz mono samples."""
    if path.suffix == ".wav":
        return read_wav(path)
    with tempfile.TemporaryDirectory() as tmp:
        decoded = Path(tmp) / "decoded.wav"
        subprocess.run(["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-i", str(path), "-ac", "1",
                        "-ar", "8000", "-c:a", "pcm_s16le", str(decoded)], check=True)
        return read_wav(decoded)
