"""CDRs read from AMI and from the CSV file, and a call's row merged from the app's record and its CDRs."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from asterisk_rec.calls.records import FIELDS, CdrRecord, from_ami, from_csv
from asterisk_rec.calls.summary import AppCall, Direction, Disposition, merge
from asterisk_rec.errors import InvalidInput
from asterisk_rec.policy import DialStatus
from asterisk_rec.recording.naming import parse_recording_name, recording_name

AMSTERDAM = ZoneInfo("Europe/Amsterdam")

AMI_EVENT = {
    "Event": "Cdr", "AccountCode": "", "Source": "alice-desk", "Destination": "202", "DestinationContext": "lab-phones",
    "CallerID": '"" <alice-desk>', "Channel": "PJSIP/alice-desk-00000002", "DestinationChannel": "PJSIP/bob-desk-03",
    "LastApplication": "Stasis", "LastData": "asterisk-rec,call,202,lab", "StartTime": "2026-11-28 19:24:30",
    "AnswerTime": "2026-11-28 19:24:34", "EndTime": "2026-11-28 19:24:37", "Duration": "6", "BillableSeconds": "3",
    "Disposition": "ANSWERED", "UniqueID": "1795893870.5", "LinkedID": "1795893870.5", "Sequence": "3",
    "AsteriskRecCall": "e0a10295ec854d1487dc", "AsteriskRecUnrecorded": "",
}

TRUNKS = frozenset({"trunk", "carrier-b"})


def cdr(channel: str = "PJSIP/alice-desk-01", destination_channel: str = "PJSIP/bob-desk-02",
        disposition: str = "ANSWERED", sequence: int = 1, start: int = 0, answer: int | None = 4,
        end: int = 10, call_id: str | None = None) -> CdrRecord:
    at = datetime(2026, 11, 28, 12, 0, 0, tzinfo=UTC)
    return CdrRecord(
        unique_id=f"u{sequence}", sequence=sequence, linked_id="L1", call_id=call_id, source="alice-desk",
        destination="202", context="lab-phones", caller_id="", channel=channel,
        destination_channel=destination_channel, last_application="Dial", last_data="",
        started_at=at.replace(second=start), answered_at=at.replace(second=answer) if answer is not None else None,
        ended_at=at.replace(second=end), disposition=disposition)


def app_call(**changes: object) -> AppCall:
    base = dict(call_id="c" * 20, linked_id="L1", direction=Direction.INTERNAL, caller="201", callee="202",
                caller_user_id=1, callee_user_id=2, organisation_ids=(7,),
                started_at=datetime(2026, 11, 28, 12, 0, 0, 500000, tzinfo=UTC))
    base.update(changes)
    return AppCall(**base)  # type: ignore[arg-type]


def test_ami_event_read_in_asterisks_time_zone() -> None:
    """Times carry Asterisk's zone; the call id, LinkedID and sequence come from the mapped headers."""
    record = from_ami(AMI_EVENT, AMSTERDAM)
    assert record.started_at == datetime(2026, 11, 28, 19, 24, 30, tzinfo=AMSTERDAM)
    assert record.answered_at is not None and record.answered_at.utcoffset() is not None
    assert (record.linked_id, record.sequence, record.call_id) == ("1795893870.5", 3, "e0a10295ec854d1487dc")
    assert record.of_a_party


def test_csv_row_reads_the_same_as_the_ami_event() -> None:
    """The CSV file's columns are the AMI headers in FIELDS order: both give the same record."""
    row = [AMI_EVENT[header] for _, header in FIELDS]
    assert from_csv(row, AMSTERDAM) == from_ami(AMI_EVENT, AMSTERDAM)


def test_a_csv_file_from_before_the_unrecorded_mark_still_reads() -> None:
    """A line written before the dialplan's mark was mapped (one column less) reads as unmarked; a marked
    one carries the mark."""
    row = [AMI_EVENT[header] for _, header in FIELDS]
    assert from_csv(row[:-1], AMSTERDAM) == from_ami(AMI_EVENT, AMSTERDAM)
    marked = from_csv([*row[:-1], "app-down|open|lab"], AMSTERDAM)
    assert marked.unrecorded == "app-down|open|lab"
    with pytest.raises(InvalidInput, match="columns"):
        from_csv(row[:-2], AMSTERDAM)


def test_unanswered_cdr_has_no_answer_time() -> None:
    """An unanswered CDR (no AnswerTime) has no answer time, not a made-up one."""
    record = from_ami({**AMI_EVENT, "AnswerTime": "", "Disposition": "NO ANSWER"}, UTC)
    assert record.answered_at is None


