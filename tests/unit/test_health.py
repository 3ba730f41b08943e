"""Readiness (pure parts): what the connections report, kept with since when and why, and the archive's
check."""

from __future__ import annotations

from pathlib import Path

from asterisk_rec.health.service import Check, Readiness, archive_check
from asterisk_rec.health.state import Dependencies


def test_a_dependency_is_down_until_it_reports_up_and_an_outage_keeps_its_start() -> None:
    """Expected ones start down ("not connected yet"); up and down change them with the time of the
    change; a second down in the same outage keeps the first's time and reason; up again is a new time."""
    now = [100.0]
    deps = Dependencies(clock=lambda: now[0])
    deps.expect("ari")
    assert [(d.name, d.up, d.reason) for d in deps.all()] == [("ari", False, "not connected yet")]
    now[0] = 101.0
    deps.up("ari")
    deps.up("ami")
    now[0] = 105.0
    deps.up("ari")  # still up: since stays
    deps.down("ami", "connection reset")
    now[0] = 107.0
    deps.down("ami", "refused")
    assert [(d.name, d.up, d.since, d.reason) for d in deps.all()] == [
        ("ami", False, 105.0, "connection reset"), ("ari", True, 101.0, "")]
    deps.expect("ari")  # already known: unchanged
    assert deps.all()[1].up


def test_ready_only_when_every_check_is() -> None:
    """One check failing is enough to be unready; no checks at all is ready."""
    assert Readiness((Check("a", True), Check("b", True))).ready
    assert not Readiness((Check("a", True), Check("b", False, "down"))).ready
    assert Readiness(()).ready


def test_the_archive_must_be_a_writable_directory(tmp_path: Path) -> None:
    """A writable directory passes; a missing one or a file is named (a read-only mount: test_faults.py)."""
    assert archive_check(tmp_path) == Check("archive", True)
    assert archive_check(tmp_path / "nope") == Check("archive", False, f"{tmp_path / 'nope'} is not a directory")
    (tmp_path / "file").write_text("x")
    assert not archive_check(tmp_path / "file").ok
