"""Names of recordings in Asterisk's spool (pure). A name with "/" makes subdirectories there."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import date, datetime

_CALL_ID = re.compile(r"[0-9a-f]{20}")
_NAME = re.compile(r"asterisk-rec/([0-9]+)/([0-9]{4}-[0-9]{2}-[0-9]{2})/([0-9a-f]{20})")
PREFIX = "asterisk-rec/"


@dataclass(frozen=True)
class RecordingName:
    organisation_id: int
    day: date
    call_id: str


def new_call_id() -> str:
    return uuid.uuid4().hex[:20]


def recording_name(organisation_id: int, call_id: str, started: datetime) -> str:
    """``asterisk-rec/<organisation>/<YYYY-MM-DD>/<call id>``: one spool folder per organisation and day."""
    if not _CALL_ID.fullmatch(call_id):
        raise ValueError(f"not a call id: {call_id!r}")
    return f"asterisk-rec/{organisation_id}/{started:%Y-%m-%d}/{call_id}"


def parse_recording_name(name: str) -> RecordingName | None:
    """The parts of a name ``recording_name`` made; None for any other recording in the spool."""
    match = _NAME.fullmatch(name)
    if match is None:
        return None
    try:
        day = date.fromisoformat(match[2])
    except ValueError:
        return None
    return RecordingName(int(match[1]), day, match[3])
