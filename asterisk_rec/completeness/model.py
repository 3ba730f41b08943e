"""What had to be recorded of a call, what was, and the verdict (pure).

A recording is required from the moment the app starts it (when the parties meet, for a user who is
always recorded; when the user's feature code switches it on, on demand) until the talk ends or nobody
recorded talks any more (a transfer took the recorded user out). Within that window, the stretches the
product leaves out on purpose are excused: hold, the user's pause, the ringing of a transfer. The rest
must be in the stored file: its duration (as ffprobe reads the file) may fall short of the required
talk time by the configured tolerance, no more. A call the app never saw because it was down, and that
the dialplan connected anyway (fail open), had to be recorded if its parties' policy says so."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum


class Excuse(StrEnum):
    """Why a stretch inside the required window is not in the file, on purpose."""

    HOLD = "hold"
    PAUSED = "paused"  # the user's feature code
    TRANSFER = "transfer"  # between the snoops of a transfer: the transferee hears ringing


@dataclass(frozen=True)
class Excused:
    reason: Excuse
    start: datetime
    end: datetime | None  # None: still excused when the recording ended

    def seconds_within(self, start: datetime, end: datetime) -> float:
        """How much of [start, end] this stretch covers."""
        to = end if self.end is None else min(self.end, end)
        return max(0.0, (to - max(self.start, start)).total_seconds())


Part = list[datetime | None]


@dataclass(frozen=True)
class Coverage:
    """What a recording in progress has covered so far (its parts, the last one open while it runs) and
    what it was required to: kept as it changes, for a restarted service to carry on from."""

    parts: list[Part]
    required_since: datetime | None = None
    excused: tuple[Excused, ...] = ()


class Reason(StrEnum):
    """Why a call that had to be recorded is not recorded completely."""

    APP_DOWN = "app_down"  # connected unrecorded by the dialplan under fail open: the app was not running
    APP_FAILED = "app_failed"  # the app was running but could not take the call on (fail open)
    RECORDING_FAILED = "recording_failed"  # Asterisk refused the recording, or never confirmed it
    NOT_STORED = "not_stored"  # the call ended long ago and its file is still not in the archive
    TOO_SHORT = "too_short"  # the file is shorter than the talk that had to be recorded


class Outcome(StrEnum):
    COMPLETE = "complete"
    PENDING = "pending"  # not judged yet: the call is in progress, or its file is on its way to the archive
    EXCEPTION = "exception"


class RecordingStatus(StrEnum):
    """A recording's row as the archive and the app left it."""

    RECORDING = "recording"  # not (yet) stored
    STORED = "stored"
    PURGED = "purged"  # stored, then deleted when its retention ended: it was complete
    DISCARDED = "discarded"
    FAILED = "failed"


@dataclass(frozen=True)
class RecordedCall:
    """A call the app handled and started (or tried to start) a recording of."""

    status: RecordingStatus
    required_since: datetime
    # When the requirement ended (the talk, or the recorded user's part in it); None if the app never
    # closed the recording (the service died): the call's end then.
    required_until: datetime | None
    excused: tuple[Excused, ...]
    joined: bool  # the parties met (a recording of nobody talking is not kept, and not required)
    call_ended_at: datetime | None
    file_seconds: float | None
    attempts: int = 0
    last_error: str | None = None


@dataclass(frozen=True)
class UnrecordedCall:
    """A call the dialplan connected without the app (Asterisk's ``AsteriskRecAppDown`` event)."""

    app_failed: bool  # the app answered but failed the call (else: it was not running at all)
    fail_open: bool  # connected anyway; under fail closed the caller was refused, and nobody talked
    required: bool  # a party's policy records the call


@dataclass(frozen=True)
class Rules:
    tolerance_seconds: float = 2.0
    # After the call's end, how long its file may take to reach the archive before it is an exception.
    store_within_seconds: float = 600.0


@dataclass(frozen=True)
class Verdict:
    outcome: Outcome
    reason: Reason | None = None
    required_seconds: float | None = None
    recorded_seconds: float | None = None
    detail: str = ""

    @property
    def is_exception(self) -> bool:
        return self.outcome is Outcome.EXCEPTION


COMPLETE = Verdict(Outcome.COMPLETE)
PENDING = Verdict(Outcome.PENDING)


def required_seconds(since: datetime, until: datetime, excused: Sequence[Excused]) -> float:
    """The talk time the file must hold: the window less its excused stretches (which do not overlap: the
    recording is in one state at a time)."""
    if until <= since:
        return 0.0
    left_out = sum(stretch.seconds_within(since, until) for stretch in excused)
    return max(0.0, (until - since).total_seconds() - left_out)


def judge_recorded(call: RecordedCall, now: datetime, rules: Rules = Rules()) -> Verdict | None:
    """The verdict on a call whose recording the app started; None when none was required after all (the
    parties never met)."""
    if call.call_ended_at is None:
        return PENDING
    if not call.joined:
        return None
    until = call.required_until or call.call_ended_at
    required = required_seconds(call.required_since, until, call.excused)
    if call.status in (RecordingStatus.FAILED, RecordingStatus.DISCARDED):
        return Verdict(Outcome.EXCEPTION, Reason.RECORDING_FAILED, required, 0.0,
                       "Asterisk did not record the call" if call.status is RecordingStatus.FAILED
                       else "the recording was discarded though the parties talked")
    if call.status is RecordingStatus.RECORDING or call.file_seconds is None:
        if now - call.call_ended_at < timedelta(seconds=rules.store_within_seconds):
            return PENDING
        tried = f" after {call.attempts} attempts: {call.last_error}" if call.attempts else ""
        return Verdict(Outcome.EXCEPTION, Reason.NOT_STORED, required, None,
                       f"not in the archive {rules.store_within_seconds:.0f} s after the call{tried}")
    if call.file_seconds + rules.tolerance_seconds < required:
        return Verdict(Outcome.EXCEPTION, Reason.TOO_SHORT, required, call.file_seconds,
                       f"{required - call.file_seconds:.1f} s of the talk are not in the file")
    return Verdict(Outcome.COMPLETE, None, required, call.file_seconds)


def judge_unrecorded(call: UnrecordedCall) -> Verdict | None:
    """The verdict on a call the dialplan handled without the app; None when nothing had to be recorded
    (or, failing closed, nobody talked)."""
    if not call.required or not call.fail_open:
        return None
    if call.app_failed:
        return Verdict(Outcome.EXCEPTION, Reason.APP_FAILED, detail="connected unrecorded: the app could not "
                                                                    "take the call on (fail open)")
    return Verdict(Outcome.EXCEPTION, Reason.APP_DOWN,
                   detail="connected unrecorded: the app was not running (fail open)")
