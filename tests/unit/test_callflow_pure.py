"""The pure parts of the call flow and the archive: which call an event belongs to, endpoints from
channel names, recording names, archive paths, the snoop a restarted service adopts."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from asterisk_rec.archive.paths import archive_path
from asterisk_rec.callflow.app import newest_snoop
from asterisk_rec.callflow.call import CallRecord, outcome_of
from asterisk_rec.callflow.events import event_keys, event_time
from asterisk_rec.callflow.phases import EndReason
from asterisk_rec.channel_names import endpoint_of
from asterisk_rec.policy import DialStatus
from asterisk_rec.recording.naming import new_call_id, recording_name


def test_event_keys_name_every_object_of_the_event() -> None:
    """Channels (also as peer or caller), bridge, playback and recording each give a key."""
    event = {"type": "Dial", "peer": {"id": "leg"}, "caller": {"id": "in"}, "bridge": {"id": "b"},
             "playback": {"id": "p"}, "recording": {"name": "r/1"}}
    assert event_keys(event) == {"channel:leg", "channel:in", "bridge:b", "playback:p", "recording:r/1"}
    assert event_keys({"type": "ApplicationReplaced"}) == set()


@pytest.mark.parametrize(("timestamp", "expected"), [
    ("2026-12-02T04:39:41.473+0000", 1796186381.473),
    ("2026-12-02T05:39:41.473+0100", 1796186381.473),
    ("2026-12-02T04:39:41.473", None),  # no offset: which zone is unknown
    ("2026-02-30T04:39:41.473+0000", None),
    ("", None),
    ("\u0662\u0660\u0662\u0666-12-02T04:39:41+0000", None),  # Arabic-Indic digits
    (None, None),
    (1796186381, None),
])
def test_an_events_time_is_read_from_asterisks_timestamp(timestamp: object, expected: float | None) -> None:
    """Asterisk's ``timestamp`` (with its offset) as POSIX seconds; anything else, or none, is None."""
    event = {"type": "StasisStart"} if timestamp is None else {"type": "StasisStart", "timestamp": timestamp}
    assert event_time(event) == expected


def test_endpoint_of_channel_names() -> None:
    """PJSIP channel names give their endpoint, dashes in the endpoint name included; others give None."""
    assert endpoint_of("PJSIP/alice-desk-0000001a") == "alice-desk"
    assert endpoint_of("PJSIP/lab-trunk-00000003") == "lab-trunk"
    assert endpoint_of("Local/1000@lab-tones-00000001;1") is None
    assert endpoint_of("PJSIP/") is None


def test_recording_names_are_per_organisation_and_day() -> None:
    """asterisk-rec/<organisation>/<date>/<call id>; anything but a call id is refused."""
    call_id = new_call_id()
    assert recording_name(7, call_id, datetime(2026, 11, 28, 23, 59, tzinfo=UTC)) == \
        f"asterisk-rec/7/2026-11-28/{call_id}"
    with pytest.raises(ValueError):
        recording_name(7, "../../etc/passwd", datetime.now(UTC))


def test_archive_paths_are_per_organisation_and_day(tmp_path: Path) -> None:
    """<root>/<organisation>/<YYYY>/<MM>/<DD>/<call id>.<ext>; odd call ids and extensions are refused."""
    call_id = new_call_id()
    assert archive_path(tmp_path, 3, date(2026, 1, 5), call_id, "flac") == \
        tmp_path / "3" / "2026" / "01" / "05" / f"{call_id}.flac"
    with pytest.raises(ValueError):
        archive_path(tmp_path, 3, date(2026, 1, 5), "../x", "wav")
    with pytest.raises(ValueError):
        archive_path(tmp_path, 3, date(2026, 1, 5), call_id, "wav/../../x")


@pytest.mark.parametrize(("channels", "snoop"), [
    (["1796.1", "ar-0123456789abcdef0123-leg0", "ar-0123456789abcdef0123-snoop"], "ar-0123456789abcdef0123-snoop"),
    (["ar-0123456789abcdef0123-snoop1", "ar-0123456789abcdef0123-snoop2"], "ar-0123456789abcdef0123-snoop2"),
    (["ar-0123456789abcdef0123-snoop10", "ar-0123456789abcdef0123-snoop9"], "ar-0123456789abcdef0123-snoop10"),
    (["ar-ffffffffffffffffffff-snoop", "ar-0123456789abcdef0123-leg0"], None)])
def test_a_restarted_service_finds_the_calls_newest_snoop(channels: list[str], snoop: str | None) -> None:
    """A call adopted after a transfer or a forwarding records from ``snoop<N>``: the highest N is its own
    (another call's snoop is not)."""
    assert newest_snoop("0123456789abcdef0123", {channel: {} for channel in channels}) == snoop


def test_a_calls_outcome_for_metrics() -> None:
    """Joined: answered (an adopted call too); handed back busy, unanswered or unavailable as such; a
    fault before joining: failed; the caller giving up while it rang: cancelled."""
    joined = CallRecord("c", "ch", joined_at=datetime(2026, 12, 6, tzinfo=UTC))
    assert outcome_of(joined, EndReason.CALLER_HUNG_UP) == "answered"
    assert outcome_of(CallRecord("c", "ch", outcome=DialStatus.ANSWER), None) == "answered"
    assert outcome_of(CallRecord("c", "ch", outcome=DialStatus.BUSY), EndReason.UNANSWERED) == "busy"
    assert outcome_of(CallRecord("c", "ch", outcome=DialStatus.NOANSWER), EndReason.UNANSWERED) == "no_answer"
    assert outcome_of(CallRecord("c", "ch", outcome=DialStatus.CHANUNAVAIL), EndReason.UNANSWERED) == "unavailable"
    assert outcome_of(CallRecord("c", "ch"), EndReason.FAULT) == "failed"
    assert outcome_of(CallRecord("c", "ch"), EndReason.CALLER_HUNG_UP) == "cancelled"
