"""What the ledger writes down, as the journal's JSON entries and back (pure)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from asterisk_rec.callflow.call import CallRecord
from asterisk_rec.callflow.recording import Recording
from asterisk_rec.callflow.transfer import TransferOutcome, TransferStep
from asterisk_rec.calls.summary import AppCall, CallTransfer, Direction
from asterisk_rec.completeness import wire
from asterisk_rec.completeness.model import Coverage
from asterisk_rec.policy import DialStatus

CALL_STARTED = "call_started"
RECORDING_STARTED = "recording_started"
PARTS = "parts"
CALL_ENDED = "call_ended"


_time, _parse = wire.time_out, wire.time_in
parts_out, parts_in = wire.parts_out, wire.parts_in


def parts_entry(recording: Recording) -> dict[str, Any]:
    return {"name": recording.name, "parts": parts_out(recording.parts),
            "required_since": _time(recording.required_since), "excused": wire.excused_out(recording.excused)}


def covered(payload: dict[str, Any]) -> Coverage:
    """A PARTS entry's recording so far (entries written before the completeness check: its parts only)."""
    return Coverage(parts_in(payload["parts"]), _parse(payload.get("required_since")),
                 wire.excused_in(payload.get("excused", [])))


def call_started(call: AppCall) -> dict[str, Any]:
    return {"call_id": call.call_id, "linked_id": call.linked_id, "direction": call.direction.value,
            "caller": call.caller, "callee": call.callee, "caller_user_id": call.caller_user_id,
            "callee_user_id": call.callee_user_id, "organisation_ids": list(call.organisation_ids),
            "started_at": _time(call.started_at)}


def app_call(payload: dict[str, Any]) -> AppCall:
    started = _parse(payload["started_at"])
    assert started is not None
    return AppCall(call_id=payload["call_id"], linked_id=payload["linked_id"],
                   direction=Direction(payload["direction"]), caller=payload["caller"], callee=payload["callee"],
                   caller_user_id=payload["caller_user_id"], callee_user_id=payload["callee_user_id"],
                   organisation_ids=tuple(payload["organisation_ids"]), started_at=started)


def recording_started(name: str, call_id: str, organisation_id: int, owners: tuple[int, ...],
                      started_at: datetime) -> dict[str, Any]:
    return {"name": name, "call_id": call_id, "organisation_id": organisation_id, "owners": list(owners),
            "started_at": _time(started_at)}


def call_ended(record: CallRecord) -> dict[str, Any]:
    """``recording``: the one Asterisk was asked for, kept or not (``discarded``)."""
    recording = record.recording if record.recording is not None and record.recording.asked else None
    return {"call_id": record.call_id, "recording": recording.name if recording else None,
            "discarded": recording is None or not recording.kept,
            "notice_finished_at": _time(record.notice_finished_at),
            "joined_at": _time(record.joined_at), "ended_at": _time(record.ended_at),
            "outcome": record.outcome.value if record.outcome else None,
            "parts": parts_out(recording.parts if recording else []),
            "failed": recording is not None and recording.failed_in_asterisk,
            "required_since": _time(recording.required_since if recording else None),
            "required_until": _time(recording.required_until if recording else None),
            "excused": wire.excused_out(recording.excused if recording else []),
            "transfers": [transfer_out(step) for step in record.transfers]}


def transfer_out(step: TransferStep) -> dict[str, Any]:
    return {"at": _time(step.at), "kind": step.kind.value, "by": step.by, "transferee": step.transferee,
            "target": step.target, "outcome": (step.outcome or TransferOutcome.ABANDONED).value,
            "answered_at": _time(step.answered_at), "consultation": step.consultation}


def transfers_in(payload: dict[str, Any]) -> list[CallTransfer]:
    """The call's transfers (none in entries written before transfers were handled)."""
    found = []
    for item in payload.get("transfers", []):
        at = _parse(item["at"])
        assert at is not None
        found.append(CallTransfer(at=at, kind=item["kind"], transferor=item["by"], transferee=item["transferee"],
                                  target=item["target"], outcome=item["outcome"],
                                  answered_at=_parse(item["answered_at"]),
                                  consultation=item.get("consultation")))
    return found


def outcome(payload: dict[str, Any]) -> DialStatus | None:
    return DialStatus(payload["outcome"]) if payload["outcome"] else None


def time_of(payload: dict[str, Any], key: str) -> datetime | None:
    """None also when the entry has no such key (written by an earlier version)."""
    return _parse(payload.get(key))
