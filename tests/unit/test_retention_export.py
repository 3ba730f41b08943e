"""Retention maths, download links and the ZIP writer: which periods may be chosen and their cost, when
a recording goes, who counts for a month, who may ask for a bulk download; links that only work as made;
ZIPs split at the size, compressed files stored, a manifest with every call (missing ones marked)."""

from __future__ import annotations

import csv
import hashlib
import io
import random
import zipfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from asterisk_rec.directory.models import RecordingMode
from asterisk_rec.errors import Forbidden, InvalidInput
from asterisk_rec.export import links
from asterisk_rec.export.zipper import MANIFEST, ExportEntry, build
from asterisk_rec.retention import policy

OFFERED = {30: 1.5, 90: 2.5, 180: 3.5, 365: 5.0}
NOW = datetime(2026, 11, 28, 12, tzinfo=UTC)
AMSTERDAM = ZoneInfo("Europe/Amsterdam")


def test_only_offered_periods_and_their_cost() -> None:
    """A period not on offer is refused naming the choices; the cost is the period's price per user."""
    with pytest.raises(InvalidInput, match="30, 90, 180, 365"):
        policy.period(60, OFFERED)
    assert policy.monthly_cost(180, 4, OFFERED) == 14.0


def test_a_recording_goes_when_its_longest_owner_period_is_over() -> None:
    """91 days old: gone at 90 days, kept if another owner keeps 180; never under legal hold; a
    recording without owners is left alone."""
    started = NOW - timedelta(days=91)
    assert policy.due_for_deletion(started, [90], NOW, legal_hold=False)
    assert not policy.due_for_deletion(started, [90, 180], NOW, legal_hold=False)
    assert not policy.due_for_deletion(started, [90], NOW, legal_hold=True)
    assert not policy.due_for_deletion(NOW - timedelta(days=89), [90], NOW, legal_hold=False)
    assert not policy.due_for_deletion(started, [], NOW, legal_hold=False)


def test_months_are_the_organisations_months() -> None:
    """November 2026 in Amsterdam starts 31 October 23:00 UTC; a bad month is refused."""
    start, end = policy.month_bounds(date(2026, 11, 1), AMSTERDAM)
    assert start.astimezone(UTC) == datetime(2026, 10, 31, 23, tzinfo=UTC)
    assert end.astimezone(UTC) == datetime(2026, 11, 30, 23, tzinfo=UTC)
    assert policy.parse_month("2026-11") == date(2026, 11, 1)
    with pytest.raises(InvalidInput, match="YYYY-MM"):
        policy.parse_month("2026-13")


def test_a_user_counts_for_a_month_with_any_recorded_day() -> None:
    """On before the month and never off: counts; switched on for a day within: counts; off all month
    (switched off before, or on only after it): does not."""
    start, end = policy.month_bounds(date(2026, 10, 1), UTC)  # type: ignore[arg-type]
    on = RecordingMode.ALWAYS

    def change(day: str, mode: RecordingMode) -> policy.ModeChange:
        return policy.ModeChange(datetime.fromisoformat(day).replace(tzinfo=UTC), mode)

    assert policy.recorded_in([change("2026-09-01", on)], start, end)
    assert policy.recorded_in([change("2026-10-15", RecordingMode.ON_DEMAND), change("2026-10-16", RecordingMode.OFF)],
                              start, end)
    assert not policy.recorded_in([change("2026-09-01", on), change("2026-09-30", RecordingMode.OFF)], start, end)
    assert not policy.recorded_in([change("2026-11-02", on)], start, end)


def test_bulk_download_needs_180_days_and_the_switch() -> None:
    """90 days: refused with the reason; 180 days but switched off: refused; 180 and on: allowed."""
    assert "at least 180 days" in (policy.bulk_download_refusal(90, True) or "")
    assert "switched off" in (policy.bulk_download_refusal(180, False) or "")
    assert policy.bulk_download_refusal(180, True) is None


def test_a_link_works_only_as_made() -> None:
    """The link checks for its export, part and account until it expires; another account, another
    part, an altered signature or a later time are refused."""
    url = links.link("http://portal", "secret", 7, "lab-2026-10-7-1.zip", 3, 2_000_000_000)
    signature = url.split("sig=")[1]
    links.check("secret", 7, "lab-2026-10-7-1.zip", 3, 2_000_000_000, signature, now=1_900_000_000)
    for export_id, part, account, sig, now in (
            (7, "lab-2026-10-7-1.zip", 4, signature, 1_900_000_000),
            (7, "lab-2026-10-7-2.zip", 3, signature, 1_900_000_000),
            (8, "lab-2026-10-7-1.zip", 3, signature, 1_900_000_000),
            (7, "lab-2026-10-7-1.zip", 3, signature[:-1] + "0", 1_900_000_000),
            (7, "lab-2026-10-7-1.zip", 3, signature, 2_000_000_001)):
        with pytest.raises(Forbidden):
            links.check("secret", export_id, part, account, 2_000_000_000, sig, now)


def entry(n: int, source: Path | None, fmt: str) -> ExportEntry:
    return ExportEntry(call=n, started_at=datetime(2026, 10, 1, 9, n, tzinfo=AMSTERDAM), direction="internal",
                       caller="201", callee="202", talk_seconds=60.0, source=source,
                       name=f"2026-10-01_09{n:02d}00_201_202_{n}.{fmt}", format=fmt)


def test_zips_split_store_compressed_files_and_list_every_call(tmp_path: Path) -> None:
    """Five 40 KB recordings with a 100 KB split: three ZIPs holding each file once, byte for byte; MP3s
    stored, WAV deflated; the last ZIP's manifest lists all six calls with their hashes, the one whose
    file is missing marked missing."""
    sources = {}
    for n, fmt in enumerate(("mp3", "mp3", "wav", "mp3", "opus"), 1):
        path = tmp_path / f"{n}.{fmt}"
        path.write_bytes(random.Random(n).randbytes(40_000))  # incompressible, like audio
        sources[n] = (path, fmt)
    entries = [entry(n, path, fmt) for n, (path, fmt) in sources.items()] + [entry(6, tmp_path / "gone.mp3", "mp3")]
    out = tmp_path / "out"
    out.mkdir()
    parts = build(entries, out, "lab-2026-10-1", 100_000)
    assert len(parts) == 3
    seen: dict[str, bytes] = {}
    for part in parts:
        assert hashlib.sha256(part.path.read_bytes()).hexdigest() == part.sha256
        with zipfile.ZipFile(part.path) as archive:
            for info in archive.infolist():
                if info.filename == MANIFEST:
                    continue
                assert info.filename not in seen
                seen[info.filename] = archive.read(info)
                expected = zipfile.ZIP_DEFLATED if info.filename.endswith(".wav") else zipfile.ZIP_STORED
                assert info.compress_type == expected, info.filename
    assert {e.name: e.source.read_bytes() for e in entries[:5] if e.source} == seen
    with zipfile.ZipFile(parts[-1].path) as archive:
        rows = list(csv.DictReader(io.StringIO(archive.read(MANIFEST).decode())))
    assert [int(r["call"]) for r in rows] == [1, 2, 3, 4, 5, 6]
    assert [r["status"] for r in rows] == ["ok"] * 5 + ["missing"]
    assert all(r["sha256"] == hashlib.sha256(seen[r["file"]]).hexdigest() for r in rows[:5])
