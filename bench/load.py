"""Shared by the call benches: N concurrent SIPp calls alice-desk -> bob-desk through the lab (each phone
sending its own tone), the service started with chosen settings, CPU read from /proc, and what the
service wrote down read from PostgreSQL. Needs root and the lab up."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import psycopg
from psycopg.conninfo import make_conninfo
from psycopg.rows import dict_row

from asterisk_rec.config import Settings, load_settings
from asterisk_rec.lab import Lab, LabSettings
from asterisk_rec.testing.sipp import ALICE_DESK, BOB_DESK, SCENARIOS, ulaw_tone
from asterisk_rec.testing.tones import Audio, tone_coverage

CALLER_HZ, CALLEE_HZ = 700, 1300
R = TypeVar("R")
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_times(pid: int) -> tuple[float, float]:
    """``pid``'s own CPU seconds (utime + stime) and its children's it waited for (cutime + cstime: the
    service's ffmpeg and ffprobe)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS, (int(fields[13]) + int(fields[14])) / TICKS


def cpu_seconds(pid: int, children: bool = False) -> float:
    """utime + stime of ``pid``; with ``children``, also of its children it waited for."""
    own, waited = cpu_times(pid)
    return own + waited if children else own


@dataclass(frozen=True)
class CpuUse:
    asterisk: float
    service_own: float = 0.0
    service_children: float = 0.0

    @property
    def service(self) -> float:
        """The service with its children."""
        return self.service_own + self.service_children


class CallLoad:
    def __init__(self, seconds: int, workdir: Path) -> None:
        self.seconds = seconds
        self.workdir = workdir
        self.lab = Lab(LabSettings.from_environment())
        self.env_file = self.lab.settings.env_file
        self.settings: Settings = load_settings(env_file=self.env_file)
        self.caller_tone = ulaw_tone(workdir / "caller.ul", CALLER_HZ, seconds + 5)
        self.callee_tone = ulaw_tone(workdir / "callee.ul", CALLEE_HZ, seconds + 5)

    def cli(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "asterisk_rec", "--env-file", str(self.env_file), *args]

    def start_service(self, name: str, *settings: str) -> subprocess.Popen[bytes]:
        log = (self.workdir / f"service-{name}.log").open("w")
        sets = [arg for setting in settings for arg in ("--set", setting)]
        service = subprocess.Popen(self.cli(*sets, "serve"), stdout=log, stderr=subprocess.STDOUT)
        time.sleep(3)
        return service

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        db = self.settings.database
        conninfo = make_conninfo(host=db.host, port=db.port, dbname=db.name, user=db.user,
                                 password=db.password.reveal())
        with psycopg.connect(conninfo, row_factory=dict_row) as conn:
            return conn.execute(sql.encode(), params).fetchall()

    def place(self, calls: int, number: str, service: subprocess.Popen[bytes] | None, tag: str,
              scenario: Path = SCENARIOS / "caller.xml", ramp_seconds: float | None = None,
              settled: Callable[[], bool] | None = None) -> CpuUse:
        """``calls`` calls from Alice to ``number``, started at 5 a second (or all within ``ramp_seconds``,
        as a busy hour's burst), each ``seconds`` long (or as ``scenario`` says); returns the CPU Asterisk
        and the service (own, and its children's) used meanwhile, until ``settled`` says the service is
        done with them (its recordings archived; at most a minute) or 3 s after the last hangup."""
        asterisk = self.lab.services.status()["asterisk"]
        assert asterisk is not None, "the lab's Asterisk is not running"
        common = ["-i", "127.0.0.1", "-nostdin", "-timeout", f"{self.seconds + 120}s", "-m", str(calls),
                  "-trace_err"]
        answering = subprocess.Popen(
            ["sipp", "-sf", str(SCENARIOS / "answerer.xml"), "-p", str(BOB_DESK.sip_port), "-mp", "30000",
             "-d", "500", "-key", "stream", f"{self.callee_tone},-1,0", *common],
            cwd=self.workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.5)
        start_asterisk = cpu_seconds(asterisk)
        start_own, start_children = cpu_times(service.pid) if service else (0.0, 0.0)
        # -r calls per -rp milliseconds.
        rate = ["-r", "5"] if ramp_seconds is None else ["-r", str(calls), "-rp", str(round(ramp_seconds * 1000))]
        calling = subprocess.run(
            ["sipp", "-sf", str(scenario), "-p", str(ALICE_DESK.sip_port), "-mp", "40000",
             "-l", str(calls), *rate, "-d", str(self.seconds * 1000), "-key", "stream",
             f"{self.caller_tone},-1,0", "-key", "caller", "alice-desk", "-key", "test_id", tag,
             "-key", "trunk", "no", "-s", number, *common, "127.0.0.1:5060"],
            cwd=self.workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        answering.wait(60)
        if calling.returncode != 0:
            print(f"  (SIPp caller exit {calling.returncode} for {tag})", file=sys.stderr)
        deadline = time.monotonic() + 60
        time.sleep(3)  # recordings closing and being archived
        while settled is not None and not settled() and time.monotonic() < deadline:
            time.sleep(1)
        own, children = cpu_times(service.pid) if service else (start_own, start_children)
        return CpuUse(cpu_seconds(asterisk) - start_asterisk, own - start_own, children - start_children)

    def is_complete(self, audio: Audio) -> bool:
        """At least the call's length less a second, both tones in at least 98 % of the 100 ms windows."""
        return audio.seconds >= self.seconds - 1 and all(
            tone_coverage(audio, f) >= 0.98 for f in (CALLER_HZ, CALLEE_HZ))

    def set_alice(self, mode: str) -> None:
        subprocess.run(self.cli("recording", "set", "lab", "201", mode), check=True, capture_output=True)

    def set_archive_format(self, archive_format: str) -> None:
        subprocess.run(self.cli("org", "set", "lab", "--archive-format", archive_format), check=True,
                       capture_output=True)

    def lab_archive_format(self) -> str:
        return str(self.query("SELECT archive_format FROM organisations WHERE name = 'lab'")[0]["archive_format"])


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


@contextmanager
def recording_alice(load: CallLoad, archive_format: str | None, keep: bool, mode: str = "always") -> Iterator[None]:
    """For the run: Alice recorded (always, or as ``mode`` says), and the lab's archive format set (if
    given); afterwards both as they were, and the work directory removed unless kept."""
    load.set_alice(mode)
    before = load.lab_archive_format()
    if archive_format is not None:
        load.set_archive_format(archive_format)
    try:
        yield
    finally:
        load.set_alice("off")
        load.set_archive_format(before)
        if not keep:
            shutil.rmtree(load.workdir, ignore_errors=True)


def run_cases(calls: list[int], variants: list[str], run: Callable[[int, str], R],
              describe: Callable[[R], str]) -> list[R]:
    """Each N with each variant, in that order (variants of one N interleaved), with a pause between."""
    results = []
    for count in calls:
        for variant in variants:
            result = run(count, variant)
            results.append(result)
            print(f"N={count:<4} {variant:<10} {describe(result)}", file=sys.stderr)
            time.sleep(5)
    return results