@pytest.mark.parametrize(("change", "message"), [
    ({"LinkedID": ""}, "without linked_id"),
    ({"StartTime": "yesterday"}, "not a time"),
    ({"Sequence": "x"}, "not a number"),
])
def test_bad_cdr_is_a_clear_error(change: dict[str, str], message: str) -> None:
    """A CDR missing its LinkedID, or with a time or number that is none, is refused saying which."""
    with pytest.raises(InvalidInput, match=message):
        from_ami({**AMI_EVENT, **change}, UTC)


def test_short_csv_row_is_a_clear_error() -> None:
    """A CSV row with too few columns is refused saying so."""
    with pytest.raises(InvalidInput, match="columns"):
        from_csv(["a", "b"], UTC)


def test_snoop_cdr_is_not_a_party() -> None:
    """The CDR of the app's snoop is not one of the call's parties."""
    assert not cdr(channel="Snoop/1795893870.5-00000001").of_a_party


def test_answered_call_takes_parties_from_the_app_and_times_from_the_cdrs() -> None:
    """A parallel ring: one leg answered, one cancelled; the row is answered, from the earliest start to the
    latest end, with the app's parties and call id."""
    row = merge(app_call(), [cdr(sequence=1), cdr(destination_channel="PJSIP/bob-app-03", disposition="NO ANSWER",
                                                 sequence=2, answer=None, end=4)], TRUNKS)
    assert (row.caller, row.callee, row.direction, row.disposition) == ("201", "202", Direction.INTERNAL,
                                                                        Disposition.ANSWERED)
    assert row.started_at.second == 0 and row.ended_at is not None and row.ended_at.second == 10
    assert row.answered_at is not None and row.answered_at.second == 4
    assert (row.call_id, row.source) == ("c" * 20, "cdr")


def test_unanswered_call_takes_the_apps_outcome() -> None:
    """The app handed the call back as BUSY; the dialplan's CDR only says NO ANSWER: the row says busy."""
    row = merge(app_call(outcome=DialStatus.BUSY), [cdr(disposition="NO ANSWER", answer=None)], TRUNKS)
    assert row.disposition is Disposition.BUSY and row.answered_at is None


def test_app_record_alone_makes_a_row_until_the_cdr_comes() -> None:
    """In progress while the app runs it; ended with the app's outcome when no CDR arrived."""
    assert merge(app_call(), [], TRUNKS).disposition is Disposition.IN_PROGRESS
    ended = app_call(ended_at=datetime(2026, 11, 28, 12, 1, tzinfo=UTC), outcome=DialStatus.NOANSWER)
    row = merge(ended, [], TRUNKS)
    assert (row.disposition, row.source) == (Disposition.NO_ANSWER, "app")


def test_cdr_alone_gives_direction_by_the_trunks() -> None:
    """A call the app never saw (its fail mode): inbound from any trunk, outbound to one, else internal."""
    assert merge(None, [cdr(channel="PJSIP/trunk-01")], TRUNKS).direction is Direction.INBOUND
    assert merge(None, [cdr(destination_channel="PJSIP/trunk-02")], TRUNKS).direction is Direction.OUTBOUND
    assert merge(None, [cdr(channel="PJSIP/carrier-b-0a")], TRUNKS).direction is Direction.INBOUND
    assert merge(None, [cdr(channel="PJSIP/tru-01")], TRUNKS).direction is Direction.INTERNAL
    row = merge(None, [cdr(call_id="d" * 20)], TRUNKS)
    assert (row.direction, row.caller, row.call_id) == (Direction.INTERNAL, "alice-desk", "d" * 20)


def test_busy_beats_no_answer_among_cdrs() -> None:
    """One leg busy and another unanswered: the call was busy."""
    row = merge(None, [cdr(disposition="NO ANSWER", answer=None), cdr(disposition="BUSY", sequence=2, answer=None)],
                TRUNKS)
    assert row.disposition is Disposition.BUSY


def test_a_row_needs_something() -> None:
    """CDRs of snoops alone make no call row: refused."""
    with pytest.raises(ValueError, match="needs"):
        merge(None, [cdr(channel="Snoop/x-01")], TRUNKS)


def test_recording_name_parses_back() -> None:
    """A name made by recording_name gives back its organisation, day and call id; others give None."""
    name = recording_name(7, "a" * 20, datetime(2026, 11, 28, 23, 0, tzinfo=UTC))
    parsed = parse_recording_name(name)
    assert parsed is not None
    assert (parsed.organisation_id, str(parsed.day), parsed.call_id) == (7, "2026-11-28", "a" * 20)
    for other in ("lab-plain/x", "asterisk-rec/7/2026-13-01/" + "a" * 20, "asterisk-rec/x/2026-11-28/" + "a" * 20):
        assert parse_recording_name(other) is None
