"""Accounts against the running portal: admins disable, enable and delete their organisation's accounts
(API and CLI), and every session of an account ends at once when it logs out, gets a new password or is
disabled; a session never outlives web.session_hours however often its cookie is renewed; failed logins
are limited per account; a directory user with a portal account can be removed."""

from __future__ import annotations

import json
import sys
import time
import uuid
from base64 import b64encode
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import httpx
import itsdangerous
import pytest

from asterisk_rec.accounts.store import AccountStore
from asterisk_rec.adapters.db import Database
from asterisk_rec.config import Settings
from asterisk_rec.directory.store import DirectoryStore
from asterisk_rec.lab.directory import LAB_ORGANISATION
from tests.integration.conftest import PASSWORD, Login, Portal

pytestmark = pytest.mark.anyio


@pytest.fixture
async def someone(settings: Settings, portal: Portal) -> AsyncIterator[tuple[int, Login]]:
    """A fresh admin account of the lab's organisation, removed after the test."""
    email = f"someone-{uuid.uuid4().hex[:8]}@accounts.example"
    async with Database(settings.database, max_size=1) as db:
        accounts = AccountStore(db)
        made = await accounts.add(LAB_ORGANISATION, email, "Someone", "admin", PASSWORD, language="en")
        yield made.id, Login(email, PASSWORD, await accounts.issue_token(email, "tests"))
        async with db.pool.connection() as conn:
            await conn.execute("DELETE FROM accounts WHERE id = %s", (made.id,))


async def logged_in(client: httpx.AsyncClient) -> bool:
    answer = await client.get("/reports/calls")
    return answer.status_code == 200


async def cli(env_file: Path, *args: str) -> str:
    done = await anyio.run_process([sys.executable, "-m", "asterisk_rec", "--env-file", str(env_file), *args],
                                   check=False)
    assert done.returncode == 0, done.stderr.decode()
    return done.stdout.decode()


async def test_a_disabled_account_loses_its_sessions_tokens_and_login(portal: Portal,
                                                                       someone: tuple[int, Login]) -> None:
    """The admin disables an account over the API: its open session ends, its token is refused, it cannot
    log in; enabled again, it logs in. Disabling oneself is refused; another organisation's account is not
    found; both changes are in the audit log."""
    account_id, login = someone
    async with portal.session(login) as session, portal.api(portal.admin) as admin, portal.api(login) as own:
        assert await logged_in(session)
        listed = (await admin.get("/api/v1/accounts")).json()
        assert any(a["id"] == account_id and not a["disabled"] for a in listed)
        disabled = await admin.put(f"/api/v1/accounts/{account_id}/disabled", json={"disabled": True})
        assert disabled.status_code == 200 and disabled.json()["disabled"] is True, disabled.text
        assert not await logged_in(session)
        assert (await own.get("/api/v1/me")).status_code == 401
        me = next(a["id"] for a in listed if a["email"] == portal.admin.email)
        assert (await admin.put(f"/api/v1/accounts/{me}/disabled", json={"disabled": True})).status_code == 409
        async with portal.api(portal.other_admin) as other:
            assert (await other.put(f"/api/v1/accounts/{account_id}/disabled",
                                    json={"disabled": False})).status_code == 404
        enabled = await admin.put(f"/api/v1/accounts/{account_id}/disabled", json={"disabled": False})
        assert enabled.json()["disabled"] is False
        audit = (await admin.get("/api/v1/audit")).json()
    actions = [entry["action"] for entry in audit if login.email in entry["subject"]]
    assert "account_disabled" in actions and "account_enabled" in actions, actions
    async with portal.session(login) as again:
        assert await logged_in(again)


async def test_a_deleted_account_is_gone(portal: Portal, someone: tuple[int, Login]) -> None:
    """Deleted over the API: its token is refused, it is no longer listed, deleting it again is not found."""
    account_id, login = someone
    async with portal.api(portal.admin) as admin, portal.api(login) as own:
        assert (await admin.delete(f"/api/v1/accounts/{account_id}")).status_code == 204
        assert (await own.get("/api/v1/me")).status_code == 401
        assert all(a["id"] != account_id for a in (await admin.get("/api/v1/accounts")).json())
        assert (await admin.delete(f"/api/v1/accounts/{account_id}")).status_code == 404


