"""The lab's commands refuse to run without root, clearly."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


@pytest.mark.parametrize("action", ["up", "down", "status", "shell"])
def test_lab_without_root_says_so(action: str) -> None:
    """Every lab command run by an unprivileged user says it needs root and how to run it, and exits 2."""
    command = [sys.executable, "-m", "asterisk_rec", "lab", action]
    if os.geteuid() == 0:
        # Run it as nobody: the check is on the real user, not on an environment variable.
        command = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *command]
    result = subprocess.run(command, capture_output=True, text=True, timeout=30, check=False,
                            env={"PATH": "/usr/bin:/bin", "PYTHONDONTWRITEBYTECODE": "1"})
    assert result.returncode == 2, result.stderr
    assert "the lab needs root" in result.stderr
    assert f"Run it as root (log in as root, su -, or sudo where installed): asterisk-rec lab {action}" in result.stderr
    assert "[lab_needs_root]" in result.stderr
