"""How long `asterisk-rec lab up` takes on a built lab, beside the floor: starting the same PostgreSQL
and Asterisk in the chroot by hand, with no lab manager around them. Needs root and a built lab.

    sudo .venv/bin/python bench/lab_up.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

from asterisk_rec.lab import Lab, LabSettings
from asterisk_rec.lab.services import service_specs


def timed(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    return time.perf_counter() - start


def lab(action: str) -> list[str]:
    return [sys.executable, "-m", "asterisk_rec", "lab", action]


def by_hand(lab_: Lab) -> float:
    """The floor: the start commands and readiness check of each service, run directly in the chroot."""
    lab_.rootfs.mount()
    start = time.perf_counter()
    for spec in service_specs(lab_.rootfs):
        lab_.rootfs.run_inside(spec.start, f"starting {spec.name}")
        if spec.ready:
            lab_.services.wait_until_ready(spec)
    elapsed = time.perf_counter() - start
    for spec in reversed(service_specs(lab_.rootfs)):
        pid = int(lab_.rootfs.inside(spec.pid_file).read_text().split()[0])
        subprocess.run(["kill", f"-{spec.stop_signal.name}", str(pid)], check=True)
        while subprocess.run(["kill", "-0", str(pid)], capture_output=True).returncode == 0:
            time.sleep(0.05)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    rounds = parser.parse_args().rounds
    lab_ = Lab(LabSettings.from_environment())
    subprocess.run(lab("up"), check=True, capture_output=True)
    results: dict[str, list[float]] = {"lab up, already running": [], "lab up, built and stopped": [],
                                       "baseline: start both by hand": []}
    for _ in range(rounds):
        results["lab up, already running"].append(timed(lab("up")))
        subprocess.run(lab("down"), check=True, capture_output=True)
        results["baseline: start both by hand"].append(by_hand(lab_))
        results["lab up, built and stopped"].append(timed(lab("up")))
    print(f"| case ({rounds} rounds) | median s | max s |")
    print("|---|---|---|")
    for case, values in results.items():
        print(f"| {case} | {statistics.median(values):.2f} | {max(values):.2f} |")


if __name__ == "__main__":
    main()
