"""How fast a standby takes over: two instances of the service for the lab's Asterisk (standby enabled,
each with its own journal, as on two machines); ``--kills`` times the active one is killed (-9) while
``--calls`` recorded calls talk, and the time from the kill to the other's Stasis app registered (its
"asterisk-rec is running" line, after it adopted the calls) is taken; the killed one is started again as
the standby. Median and worst reported, and whether every call's recording came out complete.

    sudo .venv/bin/python -m bench.takeover --kills 10 --calls 10

Needs root and the lab up; stop the demo's service first (`./run stop`).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from asterisk_rec.testing.tones import read_audio
from bench.load import CallLoad, recording_alice

RUNNING = "asterisk-rec is running"
STANDBY = "standby for node 'main': main@"


class Instance:
    def __init__(self, load: CallLoad, name: str) -> None:
        self.load, self.name = load, name
        self.log = load.workdir / f"service-{name}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, ready: str) -> None:
        offset = self.size()
        settings = ["standby.enabled=true", f"service.journal={self.load.workdir / f'{self.name}.sqlite3'}"]
        sets = [arg for setting in settings for arg in ("--set", setting)]
        with self.log.open("a") as log:
            self.process = subprocess.Popen(self.load.cli(*sets, "serve"), stdout=log, stderr=subprocess.STDOUT)
        self.wait_for(ready, offset, within=30)

    def size(self) -> int:
        return len(self.log.read_text()) if self.log.exists() else 0

    def wait_for(self, text: str, offset: int, within: float) -> float:
        deadline = time.monotonic() + within
        while text not in self.log.read_text()[offset:]:
            if time.monotonic() > deadline:
                raise SystemExit(f"{self.name} never logged {text!r}; see {self.log}")
            time.sleep(0.01)
        return time.monotonic()

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait(15)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(15)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--calls", type=int, default=10)
    parser.add_argument("--every", type=float, default=6.0, help="seconds between kills")
    parser.add_argument("--keep", type=Path, help="keep the work directory here")
    args = parser.parse_args()
    workdir = args.keep or Path(tempfile.mkdtemp(prefix="takeover-"))
    workdir.mkdir(parents=True, exist_ok=True)
    # The calls outlast every kill and restart.
    seconds = round(args.kills * (args.every + 4) + 15)
    load = CallLoad(seconds, workdir)
    takeovers: list[float] = []
    with recording_alice(load, None, keep=args.keep is not None):
        active, standby = Instance(load, "a"), Instance(load, "b")
        active.start(RUNNING)
        standby.start(STANDBY)
        before = load.query("SELECT coalesce(max(id), 0) AS id FROM recordings")[0]["id"]
        placing = threading.Thread(target=load.place, args=(args.calls, "202", None, "takeover"),
                                   kwargs={"ramp_seconds": 2.0})
        placing.start()
        try:
            time.sleep(8)
            for round_ in range(args.kills):
                offset = standby.size()
                killed = time.monotonic()
                active.kill()
                took = standby.wait_for(RUNNING, offset, within=30) - killed
                takeovers.append(took)
                print(f"kill {round_ + 1}: taken over in {took:.2f} s", file=sys.stderr)
                active.start(STANDBY)
                active, standby = standby, active
                time.sleep(max(0.0, args.every - took))
            placing.join(seconds + 180)
            time.sleep(5)
        finally:
            active.stop()
            standby.stop()
        rows = load.query("SELECT path FROM recordings WHERE id > %s AND state = 'stored'", (before,))
        complete = sum(load.is_complete(read_audio(Path(load.settings.archive.root) / row["path"])) for row in rows)
    print(f"takeover over {len(takeovers)} kills: median {statistics.median(takeovers):.2f} s, "
          f"worst {max(takeovers):.2f} s; {complete} of {args.calls} recordings complete "
          f"({len(rows)} stored)")


if __name__ == "__main__":
    main()
