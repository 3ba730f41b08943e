"""Several trunks from the configuration: which endpoints are trunks, which are trusted to name a user's
mobile by caller id, which one an organisation calls out on; mistakes are refused with the setting named."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from asterisk_rec.config import CallSettings
from asterisk_rec.errors import ConfigError
from asterisk_rec.trunks import Trunk, Trunks


def test_trunks_trust_and_the_organisations_trunk_out() -> None:
    """Only the trusted trunks are trusted; an organisation calls out on its own trunk, others on the first."""
    trunks = Trunks.parse("carrier-a, mobile-op,site-b", "mobile-op",
                          "Acme B.V.=site-b; Globex, Inc.=mobile-op; a=b=carrier-a")
    assert trunks.all == (Trunk("carrier-a"), Trunk("mobile-op", True), Trunk("site-b"))
    assert trunks.named("mobile-op") == Trunk("mobile-op", True)
    assert trunks.named("alice-desk") is None and trunks.named(None) is None
    assert trunks.outgoing("Acme B.V.").endpoint == "site-b"
    assert trunks.outgoing("Globex, Inc.").endpoint == "mobile-op"
    assert trunks.outgoing("a=b").endpoint == "carrier-a"  # the last "=" splits: trunk names have none
    assert trunks.outgoing("anyone else").endpoint == "carrier-a"
    assert trunks.endpoints == {"carrier-a", "mobile-op", "site-b"}


@pytest.mark.parametrize(("trunks", "trusted", "outgoing", "message"), [
    ("", "", "", "calls.trunks: name at least one trunk"),
    (" , ", "", "", "calls.trunks: name at least one trunk"),
    ("a, a", "", "", "a trunk is named twice"),
    ("carrier a", "", "", "calls.trunks: 'carrier a' is not a PJSIP endpoint name"),
    ("trünk", "", "", "not a PJSIP endpoint name"),
    ("a", "b", "", "calls.trusted_trunks: b not in calls.trunks"),
    ("a", "", "acme", "calls.outgoing_trunks: 'acme' is not organisation=trunk"),
    ("a", "", "=a", "is not organisation=trunk"),
    ("a", "", "acme=b", "'b' (for 'acme') not in calls.trunks"),
    ("a", "", "acme=a; acme=a", "'acme' given twice"),
])
def test_mistakes_are_refused_naming_the_setting(trunks: str, trusted: str, outgoing: str, message: str) -> None:
    """Each mistake gets a ConfigError that says which setting and what is wrong."""
    with pytest.raises(ConfigError, match=re.escape(message)):
        Trunks.parse(trunks, trusted, outgoing)


def test_the_settings_check_their_trunks_when_read() -> None:
    """A CallSettings with a bad trunk list is refused at once, not at the first call."""
    with pytest.raises(ConfigError, match=r"calls\.trusted_trunks"):
        CallSettings(trunks="lab-trunk", trusted_trunks="other")
    assert CallSettings(trunks="a,b", trusted_trunks="b").trunk_plan.named("b") == Trunk("b", True)


@given(st.text(), st.text(), st.text())
def test_any_unicode_is_a_trunk_plan_or_a_config_error(trunks: str, trusted: str, outgoing: str) -> None:
    """Whatever the text (the whole of Unicode), parsing ends in a plan whose every trunk is a valid name,
    or in a ConfigError: never another exception."""
    try:
        plan = Trunks.parse(trunks, trusted, outgoing)
    except ConfigError:
        return
    assert plan.all and all(t.endpoint.isascii() for t in plan.all)
    assert {t.endpoint for t in plan.outgoing_by_organisation.values()} <= plan.endpoints
