"""The recording's states and the commands their transitions give (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from asterisk_rec.callflow.recording import Change, Recording, RecordingState
from asterisk_rec.completeness.model import Coverage

T0 = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def state(recording: Recording) -> RecordingState:
    """Read afresh after each transition (mypy would narrow the attribute to its first check)."""
    return recording.state


def running() -> Recording:
    recording = Recording("asterisk-rec/1/2026-12-02/" + "a" * 20, 1, "a" * 20)
    recording.start(at(0))
    recording.started(at(0))
    return recording


def test_a_planned_recording_is_not_asked_for_nor_kept() -> None:
    """Planned: nothing asked of Asterisk, nothing to keep, nothing to close."""
    recording = Recording("n", 1, "c")
    assert not recording.asked and not recording.kept and not recording.close(at(1))


def test_one_that_never_started_failed_and_is_not_kept() -> None:
    """Asked for but never confirmed: failed, no file kept; a late hold changes nothing."""
    recording = Recording("n", 1, "c")
    recording.start(at(0))
    recording.failed()
    assert state(recording) is RecordingState.FAILED and recording.asked and not recording.kept
    assert recording.hold_changed(True, at(1)) is None


def test_hold_pauses_and_unhold_resumes_in_parts() -> None:
    """Each stretch recorded is a part: hold ends one, unhold begins the next."""
    recording = running()
    assert recording.hold_changed(True, at(3)) is Change.PAUSE
    assert state(recording) is RecordingState.PAUSED_BY_HOLD
    assert recording.hold_changed(True, at(4)) is None
    assert recording.hold_changed(False, at(6)) is Change.RESUME
    assert recording.parts == [[at(0), at(3)], [at(6), None]]


def test_the_users_pause_outranks_hold() -> None:
    """Paused by the user, a recording stays paused through hold and unhold; the user's resume during a
    hold leaves it paused by the hold, resumed at unhold."""
    recording = running()
    assert recording.toggled_by_user(False, at(2)) is Change.PAUSE
    assert recording.hold_changed(True, at(3)) is None
    assert recording.hold_changed(False, at(4)) is None
    assert state(recording) is RecordingState.PAUSED_BY_USER
    assert recording.hold_changed(True, at(5)) is None
    assert recording.toggled_by_user(True, at(6)) is None
    assert state(recording) is RecordingState.PAUSED_BY_HOLD
    assert recording.hold_changed(False, at(7)) is Change.RESUME
    assert recording.parts == [[at(0), at(2)], [at(7), None]]


def test_the_users_pause_during_hold_needs_no_command() -> None:
    """Already paused by hold, the user's pause changes the reason only; unhold then resumes nothing."""
    recording = running()
    recording.hold_changed(True, at(1))
    assert recording.toggled_by_user(True, at(2)) is None
    assert state(recording) is RecordingState.PAUSED_BY_USER
    assert recording.hold_changed(False, at(3)) is None


def test_closing_ends_the_open_part_and_waits_for_asterisk() -> None:
    """Close ends the running part and asks for a stop; Asterisk's finish closes it; kept throughout."""
    recording = running()
    assert recording.close(at(9))
    assert state(recording) is RecordingState.CLOSING and recording.kept
    recording.finished(at(9.2))
    assert state(recording) is RecordingState.CLOSED and recording.parts == [[at(0), at(9)]]
    assert not recording.close(at(10))


def test_asterisk_ending_it_first_closes_the_part_then() -> None:
    """The snoop went with its channel: Asterisk's finish closes the running part at once; no stop."""
    recording = running()
    recording.finished(at(5))
    assert state(recording) is RecordingState.CLOSED and recording.parts == [[at(0), at(5)]]
    assert not recording.close(at(6))


def test_a_discarded_recording_is_not_kept() -> None:
    """The parties never met: discarded, not kept."""
    recording = running()
    recording.close(at(1))
    recording.discard()
    assert not recording.kept


def test_an_adopted_recording_goes_on_in_its_state() -> None:
    """Adopted after a restart: running (or paused by the user) with its parts so far."""
    recording = Recording.adopted("n", 1, "c", paused_by_user=True, covered=Coverage([[at(0), at(2)]], at(0)))
    assert state(recording) is RecordingState.PAUSED_BY_USER
    assert recording.toggled_by_user(False, at(4)) is Change.RESUME
    assert recording.parts == [[at(0), at(2)], [at(4), None]]


def test_a_transfer_suspends_the_recording_and_appends_to_it_later() -> None:
    """Suspended by a transfer: the part ends, Asterisk stops it, its finishing does not close it, the file
    is kept; started again (appended to) it runs a second part; a user's pause is remembered."""
    recording = running()
    assert recording.toggled_by_user(False, at(2)) is Change.PAUSE
    assert recording.suspend(at(3)) and state(recording) is RecordingState.MOVING
    assert recording.suspended_from is RecordingState.PAUSED_BY_USER
    recording.finished(at(3.1))
    assert state(recording) is RecordingState.MOVING and recording.kept and not recording.is_open
    assert not recording.suspend(at(4))  # nothing open: nothing to stop
    recording.start(at(4.5))
    recording.started(at(5))
    assert state(recording) is RecordingState.RUNNING and recording.parts == [[at(0), at(2)], [at(5), None]]


def test_a_suspended_recording_nobody_goes_on_with_is_kept_as_it_is() -> None:
    """Nobody recorded talks after the transfer: settled, closed, kept; a later transfer to a recorded user
    may still append to it; a failed restart keeps what was recorded."""
    recording = running()
    recording.suspend(at(4))
    recording.settle(at(5))
    assert state(recording) is RecordingState.CLOSED and recording.kept and recording.parts == [[at(0), at(4)]]
    recording.start(at(6))
    assert state(recording) is RecordingState.STARTING
    recording.failed()
    assert state(recording) is RecordingState.CLOSED and recording.kept
