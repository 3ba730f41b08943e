"""The portal's pure parts: the calls query and its SQL, date bounds in the organisation's time zone,
download names, the words in two languages, and where a login may send you."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from asterisk_rec.calls.query import CallQuery, day, day_bounds, direction, download_name, page_sql
from asterisk_rec.calls.summary import Direction
from asterisk_rec.errors import InvalidInput
from asterisk_rec.web.i18n import translator
from asterisk_rec.web.portal import _safe_next

AMSTERDAM = ZoneInfo("Europe/Amsterdam")


def test_a_query_refuses_what_it_cannot_mean() -> None:
    """A range ending before it starts, a number with letters or SQL, page 0, a page of 1,000 rows, an
    unknown direction or date: each refused with a message naming it."""
    for bad, match in ((dict(since=date(2026, 2, 1), until=date(2026, 1, 1)), "date range"),
                       (dict(number="12'; DROP"), "number"), (dict(number="../etc"), "number"),
                       (dict(page=0), "page"), (dict(page_size=1000), "page size")):
        with pytest.raises(InvalidInput, match=match):
            CallQuery(**bad)
    with pytest.raises(InvalidInput, match="direction"):
        direction("sideways")
    with pytest.raises(InvalidInput, match="from"):
        day("2026-02-30", "from")
    assert direction("inbound") is Direction.INBOUND and direction("") is None and day("", "x") is None


def test_days_are_the_organisations_days() -> None:
    """From 1 to 31 July in Amsterdam (summer time) is 30 June 22:00 to 31 July 22:00 UTC."""
    start, end = day_bounds(CallQuery(since=date(2026, 7, 1), until=date(2026, 7, 31)), AMSTERDAM)
    assert start is not None and end is not None
    assert start.astimezone(UTC) == datetime(2026, 6, 30, 22, tzinfo=UTC)
    assert end.astimezone(UTC) == datetime(2026, 7, 31, 22, tzinfo=UTC)
    assert day_bounds(CallQuery(), AMSTERDAM) == (None, None)


def test_the_page_sql_has_each_filter_as_a_parameter() -> None:
    """Every filter becomes a condition with its value as a parameter (never in the SQL text); the number
    is a LIKE pattern matching anywhere; a plain user's scope is always there; one row more than the page
    is asked for, from the page's offset."""
    query = CallQuery(since=date(2026, 1, 1), user_id=7, number="+3161", direction=Direction.OUTBOUND,
                      recorded_only=True, page=3, page_size=25)
    sql, params = page_sql(query, 42, AMSTERDAM, only_user_id=9)
    assert "+3161" not in sql and "co.started_at >= %(start)s" in sql and "co.recorded" in sql
    assert params["number"] == "%+3161%" and params["org"] == 42 and params["user"] == 7
    assert params["scope"] == 9 and params["direction"] == "outbound"
    assert (params["limit"], params["offset"]) == (26, 50)
    plain, plain_params = page_sql(CallQuery(), 42, AMSTERDAM)
    assert "LIKE" not in plain and "scope" not in plain_params and "co.recorded" not in plain


def test_download_names_carry_local_time_and_parties_only() -> None:
    """Date and time in the organisation's zone, then the parties with anything but digits, letters and
    + * # - made harmless (no path separators)."""
    started = datetime(2026, 11, 28, 13, 30, 5, tzinfo=UTC)
    assert download_name(started, "201", "+31612345678", "mp3", AMSTERDAM) == "2026-11-28_143005_201_+31612345678.mp3"
    assert download_name(started, "../../etc", None, "wav", AMSTERDAM) == "2026-11-28_143005_etc_unknown.wav"


def test_the_portal_speaks_dutch_and_english() -> None:
    """The manual's menu names in Dutch, their English names, and Dutch for an unknown language."""
    assert translator("nl")("call_recording") == "Gespreksopname"
    assert translator("nl")("calls") == "Gesprekken"
    assert translator("en")("call_recording") == "Call recording"
    assert translator("de")("settings") == "Instellingen"


def test_a_login_only_sends_you_within_the_portal() -> None:
    """After logging in: a path of the portal, never another site (//evil, http://, backslashes)."""
    assert _safe_next("/settings/recording") == "/settings/recording"
    for outside in ("//evil.example/", "http://evil.example/", "/\\evil.example", "", None):
        assert _safe_next(outside) == "/reports/calls"


def test_the_edges_of_the_calendar_are_ranges_not_errors() -> None:
    """From the first day there is to the last: no overflow, the last day has no upper bound; the last
    month there is cannot be counted (its end is past the last date) and is refused clearly."""
    from asterisk_rec.retention.policy import parse_month

    start, end = day_bounds(CallQuery(since=date.min, until=date.max), ZoneInfo("Europe/Amsterdam"))
    assert start is not None and start.date() == date.min and end is None
    assert parse_month("9999-11") == date(9999, 11, 1)
    with pytest.raises(InvalidInput, match="before 9999-12"):
        parse_month("9999-12")
