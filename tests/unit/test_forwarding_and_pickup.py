"""Call forwarding's and pickup's rules (pure): where a user's calls go, what a destination may be, who
is recorded when a call is forwarded (the callee's own recording follows the call), and which ringing
calls a pickup code may take."""

from __future__ import annotations

import pytest

from asterisk_rec.directory.models import (
    FailMode,
    Forwarding,
    ForwardWhen,
    Organisation,
    RecordingMode,
    User,
    forward_destination,
    forward_seconds,
)
from asterisk_rec.errors import InvalidInput
from asterisk_rec.policy import Notice, Pickup, Side, may_pick_up, pickup_of, plan_forwarded

ACME = Organisation(id=1, name="Acme", time_zone="Europe/Amsterdam", language="nl", fail_mode=FailMode.OPEN)


def user(extension: str, mode: RecordingMode, language: str = "nl") -> User:
    return User(id=int(extension), organisation=ACME, extension=extension, name=f"U{extension}", email=None,
                language=language, recording_mode=mode)


def test_each_condition_has_its_destination() -> None:
    """always, busy and no answer each name their own destination; none is off."""
    forwarding = Forwarding(always=None, busy="203", no_answer="+31612345678", no_answer_seconds=15)
    assert [forwarding.to(when) for when in ForwardWhen] == [None, "203", "+31612345678"]
    assert forwarding.is_on and not Forwarding().is_on


@pytest.mark.parametrize(("value", "expected"), [
    ("203", "203"), (" 203 ", "203"), ("", None), ("  ", None), ("+31 6 1234 5678", "+31612345678")])
def test_a_destination_is_an_extension_or_an_e164_number(value: str, expected: str | None) -> None:
    """Extensions as they are, numbers in E.164 without spaces; empty switches forwarding off."""
    assert forward_destination(value, "202") == expected


@pytest.mark.parametrize(("value", "message"), [
    ("202", "the user's own extension"), ("06123456789", "2 to 10 digits"), ("\uff12\uff10\uff13", "E.164"),
    ("+31", "E.164"), ("voicemail", "E.164"), ("2", "2 to 10 digits")])
def test_a_bad_destination_is_refused_with_a_reason(value: str, message: str) -> None:
    """The user's own extension (a loop), too long an extension, non-ASCII digits, words: refused."""
    with pytest.raises(InvalidInput, match=message):
        forward_destination(value, "202")


@pytest.mark.parametrize("seconds", [4, 121, -1, 0, 2**63])
def test_the_no_answer_time_is_bounded(seconds: int) -> None:
    """5 to 120 seconds."""
    with pytest.raises(InvalidInput, match="5 to 120"):
        forward_seconds(seconds)
    assert forward_seconds(5) == 5 and forward_seconds(120) == 120


def test_a_recorded_desks_calls_stay_recorded_wherever_they_are_answered() -> None:
    """Bob (recorded always) forwards to Carol (not recorded): the call is recorded (Bob's policy follows
    it), and the caller hears the notice in Bob's language."""
    bob, carol = user("202", RecordingMode.ALWAYS, "en"), user("203", RecordingMode.OFF)
    plan = plan_forwarded(user("201", RecordingMode.OFF), bob, carol)
    assert plan.recorded == (bob,) and plan.notices == (Notice(Side.CALLER, "en"),)
    assert plan_forwarded(None, bob, None).records  # from outside, to an outside number


def test_the_colleagues_own_policy_applies_too() -> None:
    """Bob not recorded forwards to Carol (recorded always): recorded by Carol's policy; a recorded
    caller's callee (Carol) hears the notice; no notice twice to one side."""
    alice, bob = user("201", RecordingMode.ALWAYS), user("202", RecordingMode.ALWAYS)
    carol = user("203", RecordingMode.ALWAYS, "en")
    plan = plan_forwarded(user("201", RecordingMode.OFF), user("202", RecordingMode.OFF), carol)
    assert plan.recorded == (carol,) and plan.notices == (Notice(Side.CALLER, "en"),)
    plan = plan_forwarded(alice, bob, carol)
    assert set(plan.recorded) == {alice, bob, carol}
    assert sorted(n.to.value for n in plan.notices) == ["callee", "caller"]
    assert not plan_forwarded(None, user("202", RecordingMode.ON_DEMAND), None).records


def test_pickup_codes_name_a_group_or_one_user() -> None:
    """The organisation's pickup code picks up the picker's group (none without a group); the directed
    prefix and an extension that user; anything else is no pickup."""
    carol = User(id=203, organisation=ACME, extension="203", name="C", email=None, language="nl",
                 recording_mode=RecordingMode.OFF, pickup_group="sales")
    bob = User(id=202, organisation=ACME, extension="202", name="B", email=None, language="nl",
               recording_mode=RecordingMode.OFF, pickup_group="sales")
    dave = user("204", RecordingMode.OFF)
    assert pickup_of("*8", carol) == Pickup(group="sales") and pickup_of("*8", dave) is None
    assert pickup_of("**202", dave) == Pickup(extension="202")
    for number in ("**", "**2", "**\uff12\uff10\uff12", "*9", "202", "**202x"):
        assert pickup_of(number, dave) is None, number
    assert may_pick_up(Pickup(group="sales"), carol, bob) and not may_pick_up(Pickup(group="sales"), carol, dave)
    assert may_pick_up(Pickup(extension="202"), dave, bob) and not may_pick_up(Pickup(extension="202"), bob, bob)
    assert not may_pick_up(Pickup(extension="202"), dave, None)
