"""Which of a recorded user's calls are recorded: four switches (incoming, outgoing, internal, external),
checked over every combination of switches, modes, sides and reaches."""

from __future__ import annotations

import itertools

import pytest

from asterisk_rec.directory.models import (
    ALL_CALLS,
    SCOPE_SWITCHES,
    FailMode,
    Organisation,
    Reach,
    RecordingMode,
    RecordingScope,
    User,
)
from asterisk_rec.errors import InvalidInput
from asterisk_rec.policy import Notice, Side, plan_call, reach_of

ACME = Organisation(id=1, name="Acme", time_zone="Europe/Amsterdam", language="nl", fail_mode=FailMode.OPEN)
OTHER = Organisation(id=2, name="Other", time_zone="Europe/Amsterdam", language="en", fail_mode=FailMode.OPEN)

EVERY_SCOPE = [RecordingScope(*values) for values in itertools.product((True, False), repeat=4)]
VALID_SCOPES = [s for s in EVERY_SCOPE if (s.incoming or s.outgoing) and (s.internal or s.external)]


def user(mode: RecordingMode, scope: RecordingScope = ALL_CALLS, organisation: Organisation = ACME,
         extension: str = "201") -> User:
    return User(id=int(extension) + organisation.id * 1000, organisation=organisation, extension=extension,
                name=f"U{extension}", email=None, language=organisation.language, recording_mode=mode,
                recording_scope=scope)


def test_reach_is_internal_only_between_users_of_one_organisation() -> None:
    """Both parties users of one organisation: internal. An outside party, or another organisation's user:
    external."""
    a, b = user(RecordingMode.OFF, extension="201"), user(RecordingMode.OFF, extension="202")
    assert reach_of(a, b) is Reach.INTERNAL
    assert reach_of(a, None) is Reach.EXTERNAL and reach_of(None, b) is Reach.EXTERNAL
    assert reach_of(None, None) is Reach.EXTERNAL
    assert reach_of(a, user(RecordingMode.OFF, organisation=OTHER)) is Reach.EXTERNAL


@pytest.mark.parametrize("scope", EVERY_SCOPE, ids=lambda s: "+".join(s.switched_on) or "none")
@pytest.mark.parametrize("mode", list(RecordingMode))
@pytest.mark.parametrize("side", list(Side))
@pytest.mark.parametrize("internal", [True, False], ids=["internal", "external"])
def test_a_user_is_recorded_exactly_when_mode_and_both_switches_say_so(
        scope: RecordingScope, mode: RecordingMode, side: Side, internal: bool) -> None:
    """The user (caller or callee, the other party unrecorded) is recorded from the start when always on
    and the call's direction and reach are both switched on; may switch it on when on demand, under the
    same condition; otherwise the call is none of the user's recording: no notice, no feature code."""
    subject = user(mode, scope)
    other = user(RecordingMode.OFF, extension="299") if internal else None
    caller, callee = (subject, other) if side is Side.CALLER else (other, subject)
    plan = plan_call(caller, callee)
    direction_on = scope.outgoing if side is Side.CALLER else scope.incoming
    reach_on = scope.internal if internal else scope.external
    covered = direction_on and reach_on
    assert plan.records is (covered and mode is RecordingMode.ALWAYS)
    assert (subject in plan.on_demand) is (covered and mode is RecordingMode.ON_DEMAND)
    assert plan.involves_recording is (covered and mode is not RecordingMode.OFF)
    other_side = Side.CALLEE if side is Side.CALLER else Side.CALLER
    expected_notices = (Notice(other_side, "nl"),) if plan.records else ()
    assert plan.notices == expected_notices
    assert plan.code_users == (((side, subject),) if plan.involves_recording else ())


@pytest.mark.parametrize("caller_scope", VALID_SCOPES, ids=lambda s: "+".join(s.switched_on))
@pytest.mark.parametrize("callee_scope", VALID_SCOPES, ids=lambda s: "+".join(s.switched_on))
def test_two_recorded_users_each_follow_their_own_switches(caller_scope: RecordingScope,
                                                           callee_scope: RecordingScope) -> None:
    """An internal call between two always-recorded users: each is recorded by their own switches (the
    caller's outgoing, the callee's incoming, both internal), and the call is recorded if either is."""
    caller = user(RecordingMode.ALWAYS, caller_scope, extension="201")
    callee = user(RecordingMode.ALWAYS, callee_scope, extension="202")
    plan = plan_call(caller, callee)
    expected = tuple(u for u, on in ((caller, caller_scope.outgoing and caller_scope.internal),
                                     (callee, callee_scope.incoming and callee_scope.internal)) if on)
    assert plan.recorded == expected
    assert plan.records is bool(expected)


def test_external_only_records_the_outside_call_and_not_the_colleague() -> None:
    """The issue's case: a user recorded for external calls only."""
    scope = ALL_CALLS.changed(internal=False)
    trader = user(RecordingMode.ALWAYS, scope)
    colleague = user(RecordingMode.OFF, extension="202")
    assert not plan_call(trader, colleague).records and not plan_call(colleague, trader).records
    assert plan_call(trader, None).records and plan_call(None, trader).records


@pytest.mark.parametrize("scope", EVERY_SCOPE, ids=lambda s: "+".join(s.switched_on) or "none")
def test_a_scope_that_records_no_call_is_refused_with_a_clear_error(scope: RecordingScope) -> None:
    """Changing to a scope records something, or is refused saying what to switch on; unchanged switches
    (None) keep their value."""
    switches = dict(zip(SCOPE_SWITCHES, (scope.incoming, scope.outgoing, scope.internal, scope.external),
                        strict=True))
    if scope in VALID_SCOPES:
        assert ALL_CALLS.changed(**switches) == scope
        assert scope.changed() == scope
    else:
        with pytest.raises(InvalidInput, match="switch on incoming or outgoing, and internal or external"):
            ALL_CALLS.changed(**switches)


def test_unknown_switches_are_refused() -> None:
    """A switch the scope does not have is an error, not ignored."""
    with pytest.raises(InvalidInput, match="unknown switch"):
        ALL_CALLS.changed(inbound=False)
