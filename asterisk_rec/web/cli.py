"""``asterisk-rec web | account ... | calls ...``: the portal alone, accounts and tokens, and the API's
calls and recordings from the command line (the CLI acts as an admin of the organisation named, audited
as ``cli``)."""

from __future__ import annotations

import argparse
import getpass
import json
import shutil
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from asterisk_rec.accounts.store import Account, Role
from asterisk_rec.adapters.db import Database
from asterisk_rec.calls import query as call_query
from asterisk_rec.config import Settings
from asterisk_rec.errors import InvalidInput
from asterisk_rec.store.migrate import migrate
from asterisk_rec.web.api import call_out
from asterisk_rec.web.app import run_web, web_context
from asterisk_rec.web.auth import WebContext

COMMANDS = ("web", "account", "calls")


def add_commands(commands: Any) -> None:
    commands.add_parser("web", help="run the portal and the API alone (serve runs them too)")
    account = commands.add_parser("account", help="portal and API accounts").add_subparsers(dest="action",
                                                                                           required=True)
    p = account.add_parser("add", help="add an admin or a user; the password is read from stdin or asked")
    p.add_argument("org")
    p.add_argument("email")
    p.add_argument("name")
    p.add_argument("--role", default="admin", help="admin (the organisation) or user (own calls only)")
    p.add_argument("--extension", help="a user's extension in the directory: the calls they see")
    p.add_argument("--language", default="nl", help="nl or en")
    p = account.add_parser("password", help="set an account's password (stdin or asked)")
    p.add_argument("email")
    p = account.add_parser("token", help="make an API token for the account; printed once")
    p.add_argument("email")
    p.add_argument("name", help="what the token is for, e.g. crm-sync")
    p = account.add_parser("revoke", help="revoke every API token of the account")
    p.add_argument("email")
    p = account.add_parser("list", help="the organisation's accounts")
    p.add_argument("org")
    for action, what in (("disable", "disable an account: it cannot log in, its sessions end, its tokens stop"),
                         ("enable", "enable a disabled account again"),
                         ("delete", "delete an account and its tokens (the audit log keeps its entries)")):
        account.add_parser(action, help=what).add_argument("email")

    calls = commands.add_parser("calls", help="the organisation's calls and recordings").add_subparsers(
        dest="action", required=True)
    p = calls.add_parser("list", help="calls, newest first (JSON lines with --json)")
    p.add_argument("org")
    p.add_argument("--from", dest="since", help="first day, YYYY-MM-DD")
    p.add_argument("--to", dest="until", help="last day, YYYY-MM-DD")
    p.add_argument("--user", help="a user's extension")
    p.add_argument("--number", help="part of a number")
    p.add_argument("--direction", help="internal, inbound or outbound")
    p.add_argument("--recorded", action="store_true", help="recorded calls only")
    p.add_argument("--page", type=int, default=1)
    p.add_argument("--page-size", type=int, default=25)
    p.add_argument("--json", action="store_true")
    p = calls.add_parser("download", help="write a call's recording to a file")
    p.add_argument("org")
    p.add_argument("call", type=int, help="the call's id, as listed")
    p.add_argument("--output", type=Path, help="file or directory (default: its download name, here)")


def _password(prompt: str) -> str:
    if sys.stdin.isatty():
        first = getpass.getpass(prompt)
        if getpass.getpass("again: ") != first:
            raise InvalidInput("the passwords differ")
        return first
    return sys.stdin.readline().rstrip("\n")


async def cli_account(web: WebContext, organisation: str) -> Account:
    """The CLI as an admin of the organisation, for the services (audited as "cli")."""
    org = await web.recording_settings.directory.organisation(organisation)
    return Account(id=0, organisation_id=org.id, organisation_name=org.name, time_zone=org.time_zone,
                   email="cli", name="command line", role=Role.ADMIN, user_id=None, language=org.language)


async def _account(web: WebContext, a: argparse.Namespace) -> list[str]:
    accounts = web.accounts
    if a.action == "add":
        added = await accounts.add(a.org, a.email, a.name, a.role, _password("password: "), a.extension, a.language)
        return [f"{added.email}\t{added.role.value}\t{added.name}\t{added.organisation_name}"]
    if a.action == "password":
        await accounts.set_password(a.email, _password("new password: "))
        return [f"password of {a.email} changed"]
    if a.action == "token":
        return [await accounts.issue_token(a.email, a.name)]
    if a.action == "revoke":
        return [f"{await accounts.revoke_tokens(a.email)} tokens revoked"]
    if a.action in ("disable", "enable"):
        changed = await accounts.set_disabled(await accounts.by_email(a.email), a.action == "disable")
        return [f"{changed.email} {'disabled' if changed.disabled else 'enabled'}"]
    if a.action == "delete":
        await accounts.delete(await accounts.by_email(a.email))
        return [f"{a.email} deleted"]
    return [f"{x.email}\t{x.role.value}\t{x.name}" for x in await accounts.accounts(a.org)]


async def _calls(web: WebContext, a: argparse.Namespace) -> list[str]:
    account = await cli_account(web, a.org)
    if a.action == "download":
        file = await web.calls.recording(account, a.call, download=True, remote_address="cli")
        target = a.output or Path(file.download_name)
        if target.is_dir():
            target = target / file.download_name
        shutil.copyfile(file.path, target)
        return [str(target)]
    user_id = await web.calls.user_id(account, a.user) if a.user else None
    query = call_query.CallQuery(since=call_query.day(a.since, "--from"), until=call_query.day(a.until, "--to"),
                                 user_id=user_id, number=a.number, direction=call_query.direction(a.direction),
                                 recorded_only=a.recorded, page=a.page, page_size=a.page_size)
    found = await web.calls.page(account, query)
    rows = [call_out(c, ZoneInfo(account.time_zone)) for c in found.calls]
    if a.json:
        return [json.dumps(row.model_dump(mode="json")) for row in rows]
    return [f"{r.id}\t{r.started_at:%Y-%m-%d %H:%M:%S}\t{r.direction or ''}\t{r.caller or ''}\t{r.callee or ''}"
            f"\t{r.disposition or ''}\t{'recorded' if r.recorded else ''}" for r in rows]


@asynccontextmanager
async def _web(settings: Settings) -> AsyncIterator[tuple[WebContext, str]]:
    async with Database(settings.database, settings.service.connect_timeout, max_size=4) as db:
        async with db.pool.connection() as connection:
            await migrate(connection)
        web, secret = await web_context(settings, db)
        yield web, secret


async def run(settings: Settings, args: argparse.Namespace) -> list[str]:
    async with _web(settings) as (web, secret):
        if args.command == "web":
            await run_web(web, secret)
            return []
        if args.command == "account":
            return await _account(web, args)
        return await _calls(web, args)
