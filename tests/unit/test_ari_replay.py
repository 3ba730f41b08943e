"""Lab calls replayed into the Stasis app without the lab (fixtures recorded by
tests/integration/record_ari.py): the call flow, reconciliation and the ledger give exactly the commands
the lab call gave, in order, and write down what the call row and the archive need."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from asterisk_rec.callflow import entries
from asterisk_rec.testing.ari_replay import FIXTURES as FIXTURE_DIR
from asterisk_rec.testing.ari_replay import Fixture, Replayed, ReplayMismatch, fixtures, run_replay

SCENARIOS = ("incoming_desk_answers", "outgoing_notice_on_answer", "hold_and_unhold", "feature_code_with_a_pause",
             "busy", "no_answer", "caller_gives_up", "adopted_after_a_restart", "blind_transfer_by_the_callee",
             "blind_transfer_by_the_caller_outside", "blind_transfer_to_a_busy_colleague", "blind_transfer_rung_back",
             "attended_transfer_by_the_callee", "attended_transfer_by_the_caller_outside",
             "attended_transfer_after_the_consultation_ended", "forwarded_always_to_a_colleague",
             "forwarded_when_busy_to_a_mobile", "forwarded_after_no_answer_to_a_recorded_colleague",
             "picked_up_with_the_group_code", "picked_up_with_the_directed_code", "untrusted_trunk_caller_id",
             "recorded_for_external_calls_only", "blind_transfer_to_a_recorded_colleague",
             "blind_transfer_by_a_recorded_callee", "on_demand_pause_across_a_transfer")


def replayed(name: str) -> tuple[Fixture, Replayed]:
    fixture = Fixture.load(FIXTURE_DIR / f"{name}.json")
    return fixture, run_replay(fixture)


def the_end(result: Replayed) -> dict[str, Any]:
    (ended,) = result.of_kind(entries.CALL_ENDED)
    return ended


def parts(payload: dict[str, Any]) -> list[list[datetime | None]]:
    return entries.parts_in(payload["parts"])


def commands(fixture: Fixture, operation: str) -> list[dict[str, Any]]:
    return [step["params"] for step in fixture.commands() if step["command"] == operation]


def test_every_scenario_has_its_fixture() -> None:
    """Each call the replay must cover was recorded from the lab."""
    assert {path.stem for path in fixtures()} >= set(SCENARIOS)


@pytest.mark.parametrize("path", fixtures(), ids=lambda p: p.stem)
def test_the_app_gives_exactly_the_recorded_commands(path: Path) -> None:
    """Every command of the fixture, in order and with the same parameters, and no other."""
    fixture = Fixture.load(path)
    result = run_replay(fixture)
    assert result.commands == len(fixture.commands())


@pytest.mark.parametrize("path", fixtures(), ids=lambda p: p.stem)
def test_a_changed_command_in_the_fixture_fails_the_replay(path: Path) -> None:
    """A fixture whose expected command differs from what the app gives (here: the middle command's
    first parameter changed) makes the replay fail, naming the step."""
    fixture = Fixture.load(path)
    steps = json.loads(json.dumps(fixture.steps))
    middle = [step for step in steps if "command" in step and step["params"]][len(fixture.commands()) // 2]
    key = next(iter(middle["params"]))
    middle["params"][key] = f"{middle['params'][key]}-changed"
    fixture.steps = steps
    with pytest.raises(ReplayMismatch, match=r"step \d+"):
        run_replay(fixture)


def test_incoming_call_is_recorded_from_the_desk_that_answered() -> None:
    """The notice ends before the parties meet; the other devices are told "answered elsewhere"; one
    recording, one part, closed at the end and handed to the archive to keep."""
    fixture, result = replayed("incoming_desk_answers")
    ended = the_end(result)
    assert ended["outcome"] == "ANSWER" and not ended["discarded"]
    assert ended["notice_finished_at"] < ended["joined_at"]
    cancelled = [p["channelId"] for p in commands(fixture, "channels.hangup") if p["reason"] == "answered_elsewhere"]
    created = [p["channelId"] for p in commands(fixture, "channels.create")]
    assert len(created) == 3 and len(cancelled) == 2 and set(cancelled) < set(created)
    (part,) = parts(ended)
    assert part[1] is not None
    assert result.archive.released == [(ended["recording"], True)]


def test_outgoing_call_plays_the_notice_to_the_callee_on_answer() -> None:
    """The callee hears the notice (the second party's playback) before joining; recorded, kept."""
    fixture, result = replayed("outgoing_notice_on_answer")
    ended = the_end(result)
    assert [p["playbackId"].rsplit("-", 1)[1] for p in commands(fixture, "channels.playWithId")] == ["callee"]
    assert ended["notice_finished_at"] < ended["joined_at"] and not ended["discarded"]
    assert result.archive.released == [(ended["recording"], True)]


def test_hold_gives_two_parts() -> None:
    """Hold pauses and unhold resumes: two parts, the hold between them unrecorded."""
    fixture, result = replayed("hold_and_unhold")
    first, second = parts(the_end(result))
    assert first[1] is not None and second[0] is not None and first[1] <= second[0]
    assert len(commands(fixture, "recordings.pause")) == len(commands(fixture, "recordings.unpause")) == 1


def test_feature_code_starts_pauses_and_resumes() -> None:
    """On demand: nothing recorded until the code; then the notice into the bridge, a pause and a resume:
    two parts, both written down as they changed."""
    _, result = replayed("feature_code_with_a_pause")
    ended = the_end(result)
    (started,) = result.of_kind(entries.RECORDING_STARTED)
    assert started["name"] == ended["recording"] and ended["joined_at"] < started["started_at"]
    assert len(parts(ended)) == 2 and not ended["discarded"]
    assert ended["notice_finished_at"] > ended["joined_at"]
    assert len(result.of_kind(entries.PARTS)) >= 3


@pytest.mark.parametrize(("name", "status"), [("busy", "BUSY"), ("no_answer", "NOANSWER")])
def test_unanswered_calls_go_back_to_the_dialplan(name: str, status: str) -> None:
    """Busy or no answer: the caller goes back to the dialplan with the status; nothing was recorded."""
    fixture, result = replayed(name)
    ended = the_end(result)
    assert ended["outcome"] == status and ended["recording"] is None
    assert {"channelId": ended_caller(fixture), "variable": "ASTERISK_REC_DIALSTATUS", "value": status} in \
        commands(fixture, "channels.setChannelVar")
    assert result.archive.released == [] and result.of_kind(entries.RECORDING_STARTED) == []


def ended_caller(fixture: Fixture) -> str:
    return str(next(step["event"]["channel"]["id"] for step in fixture.steps
                    if step.get("event", {}).get("type") == "StasisStart"))


def test_caller_giving_up_leaves_no_recording() -> None:
    """The caller hangs up while the devices ring: each leg is hung up, the planned recording was never
    asked of Asterisk, and the call is written down as ended."""
    _, result = replayed("caller_gives_up")
    ended = the_end(result)
    assert ended["recording"] is None and ended["joined_at"] is None
    assert result.archive.released == []
    assert len(result.of_kind(entries.CALL_STARTED)) == 1


def test_adopted_call_keeps_its_recording_to_the_end() -> None:
    """After a restart the app adopts the connected call from what Asterisk holds; the recording's part
    from before the restart is closed at the hangup, and it goes to the archive (held back until then)."""
    fixture, result = replayed("adopted_after_a_restart")
    ended = the_end(result)
    (name,) = fixture.known_parts
    assert ended["recording"] == name and not ended["discarded"]
    (part,) = parts(ended)
    assert part[0] == entries.parts_in(fixture.known_parts[name])[0][0] and part[1] is not None
    assert result.archive.held == [name] and result.archive.released == [(name, True)]
    assert result.of_kind(entries.CALL_STARTED) == []


def transfer_progress(fixture: Fixture) -> list[str]:
    return [p["states"] for p in commands(fixture, "channels.transfer_progress")]


def test_a_blind_transfer_by_the_callee_moves_the_recording_to_the_target() -> None:
    """Bob's REFER: the transferor's phone is told of progress, then of the answer; the recording is
    stopped, its snoop hung up, and recorded again (appended to) from a new snoop of the caller once Carol
    answered and heard the notice; one call, one recording, two parts; the chain written down."""
    fixture, result = replayed("blind_transfer_by_the_callee")
    assert transfer_progress(fixture) == ["channel_progress", "channel_answered"]
    records = commands(fixture, "channels.record")
    assert [r["ifExists"] for r in records] == ["fail", "append"] and len({r["name"] for r in records}) == 1
    snoops = [p["snoopId"] for p in commands(fixture, "channels.snoopChannelWithId")]
    assert len(set(snoops)) == 2
    assert any(p["playbackId"].endswith("notice-transfer1-callee") for p in commands(fixture, "channels.playWithId"))
    ended = the_end(result)
    assert len(parts(ended)) == 2 and not ended["discarded"]
    (transfer,) = ended["transfers"]
    assert (transfer["kind"], transfer["by"], transfer["transferee"], transfer["target"], transfer["outcome"]) == (
        "blind", "202", "201", "203", "answered")
    assert result.archive.released == [(ended["recording"], True)]


def test_a_blind_transfer_by_the_caller_records_the_callee_with_the_outside_party() -> None:
    """Alice transfers Bob (recorded) to an outside number: the new snoop taps Bob (the party staying), the
    outside party hears the notice, Bob does not hear it again."""
    fixture, result = replayed("blind_transfer_by_the_caller_outside")
    snoops = commands(fixture, "channels.snoopChannelWithId")
    assert snoops[0]["channelId"] != snoops[1]["channelId"]
    notices = [p["playbackId"] for p in commands(fixture, "channels.playWithId") if "notice" in p["playbackId"]]
    assert [n.rsplit("-", 2)[-2:] for n in notices] == [["notice", "caller"], ["transfer1", "callee"]]
    (transfer,) = the_end(result)["transfers"]
    assert (transfer["by"], transfer["outcome"]) == ("201", "answered")


def test_a_failed_blind_transfer_goes_back_to_the_parties_as_they_were() -> None:
    """Carol busy: the transferor is told (declined), taken back into the bridge after the recording runs
    again (appended to), and the chain says busy."""
    fixture, result = replayed("blind_transfer_to_a_busy_colleague")
    assert transfer_progress(fixture) == ["channel_progress", "channel_declined"]
    added = [p["channel"] for p in commands(fixture, "bridges.addChannel")]
    assert added[-1] == added[1]  # the transferor, back
    order = [step["command"] for step in fixture.commands()]
    last_record = max(i for i, c in enumerate(order) if c == "channels.record")
    assert last_record < max(i for i, c in enumerate(order) if c == "bridges.addChannel")
    ended = the_end(result)
    assert len(parts(ended)) == 2
    assert [t["outcome"] for t in ended["transfers"]] == ["busy"]


def test_a_transfer_nobody_takes_rings_the_transferor_back() -> None:
    """The transferor left and the target did not answer: the transferor's devices ring (legs of a second
    round), the one that answers joins the caller, recorded on in the same file; the chain has both."""
    fixture, result = replayed("blind_transfer_rung_back")
    created = [p["channelId"] for p in commands(fixture, "channels.create")]
    assert any(c.endswith("-t1r1leg0") for c in created) and any(c.endswith("-t1r2leg0") for c in created)
    ended = the_end(result)
    assert [(t["kind"], t["outcome"]) for t in ended["transfers"]] == [("blind", "no_answer"),
                                                                      ("ring_back", "answered")]
    assert len(parts(ended)) == 2 and result.archive.released == [(ended["recording"], True)]



def ends(result: Replayed) -> dict[str, dict[str, Any]]:
    """Each call's end, by its call id (an attended transfer has two calls: the call and its consultation)."""
    return {ended["call_id"]: ended for ended in result.of_kind(entries.CALL_ENDED)}


def test_an_attended_transfer_by_the_callee_takes_the_consulted_colleague_into_the_call() -> None:
    """Bob held Alice (the recording paused), consulted Carol in a call of its own and referred Alice to
    her with Replaces: Carol's leg leaves the consultation's bridge, hears the notice (she had not), and
    joins Alice's bridge once the recording runs again (appended to, from a new snoop of Alice); Bob's
    phone is told it succeeded. The consultation ends unrecorded; the chain names it."""
    fixture, result = replayed("attended_transfer_by_the_callee")
    calls = ends(result)
    (call,) = [ended for ended in calls.values() if ended["transfers"]]
    (transfer,) = call["transfers"]
    consultation = calls[transfer["consultation"]]
    assert (transfer["kind"], transfer["by"], transfer["transferee"], transfer["target"], transfer["outcome"]) == (
        "attended", "202", "201", "203", "answered")
    assert consultation["recording"] is None and not consultation["transfers"]
    target = f"ar-{consultation['call_id']}-leg0"
    assert {"bridgeId": f"ar-{consultation['call_id']}-bridge", "channel": target} in [
        {k: p[k] for k in ("bridgeId", "channel")} for p in commands(fixture, "bridges.removeChannel")]
    order = [(step["command"], step["params"]) for step in fixture.commands()]
    notice = next(i for i, (c, p) in enumerate(order) if p.get("playbackId", "").endswith("notice-transfer1-callee"))
    appended = next(i for i, (c, p) in enumerate(order) if c == "channels.record" and p["ifExists"] == "append")
    joined = next(i for i, (c, p) in enumerate(order) if c == "bridges.addChannel" and p["channel"] == target
                  and p["bridgeId"] == f"ar-{call['call_id']}-bridge")
    assert order[notice][1]["channelId"] == target and notice < appended < joined
    assert transfer_progress(fixture) == ["channel_answered"]
    assert len(parts(call)) == 2 and result.archive.released == [(call["recording"], True)]


def test_an_attended_transfer_by_the_caller_records_the_callee_with_the_outside_party() -> None:
    """Alice referred Bob (recorded) to the outside party she consulted: the new snoop taps Bob, the
    outside party hears the notice, Bob does not hear it again."""
    fixture, result = replayed("attended_transfer_by_the_caller_outside")
    snoops = commands(fixture, "channels.snoopChannelWithId")
    assert snoops[0]["channelId"] != snoops[1]["channelId"]
    notices = [p["playbackId"] for p in commands(fixture, "channels.playWithId") if "notice" in p["playbackId"]]
    assert [n.rsplit("-", 2)[-2:] for n in notices] == [["notice", "caller"], ["transfer1", "callee"]]
    (call,) = [ended for ended in ends(result).values() if ended["transfers"]]
    (transfer,) = call["transfers"]
    assert (transfer["kind"], transfer["by"], transfer["target"], transfer["outcome"]) == (
        "attended", "201", "+31201110000", "answered")


def test_an_attended_transfer_naming_an_ended_consultation_changes_nothing() -> None:
    """Carol hung up the consultation before Bob's REFER: the transfer is refused (declined), nothing is
    moved or stopped, the echo of that progress is not taken for a new transfer, and the recording paused
    by the hold runs again when Bob takes Alice back."""
    fixture, result = replayed("attended_transfer_after_the_consultation_ended")
    assert transfer_progress(fixture) == ["channel_declined"]
    assert not commands(fixture, "bridges.removeChannel") and not commands(fixture, "recordings.stop")[:-1]
    assert len(commands(fixture, "recordings.unpause")) == 1
    (call,) = [ended for ended in ends(result).values() if ended["transfers"]]
    assert [(t["kind"], t["target"], t["outcome"]) for t in call["transfers"]] == [("attended", "203", "refused")]
    assert len(parts(call)) == 2


def endpoints_rung(fixture: Fixture) -> list[str]:
    return [p["endpoint"] for p in commands(fixture, "channels.create")]


def chain(result: Replayed) -> list[tuple[str, str, str, str]]:
    return [(t["kind"], t["by"], t["target"], t["outcome"]) for t in the_end(result)["transfers"]]


def test_forwarding_always_rings_the_colleague_instead() -> None:
    """Bob (recorded) forwards every call to Carol: only Carol's desk rings; Alice hears the notice (Bob's
    policy follows the call); recorded; the chain says forwarded."""
    fixture, result = replayed("forwarded_always_to_a_colleague")
    assert endpoints_rung(fixture) == ["PJSIP/carol-desk"]
    assert [p["playbackId"].rsplit("-", 2)[-2:] for p in commands(fixture, "channels.playWithId")] == [
        ["notice", "caller"]]
    assert chain(result) == [("forward_always", "202", "203", "answered")]
    assert not the_end(result)["discarded"]


def test_forwarding_when_busy_goes_to_the_mobile_over_the_trunk() -> None:
    """Bob's desk busy: his forwarding's mobile is rung over the trunk; recorded."""
    fixture, result = replayed("forwarded_when_busy_to_a_mobile")
    assert endpoints_rung(fixture) == ["PJSIP/bob-desk", "PJSIP/+31201110000@lab-trunk"]
    assert chain(result) == [("forward_busy", "202", "+31201110000", "answered")]
    assert not the_end(result)["discarded"]


def test_forwarding_after_no_answer_brings_in_a_recorded_colleague_and_the_notice() -> None:
    """Bob (unrecorded) rings unanswered for his 5 s, then his calls go to Carol (recorded): Alice, who
    heard only ringing, now hears the notice before Carol rings; recorded."""
    fixture, result = replayed("forwarded_after_no_answer_to_a_recorded_colleague")
    assert [p["reason"] for p in commands(fixture, "channels.hangup")][:1] == ["no_answer"]
    assert [p["playbackId"].rsplit("-", 1)[-1] for p in commands(fixture, "channels.playWithId")] == ["forwarded"]
    assert chain(result) == [("forward_no_answer", "202", "203", "answered")]
    assert not the_end(result)["discarded"]


@pytest.mark.parametrize(("name", "picker"), [("picked_up_with_the_group_code", "203"),
                                              ("picked_up_with_the_directed_code", "204")])
def test_a_picked_up_call_is_answered_by_the_picker(name: str, picker: str) -> None:
    """The picker's channel is this call's (no CDR of its own, the call's id on it), answered when it
    joins; Bob's ringing desk is told answered elsewhere; recorded by Bob's policy; the chain names the
    picker."""
    fixture, result = replayed(name)
    variables = {(p["variable"], p["value"]) for p in commands(fixture, "channels.setChannelVar")}
    assert ("CDR_PROP(disable)", "1") in variables
    assert "answered_elsewhere" in [p["reason"] for p in commands(fixture, "channels.hangup")]
    assert len(commands(fixture, "channels.answer")) == 2
    assert chain(result) == [("pickup", picker, "202", "answered")]
    assert not the_end(result)["discarded"]


def test_a_users_mobile_number_from_an_untrusted_trunk_is_an_outside_caller() -> None:
    """Alice (recorded always) has that mobile, but the second carrier is not trusted: the call is an
    outside caller's, inbound, and not recorded (no snoop, no recording)."""
    fixture, result = replayed("untrusted_trunk_caller_id")
    (started,) = result.of_kind(entries.CALL_STARTED)
    assert (started["caller_user_id"], started["direction"]) == (None, "inbound")
    assert not commands(fixture, "channels.snoopChannelWithId") and the_end(result)["recording"] is None


def test_a_user_recorded_for_external_calls_only_is_not_recorded_calling_a_colleague() -> None:
    """Alice's internal switch is off: her call to Bob plays no notice and records nothing."""
    fixture, result = replayed("recorded_for_external_calls_only")
    assert not commands(fixture, "channels.playWithId") and not commands(fixture, "channels.snoopChannelWithId")
    assert the_end(result)["recording"] is None


def test_an_unrecorded_call_transferred_to_a_recorded_user_is_recorded_from_then_on() -> None:
    """Nobody recorded until Bob transfers Alice to Carol (recorded always): once Carol answered, Alice
    hears the notice in the bridge, then the recording starts (a new file, not appended to) before Carol
    joins."""
    fixture, result = replayed("blind_transfer_to_a_recorded_colleague")
    order = [(step["command"], step["params"]) for step in fixture.commands()]
    notice = next(i for i, (c, p) in enumerate(order) if c == "bridges.playWithId" and "notice" in p["playbackId"])
    (record,) = [i for i, (c, p) in enumerate(order) if c == "channels.record"]
    assert notice < record and order[record][1]["ifExists"] == "fail"
    ended = the_end(result)
    assert len(parts(ended)) == 1 and not ended["discarded"]


def test_a_recorded_callee_who_transfers_away_ends_the_recording() -> None:
    """Bob (recorded always) transfers Alice to Carol (neither recorded): the recording stops at the REFER
    and is not started again; the file is the part before."""
    fixture, result = replayed("blind_transfer_by_a_recorded_callee")
    assert len(commands(fixture, "channels.record")) == 1 and len(commands(fixture, "channels.snoopChannelWithId")) == 1
    ended = the_end(result)
    assert len(parts(ended)) == 1 and not ended["discarded"]
    assert [(t["kind"], t["outcome"]) for t in ended["transfers"]] == [("blind", "answered")]


def test_an_on_demand_users_pause_stays_through_a_transfer_until_the_code() -> None:
    """Alice's recording, paused by her code before Bob's transfer, is stopped at the REFER and not started
    again when Carol answers; her code then starts it again, appended to the same file: two parts."""
    fixture, result = replayed("on_demand_pause_across_a_transfer")
    records = commands(fixture, "channels.record")
    assert [r["ifExists"] for r in records] == ["fail", "append"] and len({r["name"] for r in records}) == 1
    order = [(step["command"], step["params"]) for step in fixture.commands()]
    carol_joined = max(i for i, (c, p) in enumerate(order) if c == "bridges.addChannel")
    appended = next(i for i, (c, p) in enumerate(order) if c == "channels.record" and p["ifExists"] == "append")
    assert carol_joined < appended  # resumed by her code, after Carol joined unrecorded
    ended = the_end(result)
    assert len(parts(ended)) == 2 and not ended["discarded"]
