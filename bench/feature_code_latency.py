"""From the feature code's last digit to the recording running: N concurrent calls alice-desk -> bob-desk
(SIPp; Bob sends a tone, Alice only RFC 2833 digits) in which Alice dials *1 two seconds after the
answer. Side by side in the same run, the
same calls through asterisk-rec (Alice recorded on demand) and through plain Asterisk with its own
one-touch recording (automixmon on *1, Dial's X option: the lab's 7 + extension), the baseline; and
asterisk-rec again while the portal it serves is hammered with logins (``--logins-per-second``, 20 by
default: each a real login through the form, its argon2 check included), so a burst of logins can be
seen not to delay call control.

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
import re
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx

from asterisk_rec.adapters.ami import AmiConnection
from asterisk_rec.config import AmiSettings
from asterisk_rec.testing.sipp import codes_scenario
from bench.load import CallLoad, percentile, recording_alice, run_cases

CODE_AT_MS = 2000
CODE = "*1,150"  # as the on-demand tests dial it: each digit 150 ms
LOGINS = "asterisk-rec + logins"
LOGINS_APART = "asterisk-rec + logins, portal apart"
VARIANTS = ("automixmon", "asterisk-rec", LOGINS, LOGINS_APART)
NUMBERS = {"automixmon": "7202", "asterisk-rec": "202", LOGINS: "202", LOGINS_APART: "202"}
PORTAL = "http://127.0.0.1:8080"
BENCH_ACCOUNT = "bench-logins@bench.example"
BENCH_PASSWORD = "bench password, not a secret"

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


class LoginHammer:
    """Logs in through the portal's form ``per_second`` times a second, in a thread, until stopped."""

    def __init__(self, per_second: float) -> None:
        self.per_second = per_second
        self.done = 0
        self.failed = 0
        self.seconds = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._hammer, daemon=True)

    def _hammer(self) -> None:
        started = time.monotonic()
        with httpx.Client(base_url=PORTAL, timeout=10) as client:
            while not self._stop.is_set():
                client.cookies.clear()
                form = client.get("/login").text
                token = re.search(r'name="csrf_token" value="([^"]+)"', form)
                answer = client.post("/login", data={"csrf_token": token[1] if token else "", "email": BENCH_ACCOUNT,
                                                     "password": BENCH_PASSWORD})
                if answer.status_code == 303:
                    self.done += 1
                else:
                    self.failed += 1
                due = started + (self.done + self.failed) / self.per_second
                self._stop.wait(max(0.0, due - time.monotonic()))
        self.seconds = time.monotonic() - started

    def __enter__(self) -> LoginHammer:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join(15)


@dataclass
class Result:
    calls: int
    variant: str
    p50: float
    p95: float
    worst: float
    started: int
    logins_per_second: float = 0.0


class Bench(CallLoad):
    logins_per_second = 20.0

    def bench_account(self) -> None:
        """An admin account of the lab for the login burst (its password set anew each run)."""
        for action in (["add", "lab", BENCH_ACCOUNT, "Bench logins", "--role", "admin", "--language", "en"],
                       ["password", BENCH_ACCOUNT]):
            done = subprocess.run(self.cli("account", *action), input=BENCH_PASSWORD + "\n", text=True,
                                  capture_output=True, check=False)
            if done.returncode == 0:
                return

    def run(self, calls: int, variant: str) -> Result:
        tag = re.sub(r"[^a-z0-9-]+", "", f"{variant}-{calls}")
        apart = variant == LOGINS_APART
        service = None
        if variant != "automixmon":
            service = self.start_service(tag, *(["web.enabled=false"] if apart else []))
        portal = None
        if apart:
            portal = subprocess.Popen(self.cli("web"), stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
            time.sleep(3)
        since = datetime.now(UTC).replace(microsecond=0)
        # Alice sends digits only (see codes_scenario); Bob his tone.
        scenario = codes_scenario(self.workdir / f"{variant}-{calls}", self.seconds * 1000, [(CODE_AT_MS, CODE)],
                                  talk=False)
        hammer = LoginHammer(self.logins_per_second)
        try:
            with AmiWatch(self.settings.ami, ("DTMFEnd", "MixMonitorStart")) as watch:
                if variant in (LOGINS, LOGINS_APART):
                    with hammer:
                        self.place(calls, NUMBERS[variant], service, f"code-logins-{calls}", scenario)
                else:
                    self.place(calls, NUMBERS[variant], service, f"code-{variant}-{calls}", scenario)
                time.sleep(1)
        finally:
            for process in (service, portal):
                if process is not None:
                    process.terminate()
                    process.wait(15)
        ends = code_ends(watch.events)
        if variant != "automixmon":
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
                      len(latencies), hammer.done / hammer.seconds if hammer.seconds else 0.0)

    def remove_automixmon_files(self) -> None:
        monitor = self.lab.rootfs.path / "var/spool/asterisk/monitor"
        for path in monitor.glob("lab-automixmon-*"):
            path.unlink(missing_ok=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, nargs="+", default=[10, 50])
    parser.add_argument("--seconds", type=int, default=6, help="each call's length once answered")
    parser.add_argument("--keep", type=Path, help="keep SIPp's error logs and the service's logs here")
    parser.add_argument("--logins-per-second", type=float, default=20.0)
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS)
    args = parser.parse_args()
    workdir = args.keep or Path(tempfile.mkdtemp(prefix="asterisk-rec-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    bench = Bench(args.seconds, workdir)
    bench.logins_per_second = args.logins_per_second
    bench.bench_account()
    with recording_alice(bench, None, keep=args.keep is not None, mode="on_demand"):
        results = run_cases(args.calls, args.variants, bench.run,
                            lambda r: f"p50 {r.p50 * 1000:.1f} ms, p95 {r.p95 * 1000:.1f} ms, "
                                      f"{r.started}/{r.calls} started")
    print("| N concurrent calls | recording started by | last digit to recording running, p50 | p95 | worst "
          "| recordings started / calls | logins a second meanwhile |")
    print("|---|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r.calls} | {r.variant} | {r.p50 * 1000:.1f} ms | {r.p95 * 1000:.1f} ms | "
              f"{r.worst * 1000:.1f} ms | {r.started} / {r.calls} | {r.logins_per_second:.1f} |")


if __name__ == "__main__":
    main()
