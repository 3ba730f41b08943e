"""From hangup to "stored and linked": N concurrent recorded calls (alice-desk -> bob-desk, SIPp, tones),
and for each the time from the moment the app saw the hangup (the recording's last part ends) until its
file is archived (synced, hashed, recorded) and its call row carries the CDR (linked by the call id).
Side by side in the same run: the archive format WAV (no conversion: fetch, hash, store) as the baseline,
MP3 (the default) and Opus, each converted file to file by ffmpeg. Also the service's CPU, its ffmpeg children
included, per recorded minute, and whether every recorded call has exactly one row and one archived file.

    sudo .venv/bin/python -m bench.archive_latency --calls 10 50 100 --seconds 30

Needs root and the lab up; stop the demo's service first (`./run stop`): one app instance at a time.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bench.load import CallLoad, percentile, recording_alice, run_cases

FORMATS = ("wav", "mp3", "opus")

# Per recorded call: hangup as the app saw it, archived file stored, call row linked to it by its CDR.
LATENCY_SQL = """
SELECT (r.parts -> -1 ->> 1)::timestamptz AS hangup, r.stored_at, c.updated_at AS linked_at, r.duration_seconds
FROM recordings r JOIN calls c ON c.call_id = r.call_id
WHERE r.started_at >= %s AND r.state = 'stored' AND c.source = 'cdr'
"""


@dataclass
class Result:
    calls: int
    archive_format: str
    p50: float
    p95: float
    worst: float
    service_cpu_per_minute: float
    rows: int
    stored: int


class Bench(CallLoad):
    def run(self, calls: int, archive_format: str) -> Result:
        self.set_archive_format(archive_format)
        service = self.start_service(f"{archive_format}-{calls}")
        since = datetime.now(UTC).replace(microsecond=0)
        try:
            used = self.place(calls, "202", service, f"latency-{archive_format}-{calls}")
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and len(self.query(LATENCY_SQL, (since,))) < calls:
                time.sleep(1)
            time.sleep(2)  # CDRs of a parallel leg may still update a row
        finally:
            service.terminate()
            service.wait(15)
        done = self.query(LATENCY_SQL, (since,))
        latencies = [(max(r["stored_at"], r["linked_at"]) - r["hangup"]).total_seconds() for r in done]
        minutes = sum(r["duration_seconds"] for r in done) / 60
        rows = self.query("SELECT count(*) AS n FROM calls WHERE started_at >= %s", (since,))[0]["n"]
        stored = self.query("SELECT count(*) AS n FROM recordings WHERE started_at >= %s AND state = 'stored'",
                            (since,))[0]["n"]
        return Result(calls, archive_format, percentile(latencies, 0.5) if latencies else float("nan"),
                      percentile(latencies, 0.95) if latencies else float("nan"), max(latencies, default=0.0),
                      used.service / max(minutes, 1e-9), rows, stored)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, nargs="+", default=[10, 50, 100])
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--keep", type=Path, help="keep SIPp's error logs and the service's logs here")
    args = parser.parse_args()
    workdir = args.keep or Path(tempfile.mkdtemp(prefix="asterisk-rec-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    bench = Bench(args.seconds, workdir)
    with recording_alice(bench, None, keep=args.keep is not None):
        results = run_cases(args.calls, list(FORMATS), bench.run,
                            lambda r: f"p50 {r.p50:.2f} s, p95 {r.p95:.2f} s, {r.rows} rows, {r.stored} stored")
    print(f"| N | archive format | hangup to stored and linked, p50 | p95 | worst | service CPU s per "
          f"recorded minute (ffmpeg included) | call rows / archived files ({args.seconds} s calls) |")
    print("|---|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r.calls} | {r.archive_format} | {r.p50:.2f} s | {r.p95:.2f} s | {r.worst:.2f} s | "
              f"{r.service_cpu_per_minute:.3f} | {r.rows} / {r.stored} |")
    print(f"(p50 of {statistics.median(r.p50 for r in results):.2f} s over all cases)", file=sys.stderr)


if __name__ == "__main__":
    main()
