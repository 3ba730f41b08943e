"""What recording costs: N concurrent SIPp calls (alice-desk -> bob-desk, each phone sending its own tone)
recorded by the app (a snoop of the caller, or the bridge itself) beside the same calls recorded by a
plain dialplan MixMonitor (what FreePBX does), in the same run, interleaved.

Reported per case: Asterisk + service CPU seconds per minute of recording made (SIPp's own CPU is not
counted), its ratio to MixMonitor's in the same round, and the share of recordings complete (at least
the call's length less a second, both tones in at least 98 % of the 100 ms windows).

    sudo .venv/bin/python -m bench.recording_cost --calls 10 50 100 --seconds 60

Needs root and the lab up; stop the demo's service first (`./run stop`): one app instance at a time.
"""

from __future__ import annotations

import argparse
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from asterisk_rec.testing.tones import Audio, read_audio, read_wav
from bench.load import CallLoad, recording_alice, run_cases

METHODS = ("mixmonitor", "snoop", "bridge")


@dataclass
class Result:
    calls: int
    method: str
    cpu_per_call_minute: float
    service_share: float  # of that CPU, the service's part
    complete: int
    recordings: int


class Bench(CallLoad):
    def __init__(self, seconds: int, workdir: Path) -> None:
        super().__init__(seconds, workdir)
        self.plain = self.lab.rootfs.inside("/var/spool/asterisk/recording/lab-plain")

    def run(self, calls: int, method: str) -> Result:
        service = None
        if method != "mixmonitor":
            service = self.start_service(f"{method}-{calls}", f"calls.recording_method={method}")
        before = set(self.plain.glob("*.wav"))
        since = datetime.now(UTC).replace(microsecond=0)
        used = self.place(calls, "8202" if method == "mixmonitor" else "202", service, f"bench-{calls}")
        if service is not None:
            service.terminate()
            service.wait(15)
        audios = self.mixmonitor_recordings(before) if service is None else self.archived(since)
        complete = sum(1 for audio in audios if self.is_complete(audio))
        recorded_minutes = sum(audio.seconds for audio in audios) / 60
        total = used.asterisk + used.service
        # Per minute actually recorded: calls lost under load must not make a case look cheaper.
        return Result(calls, method, total / max(recorded_minutes, 1e-9), used.service / max(total, 1e-9), complete,
                      len(audios))

    def mixmonitor_recordings(self, before: set[Path]) -> list[Audio]:
        made = sorted(set(self.plain.glob("*.wav")) - before)
        audios = [read_wav(path) for path in made]
        for path in made:
            path.unlink()
        return audios

    def archived(self, since: datetime) -> list[Audio]:
        rows = self.query("SELECT path FROM recordings WHERE state = 'stored' AND started_at >= %s", (since,))
        return [read_audio(Path(self.settings.archive.root) / row["path"]) for row in rows]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, nargs="+", default=[10, 50, 100])
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS))
    parser.add_argument("--keep", type=Path, help="keep SIPp's error logs and the services' logs here")
    args = parser.parse_args()
    workdir = args.keep or Path(tempfile.mkdtemp(prefix="asterisk-rec-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    bench = Bench(args.seconds, workdir)
    # The recordings as Asterisk wrote them: no conversion in the recording's cost (bench/archive_latency.py
    # and bench/archive_formats.py measure conversion).
    with recording_alice(bench, "wav", keep=args.keep is not None):
        methods = ["mixmonitor", *(m for m in args.methods if m != "mixmonitor")]
        results = run_cases(
            args.calls, methods, bench.run,
            lambda r: f"{r.cpu_per_call_minute:.3f} CPU-s/call-min, {r.complete}/{r.recordings} complete")
    print(f"| N | method | CPU s per recorded call-minute | of which the service | ratio to MixMonitor "
          f"| complete ({args.seconds} s calls) |")
    print("|---|---|---|---|---|---|")
    for result in results:
        baseline = next(r for r in results if r.calls == result.calls and r.method == "mixmonitor")
        ratio = result.cpu_per_call_minute / baseline.cpu_per_call_minute
        print(f"| {result.calls} | {result.method} | {result.cpu_per_call_minute:.3f} | "
              f"{result.service_share:.0%} | {ratio:.2f} | {result.complete}/{result.calls} |")


if __name__ == "__main__":
    main()
