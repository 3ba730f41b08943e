"""`lab down` stops what the lab started, by pid, and nothing else; `lab up` brings the built lab back."""

from __future__ import annotations

import os
import subprocess
import sys

import httpx
import pytest

from asterisk_rec.config import Settings
from asterisk_rec.lab import Lab, LabSettings

pytestmark = pytest.mark.restarts_lab


def lab_command(action: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "asterisk_rec", "lab", action],
                          capture_output=True, text=True, timeout=300, check=False)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_down_stops_only_the_lab_services_and_up_reuses_the_lab(settings: Settings) -> None:
    """A process run in the lab by hand survives `lab down`; Asterisk and PostgreSQL do not; `lab up`
    then starts them again without rebuilding or re-provisioning, and ARI answers."""
    lab = Lab(LabSettings.from_environment())
    before = lab.status()
    assert all(before.values()), before
    foreign = subprocess.Popen(["chroot", str(lab.rootfs.path), "sleep", "120"])
    try:
        down = lab_command("down")
        assert down.returncode == 0, down.stderr
        for name, pid in before.items():
            assert pid is not None and not alive(pid), f"{name} (pid {pid}) still runs after lab down"
        assert foreign.poll() is None, "lab down stopped a process it had not started"

        up = lab_command("up")
        assert up.returncode == 0, up.stderr
        assert "reusing the lab's root filesystem" in up.stderr
        assert "provisioning the lab" not in up.stderr
        after = lab.status()
        assert all(after.values()) and after != before, after
        response = httpx.get(settings.ari.url + "ari/asterisk/ping", timeout=5,
                             auth=(settings.ari.user, settings.ari.password.reveal()))
        assert response.status_code == 200
    finally:
        foreign.kill()
        foreign.wait()
