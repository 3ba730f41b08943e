"""Where the service's own CPU goes during a burst of recorded calls: py-spy samples the service's Python
(not its children) while a burst like bench.recording_cost's runs (alice-desk -> bob-desk, Alice recorded,
archive format WAV), then prints the code by its share of the samples: inclusive (on the stack) and self
(at its top), grouped by module, and keeps py-spy's collapsed stacks (a flame graph's input).

    sudo .venv/bin/python -m bench.profile_service --calls 50 --seconds 30 --keep /tmp/profile

Needs root, the lab up and py-spy (`.venv/bin/pip install py-spy`); one app instance at a time.
"""

from __future__ import annotations

import argparse
import collections
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.load import recording_alice
from bench.recording_cost import Bench

# py-spy's raw format: "frame;frame;...;frame count", each frame "function (path:line)".
_FRAME = re.compile(r"^(?P<function>.*?) \((?P<path>[^:]*)(?::\d+)?\)$")


def py_spy() -> str:
    """py-spy from the project's virtual environment, else from the PATH."""
    beside = Path(sys.executable).parent / "py-spy"
    return str(beside) if beside.exists() else "py-spy"


def module_of(path: str) -> str:
    """``asterisk_rec.callflow.ringing``, ``asyncari``, ``httpx``, ``asyncio``..., from a frame's file
    (py-spy gives it from the package on: ``asyncari/model.py``)."""
    parts = Path(path).with_suffix("").parts
    if not parts or parts[0].startswith("<"):
        return "<python>"
    if parts[0] == "asterisk_rec":
        return ".".join(parts[:3])
    return parts[0]


# A thread waiting (py-spy may still sample it): the event loop's select, a worker thread's queue.
IDLE = ("EpollSelector.select", "Condition.wait", "Queue.get")


def shares(collapsed: Path) -> tuple[int, collections.Counter[str], collections.Counter[str]]:
    """Busy samples in all (waiting ones left out); per module, the samples it is on the stack in (once
    each) and at the top of."""
    total = 0
    inclusive: collections.Counter[str] = collections.Counter()
    top: collections.Counter[str] = collections.Counter()
    for line in collapsed.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        samples = int(count)
        if stack.rsplit(";", 1)[-1].split(" (")[0] in IDLE:
            continue
        total += samples
        modules = []
        for frame in stack.split(";"):
            match = _FRAME.match(frame)
            modules.append(module_of(match["path"]) if match else "<python>")
        for module in set(modules):
            inclusive[module] += samples
        if modules:
            top[modules[-1]] += samples
    return total, inclusive, top


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=50)
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--ramp", type=float, default=5.0)
    parser.add_argument("--keep", type=Path)
    args = parser.parse_args()
    workdir = args.keep or Path(tempfile.mkdtemp(prefix="asterisk-rec-profile-"))
    workdir.mkdir(parents=True, exist_ok=True)
    bench = Bench(args.seconds, args.ramp, workdir)
    collapsed = workdir / "service.collapsed"
    with recording_alice(bench, "wav", keep=True):
        service = bench.start_service(f"profile-{args.calls}")
        spy = subprocess.Popen([py_spy(), "record", "--pid", str(service.pid), "--format", "raw", "--rate", "200",
                                "--nonblocking", "--output", str(collapsed)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1)
        used = bench.place(args.calls, "202", service, f"profile-{args.calls}", ramp_seconds=args.ramp)
        spy.send_signal(signal.SIGINT)
        spy.wait(30)
        service.terminate()
        service.wait(15)
    total, inclusive, top = shares(collapsed)
    print(f"{args.calls} calls of {args.seconds} s: the service used {used.service_own:.2f} CPU-s "
          f"({1000 * used.service_own / args.calls:.0f} ms a call) and its children {used.service_children:.2f}; "
          f"{total} samples of busy threads (py-spy leaves idle ones out); stacks in {collapsed}")
    print("| code | on the stack | at the top |\n|---|---|---|")
    for module, samples in inclusive.most_common(25):
        print(f"| {module} | {samples / total:.1%} | {top[module] / total:.1%} |")


if __name__ == "__main__":
    main()
