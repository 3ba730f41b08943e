"""What observability costs the service: the same bursts of N recorded calls (alice-desk -> bob-desk, all
within ``--ramp`` seconds, ``--seconds`` long) with the service's logs as JSON and /metrics scraped every
``--scrape`` seconds (as Prometheus would, more often than its usual 15 s), against text logs and nobody
scraping, in ``--pairs`` interleaved pairs; the service's CPU (its own and its children's) per recorded
call-minute, means reported, and the difference as a share of the quiet service's own CPU (the bar: under
3 %). The scraper runs in this process: its CPU is not the service's.

    sudo .venv/bin/python -m bench.observability_cost --calls 50 --seconds 30 --pairs 3

Needs root and the lab up; stop the demo's service first (`./run stop`).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx

from bench.load import CallLoad, recording_alice

VARIANTS: dict[str, tuple[str, ...]] = {
    "quiet": ("service.log_format=text",),
    "observed": ("service.log_format=json",),
}


@dataclass
class Case:
    calls: int
    variant: str
    own: float  # CPU seconds per recorded call-minute
    children: float
    recordings: int
    scrapes: int


class Scraper:
    """GET /metrics every ``every`` seconds in a thread, until stopped."""

    def __init__(self, url: str, every: float) -> None:
        self.url, self.every = url, every
        self.done = threading.Event()
        self.scrapes = 0
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with httpx.Client(timeout=5) as client:
            while not self.done.wait(self.every):
                answer = client.get(self.url)
                answer.raise_for_status()
                self.scrapes += 1

    def __enter__(self) -> Scraper:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.done.set()
        self.thread.join(10)


class Bench(CallLoad):
    def __init__(self, seconds: int, ramp: float, scrape_every: float, workdir: Path) -> None:
        super().__init__(seconds, workdir)
        self.ramp = ramp
        self.scrape_every = scrape_every

    def run(self, calls: int, variant: str, pair: int) -> Case:
        service = self.start_service(f"{variant}-{calls}-{pair}", *VARIANTS[variant])
        since = datetime.now(UTC).replace(microsecond=0)

        def archived() -> bool:
            return len(self.query("SELECT 1 FROM recordings WHERE started_at >= %s AND state = 'stored'",
                                  (since,))) >= calls

        url = f"http://127.0.0.1:{self.settings.web.port}/metrics"
        scraper = Scraper(url, self.scrape_every)
        try:
            if variant == "observed":
                with scraper:
                    used = self.place(calls, "202", service, f"obs-{calls}-{pair}", ramp_seconds=self.ramp,
                                      settled=archived)
            else:
                used = self.place(calls, "202", service, f"obs-{calls}-{pair}", ramp_seconds=self.ramp,
                                  settled=archived)
        finally:
            service.terminate()
            service.wait(15)
        seconds = self.query("SELECT COALESCE(sum(duration_seconds), 0) AS s, count(*) AS n FROM recordings"
                             " WHERE state = 'stored' AND started_at >= %s", (since,))[0]
        minutes = max(float(seconds["s"]) / 60, 1e-9)
        return Case(calls, variant, used.service_own / minutes, used.service_children / minutes, seconds["n"],
                    scraper.scrapes)


def table(cases: list[Case], seconds: int, scrape_every: float) -> str:
    lines = [f"Service CPU seconds per recorded call-minute, {seconds} s calls, /metrics scraped every "
             f"{scrape_every:g} s when observed; means of the pairs.",
             "| N | variant | service own | children | recordings | scrapes | own vs quiet |",
             "|---|---|---|---|---|---|---|"]
    for calls in sorted({case.calls for case in cases}):
        quiet = statistics.mean(c.own for c in cases if c.calls == calls and c.variant == "quiet")
        for variant in VARIANTS:
            mine = [c for c in cases if c.calls == calls and c.variant == variant]
            own = statistics.mean(c.own for c in mine)
            lines.append(f"| {calls} | {variant} | {own:.4f} | {statistics.mean(c.children for c in mine):.4f} | "
                         f"{sum(c.recordings for c in mine)} | {sum(c.scrapes for c in mine)} | "
                         f"{100 * (own - quiet) / quiet:+.1f} % |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, nargs="+", default=[50])
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--ramp", type=float, default=5.0)
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--scrape", type=float, default=5.0, help="seconds between two scrapes of /metrics")
    parser.add_argument("--keep", type=Path, help="keep the services' logs here")
    args = parser.parse_args()
    workdir = args.keep or Path(tempfile.mkdtemp(prefix="asterisk-rec-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    bench = Bench(args.seconds, args.ramp, args.scrape, workdir)
    cases = []
    with recording_alice(bench, "wav", keep=args.keep is not None):
        for calls in args.calls:
            for pair in range(args.pairs):
                # Interleaved: the box's noise (about 10 %) falls on both alike.
                for variant in (list(VARIANTS) if pair % 2 == 0 else list(VARIANTS)[::-1]):
                    case = bench.run(calls, variant, pair)
                    cases.append(case)
                    time.sleep(5)
                    print(f"N={calls:<4} {variant:<9} own {case.own:.4f} children {case.children:.4f} "
                          f"CPU-s/call-min, {case.recordings} recordings, {case.scrapes} scrapes", flush=True)
    print(table(cases, args.seconds, args.scrape))


if __name__ == "__main__":
    main()
