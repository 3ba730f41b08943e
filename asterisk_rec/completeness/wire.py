"""A recording's coverage as JSON (the journal's entries and the recordings row keep it so), and back."""

from __future__ import annotations

from datetime import datetime

from asterisk_rec.completeness.model import Excuse, Excused, Part

JsonPart = list[str | None]


def time_out(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def time_in(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value is not None else None


def parts_out(parts: list[Part]) -> list[JsonPart]:
    return [[time_out(p) for p in part] for part in parts]


def parts_in(parts: list[JsonPart]) -> list[Part]:
    return [[time_in(p) for p in part] for part in parts]


def excused_out(excused: list[Excused] | tuple[Excused, ...]) -> list[JsonPart]:
    return [[e.reason.value, time_out(e.start), time_out(e.end)] for e in excused]


def excused_in(items: list[JsonPart]) -> tuple[Excused, ...]:
    found = []
    for reason, start, end in items:
        begun = time_in(start)
        if reason is None or begun is None:
            raise ValueError(f"an excused stretch without a reason or start: {[reason, start, end]!r}")
        found.append(Excused(Excuse(reason), begun, time_in(end)))
    return tuple(found)
