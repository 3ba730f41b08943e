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
import tempfile
import time
from pathlib import Path

from bench.load import recording_alice
from bench.recording_cost import Bench

# py-spy's raw format: "frame;frame;...;frame count", each frame "function (path:line)".
_FRAME = re.compile(r"^(?P<function>.*?) \((?P<path>[^:]*)(?::\d+)?\)$")


def module_of(path: str) -> str:
    """``asterisk_rec.callflow.ringing``, ``asyncari``, ``psycopg``, ``<stdlib>``..., from a frame's file."""
    parts = Path(path).with_suffix("").parts
    if "site-packages" in parts:
        return parts[parts.index("site-packages") + 1]
    if "asterisk_rec" in parts:
        return ".".join(parts[parts.index("asterisk_rec"):][:3])
    return "<python>"


def shares(collapsed: Path) -> tuple[int, collections.Counter[str], collections.Counter[str]]:
    """Samples in all; per module, the samples it is on the stack in (once each) and at the top of."""
    total = 0
    inclusive: collections.Counter[str] = collections.Counter()
    top: collections.Counter[str] = collections.Counter()
    for line in collapsed.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        samples = int(count)
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
        spy = subprocess.Popen(["py-spy", "record", "--pid", str(service.pid), "--format", "raw", "--rate", "200",
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
