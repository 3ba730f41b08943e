"""Bulk download at size: a month of MP3 recordings (incompressible, like MP3s; sizes spread from 0.2
to 2 MB) totalling --gigabytes, written into ZIP files by the export's writer (`export/zipper.py`:
files copied in chunks and hashed, ZIPs split at 1 GiB, each ZIP hashed, the manifest) in a process of
its own, and beside it in the same run `zip -0` of the same files (stored, no hashes): wall time,
throughput, and each one's peak resident memory (VmHWM, read from /proc while it runs).

    .venv/bin/python -m bench.export_zip --gigabytes 2 --rounds 3

Needs about three times the size free in the work directory (default: a new one under /tmp).
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from asterisk_rec.export.zipper import ExportEntry, build

SPLIT = 1024**3


def make_month(directory: Path, total_bytes: int) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    chance = random.Random(1)
    files: list[Path] = []
    written = 0
    block = os.urandom(4 * 1024 * 1024)
    while written < total_bytes:
        size = min(chance.randint(200_000, 2_000_000), total_bytes - written)
        path = directory / f"{len(files):06d}.mp3"
        start = chance.randrange(len(block) - size) if size < len(block) else 0
        path.write_bytes(block[start:start + size])
        files.append(path)
        written += size
    return files


def build_child(source: Path, out: Path) -> None:
    """The export's writer over every file of ``source`` (run in a process of its own)."""
    zone = ZoneInfo("Europe/Amsterdam")
    started = datetime(2026, 10, 1, tzinfo=zone)
    entries = (ExportEntry(call=n, started_at=started, direction="internal", caller="201", callee="202",
                           talk_seconds=60.0, source=path, name=f"2026-10-01_000000_201_202_{n}.mp3", format="mp3")
               for n, path in enumerate(sorted(source.iterdir())))
    build(entries, out, "bench-2026-10", SPLIT)


@dataclass
class Run:
    seconds: float
    peak_rss_mb: float
    out_files: int


def high_water_mb(pid: int) -> float:
    """The process's peak resident memory since its exec (VmHWM), in MB; 0 once it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def measured(command: list[str], out: Path) -> Run:
    """Runs it, reading its peak memory from /proc as it goes (the rusage of a child counts the memory
    of the process it was forked from, before its exec)."""
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    peak = 0.0
    while process.poll() is None:
        peak = max(peak, high_water_mb(process.pid))
        time.sleep(0.02)
    seconds = time.perf_counter() - started
    if process.returncode != 0:
        raise SystemExit(f"{command[0]} failed")
    return Run(seconds, peak, len(list(out.iterdir())))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--gigabytes", type=float, default=2.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--child", nargs=2, type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        build_child(*args.child)
        return
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="asterisk-rec-export-bench-"))
    try:
        files = make_month(workdir / "month", int(args.gigabytes * 1e9))
        total = sum(p.stat().st_size for p in files)
        print(f"{len(files)} recordings, {total / 1e9:.2f} GB", file=sys.stderr)
        ours, baseline = [], []
        for _ in range(args.rounds):
            ours.append(measured([sys.executable, "-m", "bench.export_zip", "--child", str(workdir / "month"),
                                  str(workdir / "ours")], workdir / "ours"))
            zip_stored = f"cd {workdir / 'month'} && exec zip -0 -q {workdir / 'zip' / 'month.zip'} *"
            baseline.append(measured(["sh", "-c", zip_stored], workdir / "zip"))
            print(f"ours {ours[-1].seconds:.1f} s, {ours[-1].peak_rss_mb:.0f} MB; "
                  f"zip -0 {baseline[-1].seconds:.1f} s, {baseline[-1].peak_rss_mb:.0f} MB", file=sys.stderr)
    finally:
        if not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    ours_s, zip_s = statistics.median(r.seconds for r in ours), statistics.median(r.seconds for r in baseline)
    print(f"\n{len(files)} recordings, {total / 1e9:.2f} GB; median of {args.rounds} rounds\n")
    print("| writer | wall time | throughput | vs zip -0 | peak RSS | output |")
    print("|---|---|---|---|---|---|")
    print(f"| zip -0 (baseline) | {zip_s:.1f} s | {total / zip_s / 1e6:.0f} MB/s | 1.00 | "
          f"{max(r.peak_rss_mb for r in baseline):.0f} MB | 1 ZIP |")
    print(f"| export (ZIPs split at 1 GiB, SHA-256 of each file and ZIP, manifest) | {ours_s:.1f} s | "
          f"{total / ours_s / 1e6:.0f} MB/s | {zip_s / ours_s:.2f} | {max(r.peak_rss_mb for r in ours):.0f} MB | "
          f"{ours[-1].out_files} ZIPs |")


if __name__ == "__main__":
    main()
