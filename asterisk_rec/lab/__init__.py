"""The lab: Asterisk 22 and PostgreSQL from Debian testing in a debootstrap'd root filesystem entered with
chroot, provisioned by the same vagrant/provision.sh as the Vagrant box. Asterisk and PostgreSQL run in
it without systemd; the service runs on the host and reaches them on loopback."""

from __future__ import annotations

import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from asterisk_rec.errors import LabError, LabNeedsRoot, LabNotRunning
from asterisk_rec.lab.rootfs import RootFilesystem, source_digest
from asterisk_rec.lab.services import LabServices

log = logging.getLogger(__name__)

DEFAULT_LAB_DIR = Path("/var/lib/asterisk-rec-lab")
ROOTFS_ENV_FILE = "/etc/asterisk-rec/asterisk-rec.env"


@dataclass(frozen=True)
class LabSettings:
    directory: Path = DEFAULT_LAB_DIR
    mirror: str = "http://deb.debian.org/debian"
    # Not 5432, so the lab never clashes with a PostgreSQL of the host's.
    pg_port: int = 55432
    http_port: int = 8088
    ami_port: int = 5038
    sip_port: int = 5060

    @classmethod
    def from_environment(cls, environ: dict[str, str] | None = None) -> LabSettings:
        env = dict(os.environ if environ is None else environ)
        defaults = cls()
        return cls(
            directory=Path(env.get("ASTERISK_REC_LAB_DIR", str(defaults.directory))),
            mirror=env.get("ASTERISK_REC_LAB_MIRROR", defaults.mirror),
            pg_port=int(env.get("ASTERISK_REC_LAB_PG_PORT", defaults.pg_port)),
        )

    @property
    def env_file(self) -> Path:
        """The service's env file on the host: the lab's generated credentials."""
        return self.directory / "asterisk-rec.env"

    def provision_environment(self) -> dict[str, str]:
        return {
            "ASTERISK_REC_PG_PORT": str(self.pg_port),
            "ASTERISK_REC_HTTP_PORT": str(self.http_port),
            "ASTERISK_REC_AMI_PORT": str(self.ami_port),
            "ASTERISK_REC_SIP_PORT": str(self.sip_port),
        }


def project_source() -> Path:
    """The checkout this package runs from: the lab provisions from its files."""
    source = Path(__file__).resolve().parents[2]
    if not (source / "vagrant" / "provision.sh").is_file():
        raise LabError(
            f"the lab needs the project's checkout (vagrant/provision.sh), not found under {source}: "
            "install the package in editable mode from a checkout (pip install -e .)"
        )
    return source


def require_root(command: str) -> None:
    if os.geteuid() != 0:
        raise LabNeedsRoot(
            "the lab needs root: it runs debootstrap, mount and chroot. "
            f"Run it as root (log in as root, su -, or sudo where installed): asterisk-rec lab {command}"
        )


class Lab:
    def __init__(self, settings: LabSettings) -> None:
        self.settings = settings
        self.rootfs = RootFilesystem(settings.directory / "rootfs", settings.mirror)
        self.services = LabServices(self.rootfs, settings.directory / "run")

    def up(self) -> None:
        """Builds the lab once, provisions it when the project's files changed, and starts it."""
        require_root("up")
        for tool in ("chroot", "mount"):
            if shutil.which(tool) is None:
                raise LabError(f"{tool} is not on PATH: the lab cannot run here")
        self.settings.directory.mkdir(parents=True, exist_ok=True)
        if self.rootfs.bootstrapped:
            log.info("reusing the lab's root filesystem in %s", self.rootfs.path)
        else:
            self.rootfs.bootstrap()
        self.rootfs.mount()
        self.rootfs.know_host_name()
        source, environment = project_source(), self.settings.provision_environment()
        # The project's files for the lab and the lab's settings, as last provisioned.
        stamp = self.settings.directory / "provisioned.sha256"
        digest = source_digest(source, repr(sorted(environment.items())))
        if not stamp.exists() or stamp.read_text().strip() != digest:
            if stamp.exists():
                self.services.stop_all()  # new configuration takes effect on a fresh start
            self.rootfs.provision(source, environment)
            stamp.write_text(digest + "\n")
        else:
            log.info("the lab is provisioned from the current vagrant/, dialplan/ and sounds/ files")
        self.services.start_all()
        self.services.wait_for_ports([self.settings.http_port, self.settings.ami_port, self.settings.pg_port])
        self._publish_env_file()

    def _publish_env_file(self) -> None:
        """The box's env file, for a service on the host: paths inside the box seen through the rootfs, and
        an archive beside the lab."""
        target = self.settings.env_file
        tmp = target.with_suffix(".tmp")
        lines = []
        for line in self.rootfs.inside(ROOTFS_ENV_FILE).read_text().splitlines():
            key, _, value = line.partition("=")
            if key in ("ASTERISK_REC_CDR_CSV_PATH", "ASTERISK_REC_ARCHIVE_SPOOL_DIR"):
                line = f"{key}={self.rootfs.inside(value)}"
            lines.append(line)
        lines.append(f"ASTERISK_REC_ARCHIVE_ROOT={self.settings.directory / 'archive'}")
        tmp.touch(mode=0o600)
        os.chmod(tmp, 0o600)
        tmp.write_text("\n".join(lines) + "\n")
        tmp.replace(target)

    def down(self) -> None:
        """Stops what the lab started (by the pids it recorded) and unmounts what it mounted."""
        require_root("down")
        if not self.rootfs.bootstrapped:
            return
        self.services.stop_all()
        self.rootfs.unmount()

    def status(self) -> dict[str, int | None]:
        require_root("status")
        if not self.rootfs.bootstrapped:
            raise LabNotRunning(f"no lab built in {self.settings.directory}: run asterisk-rec lab up")
        return self.services.status()

    def shell(self) -> None:
        require_root("shell")
        if not self.rootfs.bootstrapped:
            raise LabNotRunning(f"no lab built in {self.settings.directory}: run asterisk-rec lab up")
        self.rootfs.mount()
        os.execvpe("chroot", self.rootfs.chroot_command("/bin/bash", "--login"),
                   {"TERM": os.environ.get("TERM", "xterm"), "HOME": "/root",
                    "PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "PS1": "lab# "})
