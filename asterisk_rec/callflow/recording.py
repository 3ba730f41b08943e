"""A call's recording as the app keeps it: its name, organisation and call, the parts it covers and the
state it is in (pure: the call flow gives Asterisk the commands the transitions return).

    PLANNED --start--> STARTING --started--> RUNNING <--hold/user--> PAUSED_BY_HOLD, PAUSED_BY_USER
    STARTING --failed--> FAILED
    RUNNING, PAUSED_* --close--> CLOSING --finished--> CLOSED --discard--> DISCARDED
    RUNNING, PAUSED_* --finished--> CLOSED   (Asterisk ended it: the snoop went with its channel)
    RUNNING, PAUSED_* --suspend--> MOVING --start--> STARTING   (a transfer: the same file goes on, appended
                                                                 to from a new snoop once the parties meet)
    MOVING --settle--> CLOSED   (nobody recorded talks after the transfer)

The user's pause outranks hold: a recording the user paused stays paused through hold and unhold.

Beside its parts it keeps what the completeness check judges it by: since when it was required (the app
first asked for it), until when (the talk ended, or a transfer left nobody recorded talking), and the
stretches in between it left out on purpose (hold, the user's pause, a transfer's ringing)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import Enum

from asterisk_rec.completeness.model import Coverage, Excuse, Excused, Part


class RecordingState(Enum):
    # To start when the parties meet (asked of Asterisk only then).
    PLANNED = "planned"
    STARTING = "starting"
    RUNNING = "running"
    PAUSED_BY_HOLD = "paused by hold"
    PAUSED_BY_USER = "paused by the user"
    CLOSING = "closing"
    # Between two snoops during a transfer: the file so far is complete, and more may be appended to it.
    MOVING = "moving"
    CLOSED = "closed"
    FAILED = "failed"
    DISCARDED = "discarded"


# Asterisk is recording (or paused): the file is open.
OPEN = frozenset({RecordingState.RUNNING, RecordingState.PAUSED_BY_HOLD, RecordingState.PAUSED_BY_USER})


_EXCUSES = {RecordingState.PAUSED_BY_HOLD: Excuse.HOLD, RecordingState.PAUSED_BY_USER: Excuse.PAUSED}


class Change(Enum):
    """What Asterisk must do for a transition."""

    PAUSE = "pause"
    RESUME = "resume"


@dataclass
class Recording:
    name: str
    organisation_id: int
    call_id: str
    state: RecordingState = RecordingState.PLANNED
    # [start, end] of each stretch recorded; the last one's end is None while it runs.
    parts: list[Part] = field(default_factory=list)
    # The state it had when a transfer suspended it (a user's pause carries over).
    suspended_from: RecordingState | None = None
    required_since: datetime | None = None
    required_until: datetime | None = None
    excused: list[Excused] = field(default_factory=list)
    # Asterisk failed writing it after it started: what file there is (if any) is not all of it.
    broken: bool = False

    @classmethod
    def adopted(cls, name: str, organisation_id: int, call_id: str, *, paused_by_user: bool,
                covered: Coverage) -> Recording:
        """One running in Asterisk when a restarted service took its call over."""
        state = RecordingState.PAUSED_BY_USER if paused_by_user else RecordingState.RUNNING
        return cls(name, organisation_id, call_id, state, covered.parts, required_since=covered.required_since,
                   excused=list(covered.excused))

    @property
    def is_open(self) -> bool:
        return self.state in OPEN

    @property
    def kept(self) -> bool:
        """Whether a file of it goes to the archive."""
        return self.state in OPEN or self.state in (RecordingState.CLOSING, RecordingState.CLOSED,
                                                    RecordingState.MOVING)

    @property
    def failed_in_asterisk(self) -> bool:
        """It never ran, or Asterisk could not write it."""
        return self.state is RecordingState.FAILED or self.broken

    @property
    def asked(self) -> bool:
        """Whether Asterisk was asked to record it (so there may be a file, and the ledger knows it)."""
        return self.state is not RecordingState.PLANNED

    def start(self, at: datetime) -> None:
        """Asterisk is asked to record: the first time, or (after a transfer) to append to the file."""
        if self.required_since is None:
            self.required_since = at
        if self.state is RecordingState.PLANNED or self.state is RecordingState.MOVING or \
                (self.state is RecordingState.CLOSED and self.parts):
            self.state = RecordingState.STARTING

    def started(self, at: datetime) -> None:
        """Asterisk confirmed it runs."""
        if self.state is RecordingState.STARTING:
            self.state = RecordingState.RUNNING
            self.parts.append([at, None])
            self._excuse_ends(at)

    def failed(self) -> None:
        """It never ran (Asterisk refused it, or did not confirm it in time); a file recorded before a
        transfer is kept."""
        if self.state is RecordingState.STARTING:
            self.state = RecordingState.CLOSED if self.parts else RecordingState.FAILED

    def suspend(self, at: datetime) -> bool:
        """A transfer begins: the part so far ends; returns whether Asterisk must stop it."""
        if not self.is_open:
            return False
        self.suspended_from = self.state
        self._end_part(at)
        self._excuse_ends(at)
        self._excuse(Excuse.TRANSFER, at)
        self.state = RecordingState.MOVING
        return True

    def settle(self, at: datetime) -> None:
        """Nobody recorded talks after the transfer: the file stays as it is."""
        if self.state is RecordingState.MOVING:
            self._end_part(at)
            self._excuse_ends(at)
            self.required_until = at
            self.state = RecordingState.CLOSED

    def hold_changed(self, held: bool, at: datetime) -> Change | None:
        """Nobody is recorded while on hold (the Dutch regulator's rule)."""
        if self.state is RecordingState.RUNNING and held:
            return self._move(RecordingState.PAUSED_BY_HOLD, at)
        if self.state is RecordingState.PAUSED_BY_HOLD and not held:
            return self._move(RecordingState.RUNNING, at)
        return None

    def toggled_by_user(self, held: bool, at: datetime) -> Change | None:
        """The user's feature code: pauses a recording, or resumes one the user paused (into hold, if a
        party is on hold now)."""
        if self.state is RecordingState.PAUSED_BY_USER:
            return self._move(RecordingState.PAUSED_BY_HOLD if held else RecordingState.RUNNING, at)
        if self.state in (RecordingState.RUNNING, RecordingState.PAUSED_BY_HOLD):
            return self._move(RecordingState.PAUSED_BY_USER, at)
        return None

    def close(self, at: datetime) -> bool:
        """The call ends: returns whether Asterisk must be told to stop it."""
        if self.required_until is None and self.required_since is not None:
            self.required_until = at
        self._excuse_ends(at)
        if not self.is_open:
            return False
        self._end_part(at)
        self.state = RecordingState.CLOSING
        return True

    def finished(self, at: datetime, failed: bool = False) -> None:
        """Asterisk says the file is complete, or (``failed``) that it could not write it, e.g. its spool
        unwritable; while a transfer moves it, that is the part before. Failing while it was not asked to
        stop, it is broken."""
        if failed and (self.is_open or self.state is RecordingState.STARTING):
            self.broken = True
        if self.is_open or self.state is RecordingState.CLOSING:
            self._end_part(at)
            # Ended by Asterisk mid-call (its snoop gone): what follows is not excused.
            self._excuse_ends(at)
            self.state = RecordingState.CLOSED

    def discard(self) -> None:
        """The parties never met: a recording of nobody talking is not kept."""
        self.state = RecordingState.DISCARDED

    def _move(self, to: RecordingState, at: datetime) -> Change | None:
        was_running = self.state is RecordingState.RUNNING
        self._excuse_ends(at)
        if to in _EXCUSES:
            self._excuse(_EXCUSES[to], at)
        self.state = to
        if was_running and to is not RecordingState.RUNNING:
            self._end_part(at)
            return Change.PAUSE
        if not was_running and to is RecordingState.RUNNING:
            self.parts.append([at, None])
            return Change.RESUME
        return None

    def _excuse(self, reason: Excuse, at: datetime) -> None:
        self.excused.append(Excused(reason, at, None))

    def _excuse_ends(self, at: datetime) -> None:
        if self.excused and self.excused[-1].end is None:
            self.excused[-1] = replace(self.excused[-1], end=at)

    def _end_part(self, at: datetime) -> None:
        if self.parts and self.parts[-1][1] is None:
            self.parts[-1][1] = at
