"""Asterisk and PostgreSQL inside the lab, started without systemd and stopped by the pids the lab
recorded when it started them."""

from __future__ import annotations

import logging
import os
import signal
import socket
import time
from dataclasses import dataclass
from pathlib import Path

from asterisk_rec.errors import LabError
from asterisk_rec.lab.rootfs import RootFilesystem

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    start: tuple[str, ...]
    pid_file: str  # inside the root filesystem; its first line is the main pid
    stop_signal: signal.Signals
    ready: tuple[str, ...] = ()


def postgres_version(rootfs: RootFilesystem) -> str:
    versions = sorted((p.name for p in rootfs.inside("/etc/postgresql").iterdir()), key=int)
    if not versions:
        raise LabError("no PostgreSQL cluster in the lab: provisioning did not finish")
    return versions[-1]


def service_specs(rootfs: RootFilesystem) -> list[ServiceSpec]:
    pg = postgres_version(rootfs)
    return [
        ServiceSpec(
            name="postgresql",
            start=("pg_ctlcluster", pg, "main", "start"),
            pid_file=f"/var/lib/postgresql/{pg}/main/postmaster.pid",
            stop_signal=signal.SIGINT,  # PostgreSQL's "fast" shutdown
        ),
        ServiceSpec(
            name="asterisk",
            start=("/usr/sbin/asterisk", "-U", "asterisk", "-G", "asterisk"),
            pid_file="/run/asterisk/asterisk.pid",
            stop_signal=signal.SIGTERM,
            ready=("/usr/sbin/asterisk", "-rx", "core waitfullybooted"),
        ),
    ]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _read_pid(path: Path) -> int | None:
    try:
        first = path.read_text().split()[0]
        return int(first)
    except (OSError, IndexError, ValueError):
        return None


class LabServices:
    def __init__(self, rootfs: RootFilesystem, run_dir: Path) -> None:
        self.rootfs = rootfs
        self.run_dir = run_dir

    def _recorded(self, spec: ServiceSpec) -> Path:
        return self.run_dir / f"{spec.name}.pid"

    def pid_of(self, spec: ServiceSpec) -> int | None:
        """The pid the lab started for this service, if that process still runs in the lab."""
        pid = _read_pid(self._recorded(spec))
        if pid is not None and _alive(pid) and self.rootfs.owns_process(pid):
            return pid
        return None

    def foreign_pid(self, spec: ServiceSpec) -> int | None:
        """A running instance in the lab that the lab did not start (someone ran it by hand)."""
        pid = _read_pid(self.rootfs.inside(spec.pid_file))
        if pid is not None and pid != self.pid_of(spec) and _alive(pid) and self.rootfs.owns_process(pid):
            return pid
        return None

    def start_all(self) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        for spec in service_specs(self.rootfs):
            self.start(spec)

    def start(self, spec: ServiceSpec) -> None:
        if self.pid_of(spec) is not None:
            return
        foreign = self.foreign_pid(spec)
        if foreign is not None:
            raise LabError(
                f"{spec.name} already runs in the lab as pid {foreign}, not started by the lab: "
                "stop it yourself (the lab stops only what it started)"
            )
        self.rootfs.inside(spec.pid_file).unlink(missing_ok=True)
        self.rootfs.run_inside(spec.start, f"starting {spec.name} in the lab")
        pid = self._wait_for_pid(spec)
        self._recorded(spec).write_text(f"{pid}\n")
        if spec.ready:
            self.wait_until_ready(spec)
        log.info("%s started in the lab (pid %d)", spec.name, pid)

    def _wait_for_pid(self, spec: ServiceSpec, timeout: float = 20.0) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pid = _read_pid(self.rootfs.inside(spec.pid_file))
            if pid is not None and _alive(pid):
                return pid
            time.sleep(0.05)
        raise LabError(f"{spec.name} did not start in the lab within {timeout:g} s (no pid in {spec.pid_file})")

    def wait_until_ready(self, spec: ServiceSpec, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.rootfs.run_inside(spec.ready, f"waiting for {spec.name} to be ready")
                return
            except LabError:
                # Its control socket appears a moment after its pid file.
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def stop_all(self) -> None:
        for spec in reversed(service_specs(self.rootfs)):
            self.stop(spec)

    def stop(self, spec: ServiceSpec, timeout: float = 15.0) -> None:
        pid = self.pid_of(spec)
        self._recorded(spec).unlink(missing_ok=True)
        if pid is None:
            return
        os.kill(pid, spec.stop_signal)
        deadline = time.monotonic() + timeout
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if _alive(pid):
            log.warning("%s (pid %d) did not stop within %g s: killing it", spec.name, pid, timeout)
            os.kill(pid, signal.SIGKILL)
        log.info("%s stopped (pid %d)", spec.name, pid)

    def status(self) -> dict[str, int | None]:
        return {spec.name: self.pid_of(spec) for spec in service_specs(self.rootfs)}

    def wait_for_ports(self, ports: list[int], timeout: float = 15.0) -> None:
        """Asterisk's HTTP and AMI listeners come up a moment after 'fully booted'."""
        deadline = time.monotonic() + timeout
        for port in ports:
            while True:
                with socket.socket() as s:
                    s.settimeout(0.5)
                    if s.connect_ex(("127.0.0.1", port)) == 0:
                        break
                if time.monotonic() > deadline:
                    raise LabError(f"nothing listens on 127.0.0.1:{port} in the lab after {timeout:g} s")
                time.sleep(0.1)

