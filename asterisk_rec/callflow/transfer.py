"""A transfer as the call keeps it (pure): who transferred whom to whom, when, and how it ended; and what
Asterisk's REFER progress is told for each ending. The call's row shows the chain of them in order."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from asterisk_rec.directory.models import User
from asterisk_rec.policy import DialStatus, DialTarget


class TransferKind(StrEnum):
    BLIND = "blind"  # REFER without Replaces: the transferor leaves, the target's devices ring
    ATTENDED = "attended"  # REFER with Replaces: the target the transferor consulted takes the call over
    RING_BACK = "ring_back"  # a blind transfer failed after the transferor left: their devices ring again
    FORWARD_ALWAYS = "forward_always"  # the callee forwards every call
    FORWARD_BUSY = "forward_busy"  # every device of the callee was busy
    FORWARD_NO_ANSWER = "forward_no_answer"  # the callee's devices rang unanswered
    PICKUP = "pickup"  # another user answered the ringing call with a pickup code


class TransferOutcome(StrEnum):
    ANSWERED = "answered"
    BUSY = "busy"
    NO_ANSWER = "no_answer"
    UNAVAILABLE = "unavailable"
    REFUSED = "refused"  # not a number the transferor may send the call to
    ABANDONED = "abandoned"  # the transferee hung up meanwhile


# What POST /channels/{id}/transfer_progress reports (the NOTIFY the transferor's phone gets).
PROGRESS_STATES = {
    TransferOutcome.ANSWERED: "channel_answered",
    TransferOutcome.BUSY: "channel_declined",
    TransferOutcome.REFUSED: "channel_declined",
    TransferOutcome.NO_ANSWER: "channel_unavailable",
    TransferOutcome.UNAVAILABLE: "channel_unavailable",
    TransferOutcome.ABANDONED: "channel_unavailable",
}


def outcome_of(status: DialStatus) -> TransferOutcome:
    """How the ringing of the target ended, from what the caller of a call would be told."""
    return {DialStatus.ANSWER: TransferOutcome.ANSWERED, DialStatus.BUSY: TransferOutcome.BUSY,
            DialStatus.NOANSWER: TransferOutcome.NO_ANSWER}.get(status, TransferOutcome.UNAVAILABLE)


def refer_sub_false_crashes(version: str) -> bool:
    """Whether this Asterisk is one known to crash on a REFER with ``Refer-Sub: false`` while the app
    handles transfers (asterisk issue 2021, fixed by pull request 2022): seen on 22.10.1 in the lab, and
    in the 22.x releases since the app could handle transfers (22.3) that predate the fix."""
    match = re.match(r"([0-9]+)\.([0-9]+)", version)
    if match is None:
        return False
    major, minor = int(match[1]), int(match[2])
    return major == 22 and 3 <= minor <= 10


def replaced_channel(request: dict[str, Any]) -> str | None:
    """An attended transfer's (a REFER with Replaces): the channel of the consultation's dialog it names,
    as Asterisk resolved it; None for a blind transfer, or a dialog Asterisk does not know."""
    channel = (request.get("refer_to") or {}).get("destination_channel") or {}
    return channel.get("id") or None


def is_attended(request: dict[str, Any]) -> bool:
    """Whether a ``ChannelTransfer`` is an attended transfer (its REFER has Replaces), whether or not
    Asterisk found the dialog it names; a REFER naming no number is taken as one too (and refused)."""
    destination = (request.get("refer_to") or {}).get("requested_destination") or {}
    # Asterisk gives the Replaces dialog's Call-ID as the protocol id (and the number of the Refer-To too).
    return replaced_channel(request) is not None or bool(destination.get("protocol_id")) or \
        not destination.get("destination")


@dataclass(frozen=True)
class Destination:
    """Where a number dialled (a call, a transfer, a forwarding) goes: the user it is, if any, and what
    rings."""

    number: str
    user: User | None
    targets: tuple[DialTarget, ...]


@dataclass
class TransferStep:
    at: datetime
    kind: TransferKind
    by: str  # the transferor: a user's extension or a number
    transferee: str
    target: str
    outcome: TransferOutcome | None = None
    answered_at: datetime | None = None
    # Attended: the call in which the transferor consulted the target (it ends as the target moves here).
    consultation: str | None = None
