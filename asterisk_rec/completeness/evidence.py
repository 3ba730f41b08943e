"""What the alarms that last a quiet time (calls without the app, completeness exceptions) learn at start
from the tables, so that a restarted service carries an incident on rather than clearing it, and the
moments of the tables on the alarms' clock."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime


@dataclass(frozen=True)
class RecentEvidence:
    last_app_down: datetime | None = None  # the last call connected or refused without the app
    # Per organisation: how many exceptions the continuous check found lately, and when the last was.
    exceptions: dict[int, tuple[int, datetime]] = field(default_factory=dict)


def monotonic_at(wall: datetime, now: datetime | None = None) -> float:
    """A moment of the wall clock on time.monotonic's scale (the alarms' clock)."""
    return time.monotonic() - ((now or datetime.now(UTC)) - wall).total_seconds()
