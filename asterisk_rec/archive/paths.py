"""Where a recording lives in the archive (pure)."""

from __future__ import annotations

import os
import re
from datetime import date
from pathlib import Path

_CALL_ID = re.compile(r"[0-9a-f]{20}")
_EXTENSION = re.compile(r"[a-z0-9]{2,5}")


def archive_path(root: Path, organisation_id: int, day: date, call_id: str, extension: str) -> Path:
    """``<root>/<organisation>/<YYYY>/<MM>/<DD>/<call id>.<extension>``: a tree per organisation and day."""
    if not _CALL_ID.fullmatch(call_id):
        raise ValueError(f"not a call id: {call_id!r}")
    if not _EXTENSION.fullmatch(extension):
        raise ValueError(f"not a file extension: {extension!r}")
    return root / str(organisation_id) / f"{day:%Y}" / f"{day:%m}" / f"{day:%d}" / f"{call_id}.{extension}"


def inside_archive(root: Path, relative: str) -> Path | None:
    """The archived file a row names, if that name stays inside the archive (a ``../`` reaches nothing)."""
    target = Path(os.path.normpath(root / relative))
    return target if relative and target.is_relative_to(os.path.normpath(root)) else None
