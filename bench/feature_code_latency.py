"""From the feature code's last digit to the recording running: N concurrent calls alice-desk -> bob-desk
(SIPp; Bob sends a tone, Alice only RFC 2833 digits) in which Alice dials *1 two seconds after the
answer. Side by side in the same run, the
same calls through asterisk-rec (Alice recorded on demand) and through plain Asterisk with its own
one-touch recording (automixmon on *1, Dial's X option: the lab's 7 + extension), the baseline.

Per call, from Asterisk's time of the code's last digit ending on Alice's channel (AMI DTMFEnd, with
`timestampevents`), to
- asterisk-rec: the start of the recording's first part, taken by the app when Asterisk's
  RecordingStarted reaches it (so the event's delivery is counted against us);
- automixmon: Asterisk's MixMonitorStart.

    sudo .venv/bin/python -m bench.feature_code_latency --calls 10 50

Needs root and the lab up; stop the demo's service first (`./run stop`): one app instance at a time.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from asterisk_rec.adapters.ami import AmiConnection
from asterisk_rec.config import AmiSettings
from asterisk_rec.testing.sipp import codes_scenario
from bench.load import CallLoad, percentile, recording_alice, run_cases

CODE_AT_MS = 2000
CODE = "*1,150"  # as the on-demand tests dial it: each digit 150 ms
VARIANTS = ("automixmon", "asterisk-rec")
NUMBERS = {"automixmon": "7202", "asterisk-rec": "202"}

# When the app saw each recording of the run start, by the call's LinkedID.
APP_STARTS_SQL = """
SELECT c.linked_id, (r.parts -> 0 ->> 0)::timestamptz AS running
FROM recordings r JOIN calls c ON c.call_id = r.call_id
WHERE r.started_at >= %s AND jsonb_array_length(r.parts) > 0
"""


class AmiWatch:
    """The AMI events a run needs, collected by a connection of its own in a background thread."""

    def __init__(self, settings: AmiSettings, names: tuple[str, ...]) -> None:
        self.events: list[dict[str, str]] = []
        self._settings = settings
        self._names = names
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=lambda: asyncio.run(self._watch()), daemon=True)

    async def _watch(self) -> None:
        self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        async with AmiConnection(self._settings) as ami:
            for name in self._names:
                ami.on_event(name, lambda _manager, event: self.events.append(dict(event)))
            self._ready.set()
            await self._stop.wait()

    def __enter__(self) -> AmiWatch:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("could not log in to AMI")
        return self

    def __exit__(self, *_exc: object) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)


def code_ends(events: list[dict[str, str]]) -> dict[str, float]:
    """Per LinkedID, when the code's last digit first ended on Alice's desk phone (a press may be reported
    ending more than once: the first report is the one anyone acts on)."""
    ends: dict[str, float] = {}
    star_seen: set[str] = set()
    for event in sorted(events, key=lambda e: float(e["Timestamp"])):
        if (event.get("Event") != "DTMFEnd" or event.get("Direction") != "Received"
                or not event.get("Channel", "").startswith("PJSIP/alice-desk-")):
            continue
        linked = event["Linkedid"]
        if event["Digit"] == "*":
            star_seen.add(linked)
        elif event["Digit"] == "1" and linked in star_seen:
            ends.setdefault(linked, float(event["Timestamp"]))
    return ends


@dataclass
class Result:
    calls: int
    variant: str
    p50: float
    p95: float
    worst: float
    started: int


class Bench(CallLoad):
    def run(self, calls: int, variant: str) -> Result:
        service = self.start_service(f"{variant}-{calls}") if variant == "asterisk-rec" else None
        since = datetime.now(UTC).replace(microsecond=0)
        # Alice sends digits only (see codes_scenario); Bob his tone.
        scenario = codes_scenario(self.workdir / f"{variant}-{calls}", self.seconds * 1000, [(CODE_AT_MS, CODE)],
                                  talk=False)
        try:
            with AmiWatch(self.settings.ami, ("DTMFEnd", "MixMonitorStart")) as watch:
                self.place(calls, NUMBERS[variant], service, f"code-{variant}-{calls}", scenario)
                time.sleep(1)
        finally:
            if service is not None:
                service.terminate()
                service.wait(15)
        ends = code_ends(watch.events)
        if variant == "asterisk-rec":
            running = {row["linked_id"]: row["running"].timestamp() for row in self.query(APP_STARTS_SQL, (since,))}
        else:
            running = {}
            for event in watch.events:
                if event.get("Event") == "MixMonitorStart":
                    running.setdefault(event["Linkedid"], float(event["Timestamp"]))
            self.remove_automixmon_files()
        latencies = [running[linked] - ended for linked, ended in ends.items() if linked in running]
        return Result(calls, variant, percentile(latencies, 0.5) if latencies else float("nan"),
                      percentile(latencies, 0.95) if latencies else float("nan"), max(latencies, default=0.0),
                      len(latencies))

    def remove_automixmon_files(self) -> None:
        monitor = self.lab.rootfs.path / "var/spool/asterisk/monitor"
        for path in monitor.glob("lab-automixmon-*"):
            path.unlink(missing_ok=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, nargs="+", default=[10, 50])
    parser.add_argument("--seconds", type=int, default=6, help="each call's length once answered")
    parser.add_argument("--keep", type=Path, help="keep SIPp's error logs and the service's logs here")
    args = parser.parse_args()
    workdir = args.keep or Path(tempfile.mkdtemp(prefix="asterisk-rec-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    bench = Bench(args.seconds, workdir)
    with recording_alice(bench, None, keep=args.keep is not None, mode="on_demand"):
        results = run_cases(args.calls, list(VARIANTS), bench.run,
                            lambda r: f"p50 {r.p50 * 1000:.1f} ms, p95 {r.p95 * 1000:.1f} ms, "
                                      f"{r.started}/{r.calls} started")
    print("| N concurrent calls | recording started by | last digit to recording running, p50 | p95 | worst "
          "| recordings started / calls |")
    print("|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r.calls} | {r.variant} | {r.p50 * 1000:.1f} ms | {r.p95 * 1000:.1f} ms | "
              f"{r.worst * 1000:.1f} ms | {r.started} / {r.calls} |")


if __name__ == "__main__":
    main()
