"""What a recorded call costs, measured as an outsider would: bursts of N calls (alice-desk -> bob-desk,
all started within ``--ramp`` seconds, as a busy hour does; each phone sending its own tone; ``--seconds``
long once answered), recorded by asterisk-rec (the archive format WAV) beside the same burst recorded by a
plain dialplan MixMonitor that first plays the same notice (``Playback()`` before ``Dial()``: both sides
play the same audio), in ``--pairs`` interleaved pairs per N; means reported.

Per case: Asterisk's CPU, the service's own CPU and its children's (ffmpeg, ffprobe: the ones it waited
for), all per recorded call-minute, and the total's ratio to MixMonitor's in the same pair; the service's
own CPU a call, and how much of it its timers would have used idle in the same time (measured for
``IDLE_SECONDS`` before the burst); set-up, from the callee's notice ending to the parties joined, as
Asterisk timed both (p50, p95, worst); and the recordings complete from the moment the parties are
joined (the callee's tone first in the file): both tones in at least 99 % of the 100 ms windows, no hole
over 100 ms, and at least the call's length less a second.

    sudo .venv/bin/python -m bench.recording_cost --calls 10 50 100 200 --seconds 30 --pairs 2

Needs root and the lab up; stop the demo's service first (`./run stop`): one app instance at a time.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from asterisk_rec.testing.tones import Audio, read_audio, read_wav, tone_windows
from bench.load import CALLEE_HZ, CALLER_HZ, CallLoad, cpu_times, percentile, recording_alice

# Each recorder and the service's settings for it (None: no service, the dialplan records).
RECORDERS: dict[str, tuple[str, ...] | None] = {
    "mixmonitor": None,
    "asterisk-rec": (),  # a snoop of the caller, the default
    "asterisk-rec bridge": ("calls.recording_method=bridge",),
}
# A MixMonitor of the bridged call after Playback(asterisk-rec/notice): dialplan/lab.conf.
MIXMONITOR_NUMBER = "83202"

# The service is watched idle this long before each burst: what its timers cost, apart from the calls.
IDLE_SECONDS = 10.0

LAG_SQL = """
SELECT EXTRACT(EPOCH FROM answered_at - notice_finished_at)::float AS lag
FROM app_calls WHERE started_at >= %s AND answered_at IS NOT NULL AND notice_finished_at IS NOT NULL
"""


@dataclass
class Case:
    calls: int
    recorder: str
    asterisk: float  # CPU seconds per recorded call-minute
    own: float
    children: float
    recordings: int
    complete: int
    lags: list[float]
    own_per_call: float = 0.0  # the service's own CPU seconds a call, all it did in the burst's time
    idle_per_call: float = 0.0  # of which it would have used idle (its timers: exports, sweeps, pings)

    @property
    def total(self) -> float:
        return self.asterisk + self.own + self.children


def complete_from_join(audio: Audio, seconds: int) -> bool:
    """From the callee's first tone on (the parties joined): both tones in 99 % of the windows, no two
    windows in a row without one of them, and the call's length less a second."""
    caller, callee = tone_windows(audio, CALLER_HZ), tone_windows(audio, CALLEE_HZ)
    if True not in callee:
        return False
    joined = callee.index(True)
    # The last window may be cut by the hangup.
    both = [a and b for a, b in zip(caller[joined:-1], callee[joined:-1], strict=True)]
    holes = any(not first and not second for first, second in itertools.pairwise(both))
    return len(both) >= (seconds - 1) * 10 and sum(both) >= 0.99 * len(both) and not holes


