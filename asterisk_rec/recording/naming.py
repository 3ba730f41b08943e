"""Names of recordings in Asterisk's spool (pure). A name with "/" makes subdirectories there."""

from __future__ import annotations

import re
import uuid
from datetime import datetime

_CALL_ID = re.compile(r"[0-9a-f]{20}")


def new_call_id() -> str:
    return uuid.uuid4().hex[:20]


def recording_name(organisation_id: int, call_id: str, started: datetime) -> str:
    """``asterisk-rec/<organisation>/<YYYY-MM-DD>/<call id>``: one spool folder per organisation and day."""
    if not _CALL_ID.fullmatch(call_id):
        raise ValueError(f"not a call id: {call_id!r}")
    return f"asterisk-rec/{organisation_id}/{started:%Y-%m-%d}/{call_id}"
