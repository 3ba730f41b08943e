"""What observability costs the service: the same bursts of N recorded calls (alice-desk -> bob-desk, all
within ``--ramp`` seconds, ``--seconds`` long) with the service's logs as JSON and /metrics scraped every
``--scrape`` seconds (as Prometheus would, more often than its usual 15 s), against text logs and nobody
scraping, in ``--pairs`` interleaved pairs; the service's CPU (its own and its children's) per recorded
call-minute, means reported, and the difference as a share of the quiet service's own CPU (the bar: under
3 %). The scraper runs in this process: its CPU is not the service's.

Each service is measured from the moment it is ready (``/readyz``) and idle, so its start-up (imports, the
directory loaded, the spool looked through) stays out of the calls' CPU. The difference of two runs is
within this box's noise (about 10 %) when the cost is a few per cent, so the bench also measures the two
parts the observed service adds, each on its own and far above the clock's resolution: the CPU of one
scrape in the live service (a few hundred back to back once its calls are done, less the idle service's
CPU over as long), and what a line costs the JSON formatter more than the text one (in this process, on
lines like the service's); with the scrapes and the log lines the observed runs had, they give the cost
the observed runs should show, as a share of the quiet runs' CPU.

    sudo .venv/bin/python -m bench.observability_cost --calls 50 --seconds 30 --pairs 3

Needs root and the lab up; stop the demo's service first (`./run stop`).
"""

from __future__ import annotations

import argparse
import logging
import statistics
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx

from asterisk_rec.logs import TEXT_FORMAT, JsonFormatter, TextFormatter
from bench.load import CallLoad, cpu_times, recording_alice

VARIANTS: dict[str, tuple[str, ...]] = {
    "quiet": ("service.log_format=text",),
    "observed": ("service.log_format=json",),
}


@dataclass
class Case:
    calls: int
    variant: str
    pair: int
    own: float  # CPU seconds per recorded call-minute
    children: float
    recordings: int
    scrapes: int
    log_lines: int
    minutes: float  # recorded call-minutes
    scrape_cpu: float | None = None  # CPU seconds of one scrape in the live service (observed only)


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


def scrape_cpu(url: str, pid: int, scrapes: int = 300) -> float:
    """The CPU seconds one scrape costs the idle service at ``pid``: ``scrapes`` back to back, less what
    the idle service used over as long."""
    with httpx.Client(timeout=5) as client:
        client.get(url).raise_for_status()
        began, (own_before, _) = time.monotonic(), cpu_times(pid)
        for _ in range(scrapes):
            client.get(url).raise_for_status()
        took, (own_scraped, _) = time.monotonic() - began, cpu_times(pid)
    time.sleep(took)
    idle = cpu_times(pid)[0] - own_scraped
    return max(0.0, own_scraped - own_before - idle) / scrapes


def json_extra_per_line(lines: int = 20000) -> float:
    """The CPU seconds a line costs the JSON formatter more than the text one, on a line like the
    service's about a call (a message with arguments, the call's ids)."""
    record = logging.LogRecord("asterisk_rec.callflow.flow", logging.INFO, __file__, 1,
                               "call %s answered by %s after %d ms", ("1f2e3d4c-5b6a", "PJSIP/bob-desk-0000002a",
                                                                      1234), None)
    record.call_id, record.organisation_id = "1f2e3d4c-5b6a", 3
    took = {}
    for formatter in (TextFormatter(TEXT_FORMAT), JsonFormatter()):
        began = time.process_time()
        for _ in range(lines):
            record.message = ""
            formatter.format(record)
        took[type(formatter)] = (time.process_time() - began) / lines
    return took[JsonFormatter] - took[TextFormatter]


def lines_in(path: Path) -> int:
    with path.open("rb") as log:
        return sum(1 for _ in log)


class Bench(CallLoad):
    def __init__(self, seconds: int, ramp: float, scrape_every: float, workdir: Path) -> None:
        super().__init__(seconds, workdir)
        self.ramp = ramp
        self.scrape_every = scrape_every

    def run(self, calls: int, variant: str, pair: int) -> Case:
        name = f"{variant}-{calls}-{pair}"
        service = self.start_service(name, *VARIANTS[variant])
        log_file = self.workdir / f"service-{name}.log"
        self.wait_ready(service.pid)
        since = datetime.now(UTC).replace(microsecond=0)
        lines_before = lines_in(log_file)

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
            log_lines = lines_in(log_file) - lines_before
            per_scrape = scrape_cpu(url, service.pid) if variant == "observed" else None
        finally:
            service.terminate()
            service.wait(15)
        seconds = self.query("SELECT COALESCE(sum(duration_seconds), 0) AS s, count(*) AS n FROM recordings"
                             " WHERE state = 'stored' AND started_at >= %s", (since,))[0]
        minutes = max(float(seconds["s"]) / 60, 1e-9)
        return Case(calls, variant, pair, used.service_own / minutes, used.service_children / minutes, seconds["n"],
                    scraper.scrapes, log_lines, minutes, per_scrape)

    def wait_ready(self, pid: int, within: float = 60) -> None:
        """Until the service answers /readyz with 200 and then uses no CPU for a second (its start-up
        done), at most ``within`` seconds."""
        url = f"http://127.0.0.1:{self.settings.web.port}/readyz"
        deadline = time.monotonic() + within
        with httpx.Client(timeout=2) as client:
            while time.monotonic() < deadline:
                try:
                    if client.get(url).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.5)
            else:
                raise RuntimeError(f"the service was not ready within {within:g} s")
        used = cpu_times(pid)[0]
        while time.monotonic() < deadline:
            time.sleep(1)
            now = cpu_times(pid)[0]
            if now - used <= 0.03:  # the idle service's ticks (uvicorn's, the lease's) are about this
                return
            used = now
        raise RuntimeError(f"the service did not settle within {within:g} s")


def attribution(cases: list[Case], per_line: float) -> str:
    """What the observed runs should cost more, from their parts measured alone."""
    observed = [c for c in cases if c.variant == "observed"]
    quiet = [c for c in cases if c.variant == "quiet"]
    per_scrape = statistics.mean(c.scrape_cpu or 0.0 for c in observed)
    quiet_own = statistics.mean(c.own for c in quiet)
    extra = statistics.mean((c.scrapes * per_scrape + c.log_lines * per_line) / c.minutes for c in observed)
    quiet_of = {(c.calls, c.pair): c for c in quiet}
    pairs = ", ".join(f"{100 * (o.own - quiet_of[o.calls, o.pair].own) / quiet_of[o.calls, o.pair].own:+.1f} %"
                      for o in observed)
    return (f"One scrape costs the live service {1000 * per_scrape:.2f} ms of CPU; a JSON line costs "
            f"{1e6 * per_line:.1f} us more than a text one; the observed runs made "
            f"{statistics.mean(c.scrapes for c in observed):.0f} scrapes and "
            f"{statistics.mean(c.log_lines for c in observed):.0f} log lines each: "
            f"{extra:.5f} CPU-s per call-minute, {100 * extra / quiet_own:+.1f} % of the quiet service's own "
            f"CPU. Measured end to end, the pairs: {pairs}.")


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
                          f"CPU-s/call-min, {case.recordings} recordings, {case.scrapes} scrapes, "
                          f"{case.log_lines} log lines"
                          + (f", {1000 * case.scrape_cpu:.2f} ms a scrape" if case.scrape_cpu is not None else ""),
                          flush=True)
    print(table(cases, args.seconds, args.scrape))
    print(attribution(cases, json_extra_per_line()))


if __name__ == "__main__":
    main()
