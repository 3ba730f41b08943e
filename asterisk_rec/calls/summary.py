"""One call row from what the app recorded of a call and the CDRs Asterisk wrote for it (pure).

A call is every channel sharing a LinkedID. Asterisk writes a CDR per party pairing (a parallel ring makes
one per device rung); the app knows who the parties are as users. The row takes the app's view of the
parties and Asterisk's of the times, and the app's outcome when nobody answered (it handed the call back
to the dialplan, whose CDR then only says the caller hung up)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from asterisk_rec.calls.records import CdrRecord
from asterisk_rec.channel_names import endpoint_of
from asterisk_rec.policy import DialStatus


class Direction(StrEnum):
    INTERNAL = "internal"
    INBOUND = "inbound"
    OUTBOUND = "outbound"


class Disposition(StrEnum):
    ANSWERED = "answered"
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    FAILED = "failed"
    IN_PROGRESS = "in_progress"


@dataclass(frozen=True)
class AppCall:
    """What the app records of a call it handles."""

    call_id: str
    linked_id: str
    direction: Direction
    caller: str
    callee: str
    caller_user_id: int | None
    callee_user_id: int | None
    organisation_ids: tuple[int, ...]
    started_at: datetime
    answered_at: datetime | None = None
    ended_at: datetime | None = None
    outcome: DialStatus | None = None
    notice_finished_at: datetime | None = None


@dataclass(frozen=True)
class CallRow:
    linked_id: str
    call_id: str | None
    direction: Direction
    caller: str
    callee: str
    caller_user_id: int | None
    callee_user_id: int | None
    started_at: datetime
    answered_at: datetime | None
    ended_at: datetime | None
    disposition: Disposition
    notice_finished_at: datetime | None
    source: str


_FROM_OUTCOME = {
    DialStatus.ANSWER: Disposition.ANSWERED,
    DialStatus.BUSY: Disposition.BUSY,
    DialStatus.NOANSWER: Disposition.NO_ANSWER,
    DialStatus.CANCEL: Disposition.NO_ANSWER,
}
# The CDR dispositions of a call nobody answered, the most telling first.
_FROM_CDR = (("BUSY", Disposition.BUSY), ("NO ANSWER", Disposition.NO_ANSWER), ("FAILED", Disposition.FAILED),
             ("CONGESTION", Disposition.FAILED))


@dataclass(frozen=True)
class CallTransfer:
    """One transfer in a call's chain, as the call row shows it."""

    at: datetime
    kind: str  # a TransferKind
    transferor: str
    transferee: str
    target: str
    outcome: str  # a TransferOutcome
    answered_at: datetime | None = None
    consultation: str | None = None  # attended: the consultation call's id


def app_direction(caller_is_user: bool, callee_is_user: bool, from_trunk: bool) -> Direction:
    if from_trunk and not caller_is_user:
        return Direction.INBOUND
    return Direction.INTERNAL if callee_is_user else Direction.OUTBOUND


def cdr_direction(first: CdrRecord, trunks: frozenset[str]) -> Direction:
    """For a call the app did not handle: by whether the caller's or the called channel is a trunk."""
    if endpoint_of(first.channel) in trunks:
        return Direction.INBOUND
    if endpoint_of(first.destination_channel) in trunks:
        return Direction.OUTBOUND
    return Direction.INTERNAL


def _cdr_disposition(records: Sequence[CdrRecord]) -> Disposition:
    if any(r.disposition == "ANSWERED" for r in records):
        return Disposition.ANSWERED
    found = {r.disposition for r in records}
    return next((d for name, d in _FROM_CDR if name in found), Disposition.FAILED)


def merge(app: AppCall | None, cdrs: Sequence[CdrRecord], trunks: frozenset[str]) -> CallRow:
    """The call's row. Needs the app's record or at least one CDR of a party."""
    parties = sorted((r for r in cdrs if r.of_a_party), key=lambda r: (r.started_at, r.sequence))
    if not parties:
        if app is None:
            raise ValueError("a call row needs the app's record or a CDR")
        disposition = _FROM_OUTCOME.get(app.outcome, Disposition.FAILED) if app.outcome else (
            Disposition.IN_PROGRESS if app.ended_at is None else Disposition.FAILED)
        return CallRow(app.linked_id, app.call_id, app.direction, app.caller, app.callee, app.caller_user_id,
                       app.callee_user_id, app.started_at, app.answered_at, app.ended_at, disposition,
                       app.notice_finished_at, "app")
    first = parties[0]
    answered = [r.answered_at for r in parties if r.disposition == "ANSWERED" and r.answered_at is not None]
    disposition = _cdr_disposition(parties)
    if disposition is not Disposition.ANSWERED and app is not None and app.outcome in _FROM_OUTCOME:
        disposition = _FROM_OUTCOME[app.outcome]
    call_id = app.call_id if app else next((r.call_id for r in parties if r.call_id), None)
    return CallRow(
        linked_id=first.linked_id,
        call_id=call_id,
        direction=app.direction if app else cdr_direction(first, trunks),
        caller=app.caller if app else first.source,
        callee=app.callee if app else first.destination,
        caller_user_id=app.caller_user_id if app else None,
        callee_user_id=app.callee_user_id if app else None,
        started_at=min(r.started_at for r in parties),
        answered_at=min(answered) if answered else None,
        ended_at=max(r.ended_at for r in parties),
        disposition=disposition,
        notice_finished_at=app.notice_finished_at if app else None,
        source="cdr",
    )
