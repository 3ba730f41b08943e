"""Whom a caller may reach (pure), over every combination of caller and named organisation."""

from __future__ import annotations

import pytest

from asterisk_rec.callflow.admission import Caller, Refusal, may_call_outside, organisation_for

ANY: frozenset[str] = frozenset()
ONLY_ACME = frozenset({"acme"})


@pytest.mark.parametrize(("caller", "named", "trunk_orgs", "expected"), [
    # A user's device: its own organisation, named or not; another is refused.
    (Caller(False, "acme"), "acme", ANY, "acme"),
    (Caller(False, "acme"), "", ANY, "acme"),
    (Caller(False, "acme"), "globex", ANY, Refusal.WRONG_ORGANISATION),
    (Caller(False, "acme"), "globex", ONLY_ACME, Refusal.WRONG_ORGANISATION),
    # Not a user's device (a lobby phone): the named organisation, or none.
    (Caller(False, None), "acme", ANY, "acme"),
    (Caller(False, None), "", ANY, Refusal.NO_ORGANISATION),
    # The trunk: what the dialplan names for the number, within the trunk's organisations if set.
    (Caller(True, None), "acme", ANY, "acme"),
    (Caller(True, None), "globex", ANY, "globex"),
    (Caller(True, None), "acme", ONLY_ACME, "acme"),
    (Caller(True, None), "globex", ONLY_ACME, Refusal.TRUNK_ORGANISATION),
    (Caller(True, None), "", ANY, Refusal.NO_ORGANISATION),
    # A user's mobile over a trusted trunk: the named organisation (the number's), or the user's.
    (Caller(True, "acme"), "globex", ANY, "globex"),
    (Caller(True, "acme"), "", ANY, "acme"),
    (Caller(True, "acme"), "globex", ONLY_ACME, Refusal.TRUNK_ORGANISATION),
])
def test_the_organisation_a_call_is_made_in(caller: Caller, named: str, trunk_orgs: frozenset[str],
                                            expected: str | Refusal) -> None:
    """A device cannot name another tenant; the trunk only those it serves; nothing without one."""
    assert organisation_for(caller, named, trunk_orgs) == expected


@pytest.mark.parametrize(("caller", "allowed"), [
    (Caller(False, "acme"), True), (Caller(True, "acme"), True), (Caller(False, None), False),
    (Caller(True, None), False)])
def test_only_users_call_outside(caller: Caller, allowed: bool) -> None:
    """A user's device or trusted mobile may dial out through the trunk; an unknown phone or an outside
    caller may not (trunk to trunk)."""
    assert may_call_outside(caller) is allowed
