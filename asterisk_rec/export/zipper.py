"""A month's recordings as ZIP files: each file copied in once, in chunks (memory stays flat whatever
the size), hashed as it goes; a new ZIP when the next file would pass the split size; compressed formats
stored as they are, WAV deflated; the last ZIP ends with manifest.csv, a row per recorded call (a file
missing from the archive is a row marked missing)."""

from __future__ import annotations

import csv
import hashlib
import io
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from asterisk_rec.export.spreadsheet import cell

CHUNK = 1024 * 1024
# Already compressed: deflating them again costs CPU for nothing.
STORED_FORMATS = {"mp3", "opus", "flac", "ogg"}
MANIFEST = "manifest.csv"
MANIFEST_COLUMNS = ("call", "started_at", "direction", "caller", "callee", "talk_seconds", "file", "zip",
                    "sha256", "bytes", "status")


@dataclass(frozen=True)
class ExportEntry:
    call: int
    started_at: datetime  # in the organisation's time zone
    direction: str
    caller: str
    callee: str
    talk_seconds: float | None
    source: Path | None  # the archived file; None if the row names none
    name: str  # the entry's name in the ZIP
    format: str


@dataclass(frozen=True)
class Part:
    name: str
    path: Path
    size: int
    sha256: str
    files: int


def _zip_info(entry: ExportEntry) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(entry.name, date_time=entry.started_at.timetuple()[:6])
    info.compress_type = zipfile.ZIP_STORED if entry.format in STORED_FORMATS else zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    return info


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


class ZipWriter:
    """Writes the parts into ``directory`` as ``<prefix>-<n>.zip``."""

    def __init__(self, directory: Path, prefix: str, split_bytes: int) -> None:
        self.directory = directory
        self.prefix = prefix
        self.split_bytes = split_bytes
        self.parts: list[Part] = []
        self._zip: zipfile.ZipFile | None = None
        self._path: Path | None = None
        self._files = 0

    def _open(self) -> zipfile.ZipFile:
        if self._zip is None:
            self._path = self.directory / f"{self.prefix}-{len(self.parts) + 1}.zip"
            self._zip = zipfile.ZipFile(self._path, "w", allowZip64=True)
            self._files = 0
        return self._zip

    def _close(self) -> None:
        if self._zip is None or self._path is None:
            return
        self._zip.close()
        self.parts.append(Part(self._path.name, self._path, self._path.stat().st_size, _sha256_of(self._path),
                               self._files))
        self._zip = None

    def add(self, entry: ExportEntry, source: Path) -> tuple[str, int, str]:
        """Copies the file in; returns its SHA-256, size and the ZIP it went into."""
        size = source.stat().st_size
        current = self._path.stat().st_size if self._zip is not None and self._path is not None else 0
        if self._zip is not None and self._files and current + size > self.split_bytes:
            self._close()
        archive = self._open()
        digest = hashlib.sha256()
        with source.open("rb") as src, archive.open(_zip_info(entry), "w", force_zip64=size > 2**31) as dest:
            while chunk := src.read(CHUNK):
                digest.update(chunk)
                dest.write(chunk)
        self._files += 1
        assert self._path is not None
        return digest.hexdigest(), size, self._path.name

    def finish(self, manifest: str) -> list[Part]:
        archive = self._open()
        archive.writestr(zipfile.ZipInfo(MANIFEST, date_time=datetime.now().timetuple()[:6]), manifest,
                         compress_type=zipfile.ZIP_DEFLATED)
        self._close()
        return self.parts


def build(entries: Iterable[ExportEntry], directory: Path, prefix: str, split_bytes: int,
          progress: Callable[[int], None] = lambda done: None) -> list[Part]:
    """Every entry's file into the ZIPs (missing ones only in the manifest); returns the parts."""
    writer = ZipWriter(directory, prefix, split_bytes)
    manifest = io.StringIO()
    rows = csv.writer(manifest)
    rows.writerow(MANIFEST_COLUMNS)
    for done, entry in enumerate(entries, 1):
        sha256, size, part, status = "", 0, "", "missing"
        if entry.source is not None:
            try:
                sha256, size, part = writer.add(entry, entry.source)
                status = "ok"
            except FileNotFoundError:
                pass  # purged since the list was made (or never there): the manifest says missing
        rows.writerow(cell(value) for value in (
            entry.call, entry.started_at.isoformat(), entry.direction, entry.caller, entry.callee,
            "" if entry.talk_seconds is None else f"{entry.talk_seconds:.0f}",
            entry.name if status == "ok" else "", part, sha256, size or "", status))
        progress(done)
    return writer.finish(manifest.getvalue())
