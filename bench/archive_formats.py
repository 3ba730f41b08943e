"""The archive formats side by side on the same recordings: bytes per recorded minute, CPU seconds of
conversion per recorded minute (ffmpeg's, counted from its rusage), and the tone tests' coverage of both
parties' tones after the round trip. WAV, stored as Asterisk wrote it, is the baseline.

    .venv/bin/python bench/archive_formats.py [--source DIR] [--rounds 3]

The source is a directory of two-party call recordings with the lab's test tones (700 and 1300 Hz), by
default the lab's MixMonitor recordings (lab-plain, made by the SIP tests); the figures in the README
are of the app's own 30 s recordings that bench/archive_latency.py archives as WAV:

    .venv/bin/python bench/archive_formats.py --source /var/lib/asterisk-rec-lab/archive/<org>/<Y>/<M>/<D>
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import statistics
import tempfile
import time
from pathlib import Path

from asterisk_rec.archive.convert import convert
from asterisk_rec.directory.models import ArchiveFormat
from asterisk_rec.testing.tones import read_audio, tone_windows

LAB_PLAIN = Path("/var/lib/asterisk-rec-lab/rootfs/var/spool/asterisk/recording/lab-plain")
TONES = (700, 1300)


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def coverage(path: Path) -> float:
    """The smaller of the two tones' shares of the 100 ms windows (the tone tests' bar is 98 %)."""
    audio = read_audio(path)
    return min(sum(tone_windows(audio, f)) / len(tone_windows(audio, f)) for f in TONES)


async def measure(sources: list[Path], archive_format: ArchiveFormat, work: Path) -> dict[str, float]:
    size = cpu = 0.0
    coverages = []
    started = time.perf_counter()
    for source in sources:
        target = work / f"{source.stem}.{archive_format.value}"
        before = children_cpu()
        await convert(source, target, archive_format)
        cpu += children_cpu() - before
        size += target.stat().st_size
        coverages.append(coverage(target))
    return {"bytes": size, "cpu": cpu, "wall": time.perf_counter() - started, "coverage": min(coverages)}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", type=Path, default=LAB_PLAIN)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--limit", type=int, default=40, help="at most this many recordings")
    args = parser.parse_args()
    sources = sorted(args.source.glob("*.wav"))[:args.limit]
    if not sources:
        raise SystemExit(f"no WAV recordings in {args.source}: run bench/recording_cost.py or the SIP tests first")
    minutes = sum(read_audio(s).seconds for s in sources) / 60
    print(f"{len(sources)} recordings, {minutes:.1f} recorded minutes, {args.rounds} rounds (median)")
    print(f"{'format':<6} {'bytes/min':>10} {'vs WAV':>7} {'CPU s/min':>10} {'min tone coverage':>18}")
    baseline = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        print(f"{'source':<6} {'':>10} {'':>7} {'':>10} {min(coverage(s) for s in sources):>17.1%}")
        for archive_format in ArchiveFormat:
            rounds = [await measure(sources, archive_format, Path(tmp)) for _ in range(args.rounds)]
            size = statistics.median(r["bytes"] for r in rounds) / minutes
            cpu = statistics.median(r["cpu"] for r in rounds) / minutes
            if archive_format is ArchiveFormat.WAV:
                baseline = size
            print(f"{archive_format.value:<6} {size:>10.0f} {size / baseline:>6.2f}x {cpu:>10.3f} "
                  f"{min(r['coverage'] for r in rounds):>17.1%}")


if __name__ == "__main__":
    asyncio.run(main())
