"""Audio conversion file to file with ffmpeg (pydub would decode the whole call into memory first: an
eight-hour call is about 460 MB), and a file's duration with ffprobe."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import anyio

from asterisk_rec.directory.models import ArchiveFormat
from asterisk_rec.errors import AsteriskRecError


class ConversionFailed(AsteriskRecError):
    error_id = "conversion_failed"


# Per format: ffmpeg's muxer and encoder options. Bit rates are for 8 kHz telephone speech; the tone tests
# and bench/archive_formats.py check they keep both parties' tones.
_ENCODE = {
    ArchiveFormat.WAV: ("wav", ["-c:a", "pcm_s16le"]),
    ArchiveFormat.FLAC: ("flac", ["-c:a", "flac", "-compression_level", "8"]),
    ArchiveFormat.OPUS: ("opus", ["-c:a", "libopus", "-b:a", "16k", "-application", "voip"]),
    ArchiveFormat.MP3: ("mp3", ["-c:a", "libmp3lame", "-b:a", "16k"]),
}


def extension(archive_format: ArchiveFormat) -> str:
    return archive_format.value


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise ConversionFailed(f"{name} is not installed: the archive needs ffmpeg (apt install ffmpeg)")
    return path


async def convert(source: Path, target: Path, archive_format: ArchiveFormat) -> None:
    """Encodes ``source`` (any audio ffmpeg reads) into ``target`` in ``archive_format``."""
    muxer, options = _ENCODE[archive_format]
    command = [_tool("ffmpeg"), "-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-i", str(source),
               "-map_metadata", "-1", *options, "-f", muxer, str(target)]
    result = await anyio.run_process(command, check=False)
    if result.returncode != 0:
        reason = result.stderr.decode(errors="replace").strip().splitlines()
        raise ConversionFailed(f"ffmpeg could not convert {source.name} to {archive_format.value}: "
                               f"{reason[-1] if reason else f'exit status {result.returncode}'}")


async def duration_seconds(path: Path) -> float:
    command = [_tool("ffprobe"), "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", str(path)]
    result = await anyio.run_process(command, check=False, stderr=subprocess.STDOUT)
    try:
        return float(result.stdout.decode().strip())
    except ValueError:
        raise ConversionFailed(f"ffprobe cannot read the duration of {path}: "
                               f"{result.stdout.decode(errors='replace').strip()}") from None
