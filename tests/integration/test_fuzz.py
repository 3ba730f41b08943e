"""Every form and page of the portal, and the CLI, fuzzed with the whole of Unicode and the edges of
every type (dates, months, integers, sizes): a clear 4xx page or message, never a 5xx or a trace. As the
other organisation's admin (it has no users and no recordings to harm); the API's fuzz is in test_api.py."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path
from urllib.parse import quote

import anyio
import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.integration.conftest import Portal

EDGES = ["", " ", "0", "-1", "00", "2147483648", "-9223372036854775809", "9223372036854775808", "1e309", "NaN",
         "0001-01-01", "9999-12-31", "0000-00-00", "2026-02-30", "2026-13", "0001-01", "9999-12", "10000-01",
         "²", "٣", "①", "\u0000", "\u202e", "\ufeff", "💬", "../201", "%00", "' OR 1=1 --", "=1+1", "a" * 5000,
         "\U0010ffff", "\r\n", "\t", "\U0001d7da\U0001d7d8\U0001d7d9"]
# Any Unicode scalar value (lone surrogates cannot be sent as UTF-8).
TEXT = st.one_of(st.sampled_from(EDGES), st.text(st.characters(codec="utf-8"), max_size=30),
                 st.dates(min_value=date.min, max_value=date.max).map(str),
                 st.dates(min_value=date.min, max_value=date.max).map(lambda d: f"{d.year:04d}-{d.month:02d}"),
                 st.integers(min_value=-(2**70), max_value=2**70).map(str))
FUZZ = settings(max_examples=40, deadline=None, database=None, suppress_health_check=list(HealthCheck))

# Each form (fields, all fuzzed), and each page's query parameters.
FORMS = {
    "/login": ("email", "password", "next"),
    "/settings/recording": ("extension", "mode"),
    "/settings/retention": ("days", "confirm"),
    "/settings/bulk-download": ("on",),
    "/reports/exports": ("month", "extensions"),
    "/reports/calls/{}/legal-hold": ("hold",),
    "/settings/recording/{}/remove": (),
}
PAGES = {
    "/reports/calls": ("since", "until", "user", "number", "direction", "recorded", "page"),
    "/settings/audit": ("page",),
    "/settings/statement": ("month",),
    "/login": ("next",),
    "/language/{}": ("next",),
    "/reports/calls/{}/recording": ("download",),
    "/exports/{}/{}": ("expires", "sig"),
}


@pytest.fixture(scope="module")
async def session(portal: Portal) -> AsyncIterator[tuple[httpx.Client, str]]:
    """The other organisation's admin, logged in through the form: the client and its CSRF token."""
    with httpx.Client(base_url=portal.url, timeout=30) as client:
        def log_in() -> str:
            token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
            assert token is not None
            answer = client.post("/login", data={"csrf_token": token[1], "email": portal.other_admin.email,
                                                 "password": portal.other_admin.password})
            assert answer.status_code == 303, answer.text
            return token[1]

        yield client, await anyio.to_thread.run_sync(log_in)


def in_path(value: str) -> str:
    return quote(value, safe="") or "x"


def assert_clear(answer: httpx.Response, what: str) -> None:
    assert answer.status_code < 500, f"{what}: {answer.status_code}\n{answer.text[:2000]}"
    assert "Traceback" not in answer.text, what


@pytest.mark.anyio
@pytest.mark.parametrize("path", list(FORMS))
async def test_every_form_answers_any_input_clearly(session: tuple[httpx.Client, str], path: str) -> None:
    """Each form posted with generated values in every field (and in the path): a 2xx, 3xx or 4xx."""
    client, token = session

    @FUZZ
    @given(values=st.fixed_dictionaries({field: TEXT for field in FORMS[path]}), part=TEXT)
    def post(values: dict[str, str], part: str) -> None:
        url = path.format(in_path(part))
        answer = client.post(url, data={"csrf_token": token, **values}, follow_redirects=False)
        assert_clear(answer, f"POST {url} {values!r}")

    await anyio.to_thread.run_sync(post)


@pytest.mark.anyio
@pytest.mark.parametrize("path", list(PAGES))
async def test_every_page_answers_any_query_clearly(session: tuple[httpx.Client, str], path: str) -> None:
    """Each page asked for with generated query parameters (and path parts): never a 5xx."""
    client, _ = session

    @FUZZ
    @given(query=st.fixed_dictionaries({name: TEXT for name in PAGES[path]}), first=TEXT, second=TEXT)
    def get(query: dict[str, str], first: str, second: str) -> None:
        url = path.format(*[in_path(p) for p in (first, second)][:path.count("{}")])
        answer = client.get(url, params=query, follow_redirects=False)
        assert_clear(answer, f"GET {url} {query!r}")

    await anyio.to_thread.run_sync(get)


CLI_CASES = [
    ["calls", "list", "lab", "--from", value] for value in ("0000-01-01", "9999-99-99", "²٣", "\u202e2026-01-01")
] + [
    ["calls", "list", "lab", "--to", "9999-12-31"], ["calls", "list", "lab", "--user", "💬"],
    ["calls", "list", "lab", "--direction", "\u0085"], ["calls", "list", "lab", "--number", "%_\\"],
    ["calls", "download", "lab", "99999999999999999999999"], ["retention", "statement", "lab", "--month", "0001-00"],
    ["retention", "set", "lab", "²"], ["recording", "set", "lab", "2\u0663\u0661", "always"],
    ["recording", "set", "lab", "201", "al\u200bways"], ["org", "set", "nobody-\U0010ffff", "--fail-mode", "open"],
    ["user", "add", "lab", "\U0001d7da\U0001d7d8\U0001d7d9", "Name"], ["account", "list", "\ufeff"],
    ["purge", "--org", "\u202e"],
]


@pytest.mark.parametrize("args", CLI_CASES, ids=[" ".join(a)[:40] for a in CLI_CASES])
def test_the_cli_answers_any_input_clearly(lab_env_file: Path, args: list[str]) -> None:
    """Unicode digits, control characters, dates and numbers past their types: the CLI says what is wrong
    with an error id and exits 2 (or does it, exit 0); never a trace."""
    done = subprocess.run([sys.executable, "-m", "asterisk_rec", "--env-file", str(lab_env_file), *args],
                          capture_output=True, text=True, timeout=60, check=False, errors="replace")
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode in (0, 2), (done.returncode, done.stderr)
    if done.returncode == 2:
        assert re.search(r"\[[a-z_]+\]|usage:", done.stderr), done.stderr
