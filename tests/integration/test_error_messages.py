"""When something the service needs is missing or refuses it, `asterisk-rec check` says what and where,
with a stable error id, and exits 2."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def check(env_file: Path, *overrides: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "asterisk_rec", "--env-file", str(env_file)]
    for override in overrides:
        command += ["--set", override]
    return subprocess.run([*command, "check"], capture_output=True, text=True, timeout=30, check=False)


def test_check_passes_against_the_lab(lab_env_file: Path) -> None:
    """With the lab's credentials every connection works and the versions are reported."""
    result = check(lab_env_file)
    assert result.returncode == 0, result.stderr
    assert "Asterisk 22." in result.stdout
    assert "PostgreSQL" in result.stdout


def test_asterisk_unreachable_names_host_and_port(lab_env_file: Path) -> None:
    """ARI pointed at a port where nothing listens: the message names that host and port."""
    port = free_port()
    result = check(lab_env_file, f"ari.url=http://127.0.0.1:{port}/")
    assert result.returncode == 2
    assert f"Asterisk is unreachable at 127.0.0.1:{port}" in result.stderr
    assert "[asterisk_unreachable]" in result.stderr


def test_ami_unreachable_names_host_and_port(lab_env_file: Path) -> None:
    """AMI pointed at a port where nothing listens: the message names AMI, host and port."""
    port = free_port()
    result = check(lab_env_file, f"ami.port={port}")
    assert result.returncode == 2
    assert f"Asterisk is unreachable at 127.0.0.1:{port} (AMI)" in result.stderr


def test_wrong_ari_password(lab_env_file: Path) -> None:
    """A wrong ARI password is reported as rejected credentials, naming the user; the password is not shown."""
    result = check(lab_env_file, "ari.password=not-the-password")
    assert result.returncode == 2
    assert "rejected the credentials of user 'asterisk-rec'" in result.stderr
    assert "[ari_credentials_rejected]" in result.stderr
    assert "not-the-password" not in result.stderr + result.stdout


def test_wrong_ami_password(lab_env_file: Path) -> None:
    """A wrong AMI secret is reported as a rejected login, naming the user; the secret is not shown."""
    result = check(lab_env_file, "ami.password=not-the-secret")
    assert result.returncode == 2
    assert "AMI at 127.0.0.1:5038 rejected the login of user 'asterisk-rec'" in result.stderr
    assert "[ami_credentials_rejected]" in result.stderr
    assert "not-the-secret" not in result.stderr + result.stdout


def test_postgresql_down(lab_env_file: Path) -> None:
    """PostgreSQL not listening: the message says it is unavailable, and where."""
    port = free_port()
    result = check(lab_env_file, f"database.port={port}")
    assert result.returncode == 2
    assert f"PostgreSQL is unavailable at 127.0.0.1:{port} (database 'asterisk_rec')" in result.stderr
    assert "[database_unavailable]" in result.stderr


def test_wrong_database_password(lab_env_file: Path) -> None:
    """A wrong database password is reported as rejected, not as PostgreSQL being down."""
    result = check(lab_env_file, "database.password=not-the-password")
    assert result.returncode == 2
    assert "[database_credentials_rejected]" in result.stderr
    assert "not-the-password" not in result.stderr + result.stdout
