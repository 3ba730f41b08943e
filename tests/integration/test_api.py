"""The JSON API against the running service and the lab: who sees what, the recording streamed with
Range, legal hold and recording settings audited, bad input answered 4xx with a clear message, every
described route exercised here, and a schemathesis fuzz that finds no 5xx."""

from __future__ import annotations

import hashlib
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from asterisk_rec.accounts.store import AccountStore
from asterisk_rec.adapters.db import Database
from asterisk_rec.config import Settings
from asterisk_rec.directory.models import SCOPE_SWITCHES
from asterisk_rec.directory.store import DirectoryStore
from asterisk_rec.lab.directory import LAB_ORGANISATION
from asterisk_rec.testing.sipp import ALICE_DESK, BOB_DESK, CAROL_DESK
from tests.integration.calls import Records
from tests.integration.conftest import PASSWORD, Login, Portal, ServiceProcess, SetModes
from tests.integration.phones import talk

pytestmark = pytest.mark.anyio

# Every route of the OpenAPI description, as this module exercises it.
EXERCISED = {
    ("get", "/api/v1/me"), ("get", "/api/v1/calls"), ("get", "/api/v1/calls/{call_id}"),
    ("get", "/api/v1/calls/{call_id}/recording"), ("put", "/api/v1/calls/{call_id}/legal-hold"),
    ("delete", "/api/v1/calls/{call_id}/legal-hold"), ("get", "/api/v1/users"), ("get", "/api/v1/recording/users"),
    ("put", "/api/v1/recording/users/{extension}"), ("delete", "/api/v1/recording/users/{extension}"),
    ("get", "/api/v1/audit"),
    # test_retention_export.py:
    ("get", "/api/v1/retention"), ("put", "/api/v1/retention"), ("put", "/api/v1/bulk-download"),
    ("get", "/api/v1/statement"), ("post", "/api/v1/exports"), ("get", "/api/v1/exports"),
    # test_accounts.py:
    ("get", "/api/v1/accounts"), ("put", "/api/v1/accounts/{account_id}/disabled"),
    ("delete", "/api/v1/accounts/{account_id}"),
    # test_forwarding.py:
    ("put", "/api/v1/users/{extension}/forwarding"),
    # test_completeness.py:
    ("get", "/api/v1/completeness"),
}


@dataclass(frozen=True)
class TwoCalls:
    recorded: dict[str, Any]  # Alice -> Bob, Alice recorded always
    unrecorded: dict[str, Any]  # Alice -> Carol, nobody recorded
    archive_file: Path