class Bench(CallLoad):
    def __init__(self, seconds: int, ramp: float, workdir: Path) -> None:
        super().__init__(seconds, workdir)
        self.ramp = ramp
        self.plain = self.lab.rootfs.inside("/var/spool/asterisk/recording/lab-plain")

    def run(self, calls: int, recorder: str, pair: int) -> Case:
        settings = RECORDERS[recorder]
        service = None if settings is None else \
            self.start_service(f"{recorder.replace(' ', '-')}-{calls}-{pair}", *settings)
        before = set(self.plain.glob("*.wav"))
        since = datetime.now(UTC).replace(microsecond=0)

        def archived() -> bool:
            return len(self.query("SELECT 1 FROM recordings WHERE started_at >= %s AND state = 'stored'",
                                  (since,))) >= calls

        idle_rate = 0.0
        if service is not None:
            before_idle = cpu_times(service.pid)[0]
            time.sleep(IDLE_SECONDS)
            idle_rate = (cpu_times(service.pid)[0] - before_idle) / IDLE_SECONDS
        began = time.monotonic()
        used = self.place(calls, MIXMONITOR_NUMBER if service is None else "202", service,
                          f"cost-{calls}-{pair}", ramp_seconds=self.ramp,
                          settled=None if service is None else archived)
        window = time.monotonic() - began
        if service is not None:
            service.terminate()
            service.wait(15)
        audios = self.mixmonitor_recordings(before) if service is None else self.archived(since)
        lags = [] if service is None else [row["lag"] for row in self.query(LAG_SQL, (since,))]
        minutes = max(sum(audio.seconds for audio in audios) / 60, 1e-9)
        # Per minute actually recorded: calls lost under load must not make a case look cheaper.
        return Case(calls, recorder, used.asterisk / minutes, used.service_own / minutes,
                    used.service_children / minutes, len(audios),
                    sum(1 for audio in audios if complete_from_join(audio, self.seconds)), lags,
                    used.service_own / calls, idle_rate * window / calls)

    def mixmonitor_recordings(self, before: set[Path]) -> list[Audio]:
        made = sorted(set(self.plain.glob("*.wav")) - before)
        audios = [read_wav(path) for path in made]
        for path in made:
            path.unlink()
        return audios

    def archived(self, since: datetime) -> list[Audio]:
        rows = self.query("SELECT path FROM recordings WHERE state = 'stored' AND started_at >= %s", (since,))
        return [read_audio(Path(self.settings.archive.root) / row["path"]) for row in rows]


def table(cases: list[Case], seconds: int) -> str:
    lines = ["| N | recorder | Asterisk | service own | service children | total | vs MixMonitor "
             "| service own ms a call (idle part) | set-up p50 / p95 / worst (s) | complete from the join |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for calls in sorted({case.calls for case in cases}):
        baseline = statistics.mean(c.total for c in cases if c.calls == calls and c.recorder == "mixmonitor")
        for recorder in RECORDERS:
            mine = [c for c in cases if c.calls == calls and c.recorder == recorder]
            if not mine:
                continue
            lags = [lag for c in mine for lag in c.lags]
            lag = f"{percentile(lags, 0.5):.3f} / {percentile(lags, 0.95):.3f} / {max(lags):.3f}" if lags else "-"
            own = statistics.mean(c.own for c in mine)
            children = statistics.mean(c.children for c in mine)
            total = statistics.mean(c.total for c in mine)
            per_call = "-" if recorder == "mixmonitor" else \
                f"{1000 * statistics.mean(c.own_per_call for c in mine):.0f} " \
                f"({1000 * statistics.mean(c.idle_per_call for c in mine):.0f})"
            lines.append(f"| {calls} | {recorder} | {statistics.mean(c.asterisk for c in mine):.3f} | "
                         f"{own:.3f} | {children:.3f} | {total:.3f} | {total / baseline:.2f} | {per_call} | {lag} | "
                         f"{sum(c.complete for c in mine)}/{sum(c.recordings for c in mine)} "
                         f"(of {calls * len(mine)} calls) |")
    return "\n".join([f"CPU seconds per recorded call-minute, {seconds} s calls; means of the pairs.", *lines])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, nargs="+", default=[10, 50, 100, 200])
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--ramp", type=float, default=5.0, help="all N calls start within this many seconds")
    parser.add_argument("--pairs", type=int, default=2)
    parser.add_argument("--bridge", action="store_true", help="also asterisk-rec recording the bridge")
    parser.add_argument("--keep", type=Path, help="keep SIPp's error logs and the services' logs here")
    args = parser.parse_args()
    workdir = args.keep or Path(tempfile.mkdtemp(prefix="asterisk-rec-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    bench = Bench(args.seconds, args.ramp, workdir)
    cases = []
    with recording_alice(bench, "wav", keep=args.keep is not None):
        for calls in args.calls:
            for pair in range(args.pairs):
                # Interleaved: the box's noise (about 10 %) falls on both recorders alike.
                recorders = [r for r in RECORDERS if args.bridge or r != "asterisk-rec bridge"]
                order = recorders if pair % 2 == 0 else recorders[::-1]
                for recorder in order:
                    case = bench.run(calls, recorder, pair)
                    cases.append(case)
                    time.sleep(5)  # the last calls' ends settle in Asterisk
                    print(f"N={calls:<4} {recorder:<20} total {case.total:.3f} CPU-s/call-min "
                          f"(Asterisk {case.asterisk:.3f}, own {case.own:.3f}, children {case.children:.3f}; "
                          f"own {1000 * case.own_per_call:.0f} ms a call, {1000 * case.idle_per_call:.0f} idle), "
                          f"{case.complete}/{case.recordings} complete", flush=True)
    print(table(cases, args.seconds))


if __name__ == "__main__":
    main()
