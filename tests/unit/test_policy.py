"""Who is recorded, who hears the notice, what rings, and what the caller is told."""

from __future__ import annotations

from asterisk_rec.directory.models import Device, DeviceKind, FailMode, Organisation, RecordingMode, User
from asterisk_rec.policy import (
    CodeAction,
    DialStatus,
    Notice,
    Side,
    caller_status,
    dial_targets,
    feature_code_action,
    leg_status,
    plan_call,
    recording_runs,
)

ORG = Organisation(id=1, name="Acme", time_zone="Europe/Amsterdam", language="nl", fail_mode=FailMode.OPEN)


def user(mode: RecordingMode, language: str = "nl", devices: tuple[Device, ...] = ()) -> User:
    return User(id=id(mode) + len(language), organisation=ORG, extension="201", name="U", email=None,
                language=language, recording_mode=mode, devices=devices)


def test_outside_caller_to_recorded_user_hears_the_notice_in_the_users_language() -> None:
    """Incoming to an always-recorded user: the caller hears the notice in the user's language."""
    alice = user(RecordingMode.ALWAYS, "en")
    plan = plan_call(None, alice)
    assert plan.records and plan.recorded == (alice,)
    assert plan.notices == (Notice(to=Side.CALLER, language="en"),)


def test_recorded_user_calling_out_gives_the_callee_the_notice() -> None:
    """Outgoing from an always-recorded user: the callee hears it."""
    plan = plan_call(user(RecordingMode.ALWAYS, "nl"), None)
    assert plan.notices == (Notice(to=Side.CALLEE, language="nl"),)


def test_two_recorded_users_share_one_plan_and_both_hear_the_notice() -> None:
    """Internal call between two recorded users: both recorded (one recording), each hears the other's notice."""
    a, b = user(RecordingMode.ALWAYS, "nl"), user(RecordingMode.ALWAYS, "en")
    plan = plan_call(a, b)
    assert plan.recorded == (a, b)
    assert set(plan.notices) == {Notice(Side.CALLEE, "nl"), Notice(Side.CALLER, "en")}


def test_unrecorded_and_on_demand_calls_start_without_recording_or_notice() -> None:
    """Nobody always-on: nothing recorded and no notice; an on-demand user keeps the call in the app."""
    assert not plan_call(user(RecordingMode.OFF), None).involves_recording
    plan = plan_call(user(RecordingMode.OFF), user(RecordingMode.ON_DEMAND))
    assert not plan.records and not plan.notices and plan.involves_recording


def test_every_device_rings_and_the_mobile_is_capped() -> None:
    """Desk and app ring by endpoint, the mobile through the trunk for no longer than the cap."""
    devices = (Device(1, DeviceKind.DESK, "alice-desk", None), Device(2, DeviceKind.APP, "alice-app", None),
               Device(3, DeviceKind.MOBILE, None, "+31612345678"))
    targets = dial_targets(user(RecordingMode.ALWAYS, devices=devices), "lab-trunk", 30, 18)
    assert [(t.endpoint, t.ring_seconds) for t in targets] == [
        ("PJSIP/alice-desk", 30), ("PJSIP/alice-app", 30), ("PJSIP/+31612345678@lab-trunk", 18)]


def test_caller_status_when_nobody_answers() -> None:
    """A device that rang means no answer; otherwise busy beats unavailable; no devices is unavailable."""
    assert caller_status([DialStatus.BUSY, DialStatus.NOANSWER]) is DialStatus.NOANSWER
    assert caller_status([DialStatus.BUSY, DialStatus.CHANUNAVAIL]) is DialStatus.BUSY
    assert caller_status([DialStatus.CHANUNAVAIL]) is DialStatus.CHANUNAVAIL
    assert caller_status([]) is DialStatus.CHANUNAVAIL
    assert caller_status([DialStatus.BUSY, DialStatus.ANSWER]) is DialStatus.ANSWER


def test_leg_status_from_hangup_cause() -> None:
    """Busy and rejected are busy; no answer, or any end after ringing, is no answer; the rest unavailable."""
    assert leg_status(17, rang=False) is DialStatus.BUSY
    assert leg_status(21, rang=True) is DialStatus.BUSY
    assert leg_status(19, rang=False) is DialStatus.NOANSWER
    assert leg_status(16, rang=True) is DialStatus.NOANSWER
    assert leg_status(3, rang=False) is DialStatus.CHANUNAVAIL


def test_only_on_demand_and_always_users_sides_answer_to_the_code() -> None:
    """An unrecorded party's code is just digits; an on-demand user's toggles; with anyone always recorded
    the code is refused."""
    off, demand, always = user(RecordingMode.OFF), user(RecordingMode.ON_DEMAND), user(RecordingMode.ALWAYS)
    plan = plan_call(off, demand)
    assert plan.code_users == ((Side.CALLEE, demand),)
    assert feature_code_action(plan) is CodeAction.TOGGLE
    plan = plan_call(always, demand)
    assert [side for side, _ in plan.code_users] == [Side.CALLER, Side.CALLEE]
    assert feature_code_action(plan) is CodeAction.REFUSE
    assert plan_call(off, None).code_users == ()


def test_hold_pauses_but_unhold_does_not_resume_what_the_user_paused() -> None:
    """The recording runs only when started, not held and not paused by the user: unhold does not resume
    what the user paused."""
    assert recording_runs(started=True, paused_by_user=False, held=False)
    assert not recording_runs(started=True, paused_by_user=False, held=True)
    assert not recording_runs(started=True, paused_by_user=True, held=False)
    assert not recording_runs(started=False, paused_by_user=False, held=False)