async def test_logout_and_a_new_password_end_every_session(portal: Portal, someone: tuple[int, Login],
                                                          lab_env_file: Path) -> None:
    """Two sessions of one account: logging out in one ends the other too; a new password (CLI) ends a
    session opened before it."""
    _, login = someone
    async with portal.session(login) as first, portal.session(login) as second:
        page = (await first.get("/reports/calls")).text
        token = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        assert (await first.post("/logout", data={"csrf_token": token})).status_code == 303
        assert not await logged_in(second)
    async with portal.session(login) as third:
        done = await anyio.run_process(
            [sys.executable, "-m", "asterisk_rec", "--env-file", str(lab_env_file), "account", "password", login.email],
            input=f"{PASSWORD}\n".encode(), check=False)
        assert done.returncode == 0, done.stderr.decode()
        assert not await logged_in(third)


async def test_a_session_does_not_outlive_its_lifetime(settings: Settings, portal: Portal,
                                                       someone: tuple[int, Login]) -> None:
    """A cookie signed just now (as every renewal signs it) for a session that began 13 hours ago (the
    lifetime is 12) is not a session: to the login page."""
    account_id, _ = someone
    async with Database(settings.database, max_size=1) as db:
        secret = await AccountStore(db).session_secret()
        version = (await AccountStore(db).by_id(account_id)).session_version
    data = {"account_id": account_id, "version": version, "began": time.time() - 13 * 3600, "csrf": "x"}
    cookie = itsdangerous.TimestampSigner(secret).sign(b64encode(json.dumps(data).encode())).decode()
    async with httpx.AsyncClient(base_url=portal.url, cookies={"asterisk_rec_session": cookie}) as client:
        answer = await client.get("/reports/calls")
        assert answer.status_code == 303 and answer.headers["location"].startswith("/login")
    data["began"] = time.time() - 60
    fresh = itsdangerous.TimestampSigner(secret).sign(b64encode(json.dumps(data).encode())).decode()
    async with httpx.AsyncClient(base_url=portal.url, cookies={"asterisk_rec_session": fresh}) as client:
        assert (await client.get("/reports/calls")).status_code == 200


async def test_failed_logins_are_limited_per_account(portal: Portal, someone: tuple[int, Login]) -> None:
    """Five wrong passwords for one account: the sixth try, even with the right password, is refused (429)
    saying when to try again; another account logs in as usual."""
    _, login = someone
    async with httpx.AsyncClient(base_url=portal.url) as client:
        form = (await client.get("/login")).text
        token = form.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        for _ in range(5):
            wrong = await client.post("/login", data={"csrf_token": token, "email": login.email,
                                                      "password": "not the password"})
            assert wrong.status_code == 401
        refused = await client.post("/login", data={"csrf_token": token, "email": login.email,
                                                    "password": login.password})
        assert refused.status_code == 429 and "too many failed logins: try again in 15 minutes" in refused.text
    async with portal.session(portal.admin) as admin:
        assert await logged_in(admin)


async def test_a_directory_user_with_a_portal_account_can_be_removed(settings: Settings, portal: Portal,
                                                                     lab_env_file: Path) -> None:
    """Removing a user whose plain account exists works (the CLI); the account is disabled, not left
    pointing at nobody, and cannot log in."""
    name = f"accounts-{uuid.uuid4().hex[:8]}"
    email = f"ann-{name}@accounts.example"
    async with Database(settings.database, max_size=1) as db:
        await DirectoryStore(db).add_organisation(name, language="en")
        await DirectoryStore(db).add_user(name, "201", "Ann")
        await AccountStore(db).add(name, email, "Ann", "user", PASSWORD, "201", "en")
        await cli(lab_env_file, "user", "remove", name, "201")
        account = await AccountStore(db).by_email(email)
    assert account.disabled and account.user_id is None
    async with httpx.AsyncClient(base_url=portal.url) as client:
        form = (await client.get("/login")).text
        token = form.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        answer = await client.post("/login", data={"csrf_token": token, "email": email, "password": PASSWORD})
        assert answer.status_code == 401


async def test_the_cli_disables_enables_and_deletes_accounts(portal: Portal, someone: tuple[int, Login],
                                                             lab_env_file: Path) -> None:
    """`account disable` ends the account's API access, `enable` gives it back, `delete` removes it; an
    unknown account is a clear error."""
    _, login = someone
    async with portal.api(login) as own:
        assert f"{login.email} disabled" in await cli(lab_env_file, "account", "disable", login.email)
        assert (await own.get("/api/v1/me")).status_code == 401
        assert f"{login.email} enabled" in await cli(lab_env_file, "account", "enable", login.email)
        assert (await own.get("/api/v1/me")).status_code == 200
        assert f"{login.email} deleted" in await cli(lab_env_file, "account", "delete", login.email)
        assert (await own.get("/api/v1/me")).status_code == 401
    done = await anyio.run_process([sys.executable, "-m", "asterisk_rec", "--env-file", str(lab_env_file),
                                    "account", "delete", login.email], check=False)
    assert done.returncode == 2 and b"[not_found]" in done.stderr
