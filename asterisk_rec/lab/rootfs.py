"""The lab's root filesystem: made once with debootstrap, its kernel file systems mounted, and
provisioned by vagrant/provision.sh whenever the project's files for it change."""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

from asterisk_rec.errors import LabError

log = logging.getLogger(__name__)

# What provision.sh reads from the checkout: a change to any of it provisions the lab again.
PROVISIONED_FROM = ("vagrant/provision.sh", "vagrant/pjsip-lab.conf", "dialplan", "sounds")
BOOTSTRAPPED_MARK = ".asterisk-rec-bootstrapped"
SOURCE_IN_ROOTFS = Path("opt/asterisk-rec/src")
CHROOT_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/root", "LANG": "C.UTF-8"}

# (mount point inside the root filesystem, mount arguments)
MOUNTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("proc", ("-t", "proc", "proc")),
    ("dev/shm", ("-t", "tmpfs", "-o", "mode=1777,size=256m", "tmpfs")),
    ("dev/pts", ("-t", "devpts", "-o", "newinstance,ptmxmode=0666", "devpts")),
)


def run(command: list[str], what: str, env: dict[str, str] | None = None, quiet: bool = False) -> None:
    """Runs a command; a quiet one's output is kept for the error message. Output goes to a file, not a
    pipe: a daemon that keeps its parent's stdout open would otherwise hang us."""
    log.debug("running %s", command)
    with tempfile.TemporaryFile("w+") as output:
        result = subprocess.run(command, env=env, stdin=subprocess.DEVNULL, check=False,
                                stdout=output if quiet else None, stderr=subprocess.STDOUT if quiet else None)
        if result.returncode != 0:
            output.seek(0)
            detail = f": {output.read().strip()[-2000:]}" if quiet else ""
            raise LabError(f"{what} failed (exit {result.returncode}){detail}")


def mounted_points() -> set[str]:
    with open("/proc/self/mountinfo") as f:
        return {line.split()[4].replace("\\040", " ") for line in f}


def source_digest(source: Path, extra: str) -> str:
    digest = hashlib.sha256(extra.encode())
    for top in PROVISIONED_FROM:
        base = source / top
        files = sorted(p for p in base.rglob("*") if p.is_file()) if base.is_dir() else [base]
        for path in files:
            digest.update(str(path.relative_to(source)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


class RootFilesystem:
    def __init__(self, path: Path, mirror: str, suite: str = "testing") -> None:
        self.path = path
        self.mirror = mirror
        self.suite = suite

    @property
    def bootstrapped(self) -> bool:
        return (self.path / BOOTSTRAPPED_MARK).exists()

    def inside(self, path: str | Path) -> Path:
        return self.path / str(path).lstrip("/")

    def bootstrap(self) -> None:
        if self.bootstrapped:
            return
        if shutil.which("debootstrap") is None:
            raise LabError("debootstrap is not installed on this machine: apt-get install debootstrap")
        staging = self.path.with_name(self.path.name + ".partial")
        if staging.exists():
            self._unmount(staging)
            shutil.rmtree(staging)
        log.info("making the lab's root filesystem (Debian %s) in %s", self.suite, self.path)
        run(["debootstrap", "--variant=minbase", self.suite, str(staging), self.mirror],
            f"debootstrap {self.suite} into {staging}", quiet=True)
        (staging / BOOTSTRAPPED_MARK).write_text(f"{self.suite} {self.mirror}\n")
        staging.rename(self.path)

    def know_host_name(self) -> None:
        """The chroot shares the host's name but not its /etc/hosts: without the name there, Asterisk
        looked it up in DNS (none here) on every call's media set-up and stalled for 5 s at a time."""
        name = socket.gethostname()
        hosts = self.inside("/etc/hosts")
        lines = hosts.read_text().splitlines() if hosts.exists() else []
        if not any(name in line.split()[1:] for line in lines if not line.lstrip().startswith("#")):
            hosts.write_text("\n".join([*lines, f"127.0.1.1\t{name}"]) + "\n")
            log.info("the lab knows the host's name %r (its /etc/hosts)", name)

    def mount(self) -> None:
        present = mounted_points()
        for point, arguments in MOUNTS:
            target = self.path / point
            if str(target) in present:
                continue
            target.mkdir(parents=True, exist_ok=True)
            run(["mount", *arguments, str(target)], f"mounting {target}", quiet=True)
        # Name resolution for apt inside the chroot follows the host's.
        shutil.copyfile("/etc/resolv.conf", self.inside("/etc/resolv.conf"))

    def unmount(self) -> None:
        self._unmount(self.path)

    @staticmethod
    def _unmount(root: Path) -> None:
        present = mounted_points()
        for point, _ in reversed(MOUNTS):
            target = root / point
            if str(target) in present:
                run(["umount", str(target)], f"unmounting {target}", quiet=True)

    def chroot_command(self, *command: str) -> list[str]:
        return ["chroot", str(self.path), *command]

    def run_inside(self, command: tuple[str, ...], what: str, environment: dict[str, str] | None = None,
                   quiet: bool = True) -> None:
        """Runs a command in the chroot with a clean environment (none of the host's variables)."""
        run(self.chroot_command(*command), what, env={**CHROOT_ENV, **(environment or {})}, quiet=quiet)

    def provision(self, source: Path, environment: dict[str, str]) -> None:
        """Copies the project's files in and runs provision.sh --lab inside."""
        target = self.inside(SOURCE_IN_ROOTFS)
        if target.exists():
            shutil.rmtree(target)
        for top in PROVISIONED_FROM:
            origin, copy = source / top, target / top
            copy.parent.mkdir(parents=True, exist_ok=True)
            if origin.is_dir():
                shutil.copytree(origin, copy)
            else:
                shutil.copy2(origin, copy)
        log.info("provisioning the lab (vagrant/provision.sh --lab)")
        self.run_inside(("bash", f"/{SOURCE_IN_ROOTFS}/vagrant/provision.sh", "--lab"),
                        "provision.sh inside the lab", environment, quiet=not log.isEnabledFor(logging.DEBUG))

    def owns_process(self, pid: int) -> bool:
        """A process runs in this root filesystem (so it is one of the lab's, not a host process)."""
        try:
            return os.path.realpath(f"/proc/{pid}/root") == str(self.path.resolve())
        except OSError:
            return False