@pytest.fixture(scope="module")
async def two_calls(settings: Settings, service: ServiceProcess,
                    tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[TwoCalls]:
    workdir = tmp_path_factory.mktemp("api-calls")
    async with Database(settings.database, max_size=2) as db:
        records = Records(db, Path(settings.archive.root))
        directory = DirectoryStore(db)
        await directory.set_recording(LAB_ORGANISATION, "201", "always", **dict.fromkeys(SCOPE_SWITCHES, True))
        before = await records.snapshot()
        try:
            await talk(workdir / "recorded", ALICE_DESK, "202", BOB_DESK)
        finally:
            await directory.set_recording(LAB_ORGANISATION, "201", "off")
        recorded = await records.one_call(before, caller="201", callee="202", disposition="answered")
        await records.new_recording(before, linked_to=recorded)
        (stored,) = await records.stored_since(before)
        before = await records.snapshot()
        await talk(workdir / "unrecorded", ALICE_DESK, "203", CAROL_DESK)
        unrecorded = await records.one_call(before, caller="201", callee="203", disposition="answered")
        yield TwoCalls(recorded, unrecorded, records.archive_root / stored["path"])


def assert_error(response: httpx.Response, status: int, error_id: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error_id"] == error_id and body["message"], body


async def test_every_described_route_is_exercised(portal: Portal) -> None:
    """The OpenAPI description lists exactly the routes this module tests."""
    async with httpx.AsyncClient(base_url=portal.url) as client:
        description = (await client.get("/api/openapi.json")).json()
    described = {(method, path) for path, item in description["paths"].items() for method in item}
    assert described == EXERCISED


async def test_the_admin_finds_the_call_and_streams_its_recording(portal: Portal, two_calls: TwoCalls) -> None:
    """The lab's admin lists both calls (newest first), reads the recorded one, and gets its recording:
    whole, equal to the archived file, and in parts (206 with Content-Range)."""
    async with portal.api(portal.admin) as api:
        assert (await api.get("/api/v1/me")).json()["role"] == "admin"
        listed = (await api.get("/api/v1/calls", params={"page_size": 50})).json()["calls"]
        ids = [c["id"] for c in listed]
        assert ids.index(two_calls.unrecorded["id"]) < ids.index(two_calls.recorded["id"])
        recorded = (await api.get("/api/v1/calls", params={"recorded": "true", "number": "202"})).json()["calls"]
        assert two_calls.recorded["id"] in [c["id"] for c in recorded]
        assert two_calls.unrecorded["id"] not in [c["id"] for c in recorded]
        call = (await api.get(f"/api/v1/calls/{two_calls.recorded['id']}")).json()
        assert call["recorded"] and call["caller"] == "201" and call["callee"] == "202"
        whole = await api.get(call["recording_url"], params={"download": "true"})
        assert whole.status_code == 200 and "attachment" in whole.headers["content-disposition"]
        assert hashlib.sha256(whole.content).digest() == hashlib.sha256(two_calls.archive_file.read_bytes()).digest()
        part = await api.get(call["recording_url"], headers={"Range": "bytes=100-299"})
        assert part.status_code == 206
        assert part.headers["content-range"] == f"bytes 100-299/{len(whole.content)}"
        assert part.content == whole.content[100:300]


async def test_another_organisations_admin_gets_not_found(portal: Portal, two_calls: TwoCalls) -> None:
    """The other organisation's admin sees none of the lab's calls: 404 for the call, its recording and its
    legal hold; their call list does not hold it."""
    call_id = two_calls.recorded["id"]
    async with portal.api(portal.other_admin) as api:
        for response in (await api.get(f"/api/v1/calls/{call_id}"),
                         await api.get(f"/api/v1/calls/{call_id}/recording"),
                         await api.put(f"/api/v1/calls/{call_id}/legal-hold")):
            assert_error(response, 404, "not_found")
        listed = (await api.get("/api/v1/calls", params={"page_size": 200})).json()["calls"]
        assert call_id not in [c["id"] for c in listed]


async def test_a_plain_user_sees_only_their_own_calls(portal: Portal, two_calls: TwoCalls) -> None:
    """Bob's account sees Alice's call to him, not her call to Carol (404), and no admin routes (403)."""
    async with portal.api(portal.bob) as api:
        listed = (await api.get("/api/v1/calls", params={"page_size": 200})).json()["calls"]
        # His calls by user, whatever was dialled (8202 reaches his desk phone outside asterisk-rec too).
        assert listed and all("Bob de Boer" in (c["caller_name"], c["callee_name"]) for c in listed)
        assert two_calls.recorded["id"] in [c["id"] for c in listed]
        assert_error(await api.get(f"/api/v1/calls/{two_calls.unrecorded['id']}"), 404, "not_found")
        assert (await api.get(f"/api/v1/calls/{two_calls.recorded['id']}/recording")).status_code == 200
        assert_error(await api.get("/api/v1/users"), 403, "forbidden")
        assert_error(await api.put(f"/api/v1/calls/{two_calls.recorded['id']}/legal-hold"), 403, "forbidden")


async def test_bad_input_gets_a_clear_client_error(portal: Portal, two_calls: TwoCalls) -> None:
    """Wrong types, unknown ids, path tricks, a bad body, no or a wrong token: each a 4xx with an error id
    and a message; nothing changes."""
    async with portal.api(portal.admin) as api:
        assert_error(await api.get("/api/v1/calls", params={"page": "abc"}), 400, "invalid_input")
        assert_error(await api.get("/api/v1/calls", params={"from": "2026-02-30"}), 400, "invalid_input")
        assert_error(await api.get("/api/v1/calls", params={"from": "2026-02-01", "to": "2026-01-01"}), 400,
                     "invalid_input")
        assert_error(await api.get("/api/v1/calls", params={"direction": "sideways"}), 400, "invalid_input")
        assert_error(await api.get("/api/v1/calls", params={"user": "999"}), 404, "not_found")
        assert_error(await api.get("/api/v1/calls/abc"), 400, "invalid_input")
        assert_error(await api.get("/api/v1/calls/999999999999"), 404, "not_found")
        assert_error(await api.get(f"/api/v1/calls/{two_calls.unrecorded['id']}/recording"), 404, "not_found")
        assert (await api.get("/api/v1/calls/..%2F..%2Fetc%2Fpasswd/recording")).status_code in (400, 404)
        assert_error(await api.put("/api/v1/recording/users/..201", json={"mode": "always"}), 400,
                     "invalid_input")
        traversal = await api.put("/api/v1/recording/users/..%2F201", json={"mode": "always"})
        assert_error(traversal, 404, "not_found")
        assert "/api/v1/recording/users/../201" in traversal.json()["message"]
        assert_error(await api.put("/api/v1/recording/users/201", json={"mode": "sometimes"}), 400, "invalid_input")
        assert_error(await api.put("/api/v1/recording/users/201", content=b"not json"), 400, "invalid_input")
        assert_error(await api.put("/api/v1/recording/users/999", json={"mode": "always"}), 404, "not_found")
        users = {u["extension"]: u["recording"] for u in (await api.get("/api/v1/users")).json()}
        assert users["201"] == "off"
    async with httpx.AsyncClient(base_url=portal.url) as anonymous:
        assert_error(await anonymous.get("/api/v1/calls"), 401, "unauthenticated")
        assert_error(await anonymous.get("/api/v1/me", headers={"Authorization": "Bearer arec_wrong"}), 401,
                     "unauthenticated")
        assert_error(await anonymous.get("/api/v1/nothing-here"), 404, "not_found")


async def test_holds_and_settings_changes_are_audited(portal: Portal, two_calls: TwoCalls,
                                                      set_modes: SetModes) -> None:
    """Legal hold put and released, Carol recorded on demand (then for outgoing external calls only; a
    scope recording nothing or a bad switch refused, changing nothing) then not, a listen: each in the
    audit log with who and from where; the settings show the change."""
    await set_modes()
    call_id = two_calls.recorded["id"]
    async with portal.api(portal.admin) as api:
        assert (await api.put(f"/api/v1/calls/{call_id}/legal-hold")).json()["legal_hold"] is True
        assert (await api.delete(f"/api/v1/calls/{call_id}/legal-hold")).json()["legal_hold"] is False
        assert (await api.put("/api/v1/recording/users/203", json={"mode": "on_demand"})).json()["recording"] == \
            "on_demand"
        assert [u["extension"] for u in (await api.get("/api/v1/recording/users")).json()] == ["203"]
        scoped = (await api.put("/api/v1/recording/users/203", json={"incoming": False, "internal": False})).json()
        assert (scoped["recording"], scoped["recorded_calls"]) == (
            "on_demand", {"incoming": False, "outgoing": True, "internal": False, "external": True})
        assert_error(await api.put("/api/v1/recording/users/203", json={"outgoing": False}), 400, "invalid_input")
        assert_error(await api.put("/api/v1/recording/users/203", json={}), 400, "invalid_input")
        assert_error(await api.put("/api/v1/recording/users/203", json={"external": "sometimes"}), 400,
                     "invalid_input")
        (carol,) = [u for u in (await api.get("/api/v1/users")).json() if u["extension"] == "203"]
        assert carol["recorded_calls"] == scoped["recorded_calls"]  # the refusals changed nothing
        assert (await api.delete("/api/v1/recording/users/203")).json()["recording"] == "off"
        await api.get(f"/api/v1/calls/{call_id}/recording")
        entries = (await api.get("/api/v1/audit")).json()
    mine = [(e["action"], e["subject"]) for e in entries if e["actor"] == portal.admin.email]
    scope_change = [e["details"] for e in entries if e["actor"] == portal.admin.email and "calls_to" in e["details"]]
    assert scope_change[0] == {"from": "on_demand", "to": "on_demand",
                               "calls_from": ["incoming", "outgoing", "internal", "external"],
                               "calls_to": ["outgoing", "external"]}
    for expected in [("listen", f"call {call_id}"), ("recording_set", "user 203"),
                     ("legal_hold_released", f"call {call_id}"), ("legal_hold", f"call {call_id}")]:
        assert expected in mine, mine
    assert all(e["remote_address"] == "127.0.0.1" for e in entries if e["actor"] == portal.admin.email)


async def test_a_fuzz_of_the_api_finds_no_server_error(portal: Portal, two_calls: TwoCalls, set_modes: SetModes,
                                                       tmp_path: Path) -> None:
    """schemathesis generates requests for every route of the description (as the admin of the other
    organisation, whose bulk downloads are empty): none is answered with a 5xx."""
    command = [str(Path(sys.executable).parent / "schemathesis"), "run", f"{portal.url}/api/openapi.json",
               "--checks", "not_a_server_error", "--max-examples", "60", "--generation-deterministic",
               "--request-timeout", "10", "-H", f"Authorization: Bearer {portal.other_admin.token}"]
    try:
        with anyio.fail_after(600):
            fuzz = await anyio.run_process(command, cwd=tmp_path, check=False)
    finally:
        await set_modes()
    assert fuzz.returncode == 0, fuzz.stdout.decode()[-5000:] + fuzz.stderr.decode()[-2000:]


RANGE_FORMS = [None, "bytes=0-", "bytes=1-", "bytes=-100", "bytes=100-299", "bytes=5-10,0-1", "bytes=0000-",
               "bytes = 0-", "bytes=999999999-", "items=0-"]


async def test_every_listen_is_audited_whatever_its_range(settings: Settings, portal: Portal,
                                                          two_calls: TwoCalls) -> None:
    """Each Range form (none, from 0, from 1, a suffix, a middle, several, zero-padded, spaced, past the
    end, another unit), asked by an account of its own, is one listen in the audit log; that account's
    further requests (seeking) add none."""
    call_id = two_calls.recorded["id"]
    run = uuid.uuid4().hex[:8]
    async with Database(settings.database, max_size=1) as db:
        accounts = AccountStore(db)
        logins = []
        for n in range(len(RANGE_FORMS)):
            email = f"listener{n}-{run}@api.example"
            await accounts.add(LAB_ORGANISATION, email, f"Listener {n}", "admin", PASSWORD, language="en")
            logins.append(Login(email, PASSWORD, await accounts.issue_token(email, "tests")))
        try:
            for login, form in zip(logins, RANGE_FORMS, strict=True):
                async with portal.api(login) as api:
                    headers = {"Range": form} if form else {}
                    answer = await api.get(f"/api/v1/calls/{call_id}/recording", headers=headers)
                    assert answer.status_code in (200, 206, 400, 416), (form, answer.status_code)
                    await api.get(f"/api/v1/calls/{call_id}/recording", headers={"Range": "bytes=200-"})
            async with portal.api(portal.admin) as api:
                entries = [e for page in (1, 2) for e in (await api.get("/api/v1/audit", params={"page": page})).json()]
            for login, form in zip(logins, RANGE_FORMS, strict=True):
                listens = [e for e in entries if e["actor"] == login.email and e["action"] == "listen"]
                assert len(listens) == 1, (form, listens)
        finally:
            async with db.pool.connection() as conn:
                await conn.execute("DELETE FROM accounts WHERE email LIKE %s", (f"%-{run}@api.example",))
