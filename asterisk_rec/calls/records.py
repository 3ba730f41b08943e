"""Asterisk's CDRs as the service reads them: from an AMI ``Cdr`` event or a line of the CSV file that
cdr_custom writes with the same fields (pure)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo

from asterisk_rec.errors import InvalidInput

# AMI header per field, in the CSV file's column order (vagrant/provision.sh writes cdr_custom.conf).
FIELDS = (
    ("account_code", "AccountCode"),
    ("source", "Source"),
    ("destination", "Destination"),
    ("context", "DestinationContext"),
    ("caller_id", "CallerID"),
    ("channel", "Channel"),
    ("destination_channel", "DestinationChannel"),
    ("last_application", "LastApplication"),
    ("last_data", "LastData"),
    ("started_at", "StartTime"),
    ("answered_at", "AnswerTime"),
    ("ended_at", "EndTime"),
    ("duration", "Duration"),
    ("billable", "BillableSeconds"),
    ("disposition", "Disposition"),
    ("unique_id", "UniqueID"),
    ("linked_id", "LinkedID"),
    ("sequence", "Sequence"),
    ("call_id", "AsteriskRecCall"),
    # The dialplan's mark on a call it connected or refused without the app (asterisk_rec/completeness).
    ("unrecorded", "AsteriskRecUnrecorded"),
)
# A file written before the mark was mapped has one column less.
_OLDER_CSV_COLUMNS = len(FIELDS) - 1

# Channels that are the app's own machinery, not parties to the call: their CDRs are not calls.
_MACHINERY = ("Snoop/", "Recorder/", "Announcer/")


@dataclass(frozen=True)
class CdrRecord:
    unique_id: str
    sequence: int
    linked_id: str
    call_id: str | None
    source: str
    destination: str
    context: str
    caller_id: str
    channel: str
    destination_channel: str
    last_application: str
    last_data: str
    started_at: datetime
    answered_at: datetime | None
    ended_at: datetime
    disposition: str
    unrecorded: str | None = None

    @property
    def of_a_party(self) -> bool:
        return not self.channel.startswith(_MACHINERY)


def _time(value: str, zone: tzinfo, field: str) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%d %H:%M:%S").replace(tzinfo=zone)
    except ValueError:
        raise InvalidInput(f"CDR {field} {value!r} is not a time like 2026-01-31 12:00:00") from None


def _record(values: Mapping[str, str], zone: tzinfo) -> CdrRecord:
    missing = [f for f in ("unique_id", "linked_id", "sequence", "started_at", "ended_at") if not values.get(f)]
    if missing:
        raise InvalidInput(f"CDR without {', '.join(missing)}: is cdr_manager's [mappings] set up "
                           "(linkedid, sequence, asterisk_rec_call)?")
    try:
        sequence = int(values["sequence"])
    except ValueError:
        raise InvalidInput(f"CDR sequence {values['sequence']!r} is not a number") from None
    started = _time(values["started_at"], zone, "StartTime")
    ended = _time(values["ended_at"], zone, "EndTime")
    assert started is not None and ended is not None
    return CdrRecord(
        unique_id=values["unique_id"], sequence=sequence, linked_id=values["linked_id"],
        call_id=values.get("call_id") or None, source=values.get("source", ""),
        destination=values.get("destination", ""), context=values.get("context", ""),
        caller_id=values.get("caller_id", ""), channel=values.get("channel", ""),
        destination_channel=values.get("destination_channel", ""),
        last_application=values.get("last_application", ""), last_data=values.get("last_data", ""),
        started_at=started, answered_at=_time(values.get("answered_at", ""), zone, "AnswerTime"), ended_at=ended,
        disposition=values.get("disposition", ""), unrecorded=values.get("unrecorded") or None,
    )


def from_ami(event: Mapping[str, str], zone: tzinfo) -> CdrRecord:
    """A CDR from an AMI ``Cdr`` event; times are in Asterisk's time zone ``zone``."""
    return _record({name: event.get(header, "") for name, header in FIELDS}, zone)


def from_csv(row: Sequence[str], zone: tzinfo) -> CdrRecord:
    """A CDR from a row of the CSV file, whose columns are ``FIELDS`` in order."""
    if len(row) not in (len(FIELDS), _OLDER_CSV_COLUMNS):
        raise InvalidInput(f"CDR CSV row has {len(row)} columns, expected {len(FIELDS)}")
    return _record(dict(zip((name for name, _ in FIELDS), row, strict=False)), zone)
