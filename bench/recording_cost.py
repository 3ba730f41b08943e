"""What recording costs: N concurrent SIPp calls (alice-desk -> bob-desk, each phone sending its own tone)
recorded by the app (a snoop of the caller, or the bridge itself) beside the same calls recorded by a
plain dialplan MixMonitor (what FreePBX does), in the same run, interleaved.

Reported per case: Asterisk + service CPU seconds per minute of recording made (SIPp's own CPU is not
counted), its ratio to MixMonitor's in the same round, and the share of recordings complete (at least
the call's length less a second, both tones in at least 98 % of the 100 ms windows).

    sudo .venv/bin/python bench/recording_cost.py --calls 10 50 100 --seconds 60

Needs root and the lab up; stops a running demo service for the duration (one app instance at a time).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from asterisk_rec.lab import Lab, LabSettings
from asterisk_rec.testing.sipp import ALICE_DESK, BOB_DESK, SCENARIOS, ulaw_tone
from asterisk_rec.testing.tones import Audio, read_wav, tone_coverage

CALLER_HZ, CALLEE_HZ = 700, 1300
TICKS = os.sysconf("SC_CLK_TCK")
METHODS = ("mixmonitor", "snoop", "bridge")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime


@dataclass
class Result:
    calls: int
    method: str
    cpu_per_call_minute: float
    service_share: float  # of that CPU, the service's part
    complete: int
    recordings: int


class Bench:
    def __init__(self, seconds: int, workdir: Path) -> None:
        self.seconds = seconds
        self.workdir = workdir
        self.lab = Lab(LabSettings.from_environment())
        self.spool = self.lab.rootfs.inside("/var/spool/asterisk/recording")
        self.env_file = str(self.lab.settings.env_file)
        self.caller_tone = ulaw_tone(workdir / "caller.ul", CALLER_HZ, seconds + 5)
        self.callee_tone = ulaw_tone(workdir / "callee.ul", CALLEE_HZ, seconds + 5)

    def cli(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "asterisk_rec", "--env-file", self.env_file, *args]

    def recordings(self) -> set[Path]:
        return {p for p in self.spool.rglob("*.wav")} if self.spool.exists() else set()

    def run(self, calls: int, method: str) -> Result:
        service = None
        if method != "mixmonitor":
            log = (self.workdir / f"service-{method}-{calls}.log").open("w")
            service = subprocess.Popen(self.cli("--set", f"calls.recording_method={method}", "serve"),
                                       stdout=log, stderr=subprocess.STDOUT)
            time.sleep(3)
        asterisk = self.lab.services.status()["asterisk"]
        assert asterisk is not None, "the lab's Asterisk is not running"
        before = self.recordings()
        number = "8202" if method == "mixmonitor" else "202"
        common = ["-i", "127.0.0.1", "-nostdin", "-timeout", f"{self.seconds + 120}s", "-m", str(calls),
                  "-trace_err"]
        answering = subprocess.Popen(
            ["sipp", "-sf", str(SCENARIOS / "answerer.xml"), "-p", str(BOB_DESK.sip_port), "-mp", "30000",
             "-d", "500", "-key", "stream", f"{self.callee_tone},-1,0", *common],
            cwd=self.workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.5)
        start_asterisk, start_service = cpu_seconds(asterisk), cpu_seconds(service.pid) if service else 0.0
        calling = subprocess.run(
            ["sipp", "-sf", str(SCENARIOS / "caller.xml"), "-p", str(ALICE_DESK.sip_port), "-mp", "40000",
             "-l", str(calls), "-r", "5", "-d", str(self.seconds * 1000), "-key", "stream",
             f"{self.caller_tone},-1,0", "-key", "caller", "alice-desk", "-key", "test_id", f"bench-{calls}",
             "-key", "trunk", "no", "-s", number, *common, "127.0.0.1:5060"],
            cwd=self.workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        answering.wait(60)
        time.sleep(3)  # recordings closing
        used_service = cpu_seconds(service.pid) - start_service if service else 0.0
        used = cpu_seconds(asterisk) - start_asterisk + used_service
        if service is not None:
            service.terminate()
            service.wait(15)
        if calling.returncode != 0:
            print(f"  (SIPp caller exit {calling.returncode} for {method} at N={calls})", file=sys.stderr)
        made = sorted(self.recordings() - before)
        audios = [read_wav(path) for path in made]
        complete = sum(1 for audio in audios if self.is_complete(audio))
        recorded_minutes = sum(audio.seconds for audio in audios) / 60
        for path in made:
            path.unlink()
        # Per minute actually recorded: calls lost under load must not make a case look cheaper.
        return Result(calls, method, used / max(recorded_minutes, 1e-9), used_service / max(used, 1e-9), complete,
                      len(made))

    def is_complete(self, audio: Audio) -> bool:
        return audio.seconds >= self.seconds - 1 and all(
            tone_coverage(audio, f) >= 0.98 for f in (CALLER_HZ, CALLEE_HZ))


def set_alice(mode: str, bench: Bench) -> None:
    subprocess.run(bench.cli("recording", "set", "lab", "201", mode), check=True, capture_output=True)


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
    subprocess.run(bench.cli("lab", "seed"), check=True, capture_output=True)
    set_alice("always", bench)
    results: list[Result] = []
    try:
        for calls in args.calls:
            for method in ["mixmonitor", *(m for m in args.methods if m != "mixmonitor")]:
                result = bench.run(calls, method)
                results.append(result)
                print(f"N={calls:<4} {method:<10} {result.cpu_per_call_minute:.3f} CPU-s/call-min, "
                      f"{result.complete}/{result.recordings} complete", file=sys.stderr)
                time.sleep(5)
    finally:
        set_alice("off", bench)
        if args.keep is None:
            shutil.rmtree(workdir, ignore_errors=True)
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
