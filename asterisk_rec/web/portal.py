"""The portal's pages (jinja2, server-rendered): log in and out, Reports > Calls with play and download and
the bulk download, Reports > Completeness, Settings > Call recording with retention and its statement, the
audit log. Thin handlers over the same services as the API; every form carries the session's CSRF token."""

from __future__ import annotations

import logging
import time
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import FileResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from asterisk_rec.accounts.access import only_admins
from asterisk_rec.accounts.store import Account
from asterisk_rec.calls import query as call_query
from asterisk_rec.completeness.service import parse_day
from asterisk_rec.directory.models import SCOPE_SWITCHES
from asterisk_rec.errors import AsteriskRecError, InvalidInput, TooManyLogins, Unauthenticated
from asterisk_rec.retention.policy import parse_month
from asterisk_rec.retention.service import ConfirmationNeeded
from asterisk_rec.web.api import MAX_ID, recording_response
from asterisk_rec.web.auth import CSRF_FIELD, check_csrf, context, csrf_token, log_in, remote_address, session_account
from asterisk_rec.web.i18n import LANGUAGES, translator

log = logging.getLogger(__name__)

templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
router = APIRouter(include_in_schema=False)
Csrf = Annotated[str, Form(alias=CSRF_FIELD)]


class LoginRequired(Exception):
    """A page asked for without a session: to the login page, then back."""

    def __init__(self, next_url: str) -> None:
        self.next_url = next_url


def language(request: Request, account: Account | None) -> str:
    chosen = request.session.get("language")
    if chosen in LANGUAGES:
        return str(chosen)
    return account.language if account else "nl"


def render(request: Request, template: str, account: Account | None, status_code: int = 200,
           **values: Any) -> Response:
    lang = language(request, account)
    zone = ZoneInfo(account.time_zone) if account else None

    def local(moment: datetime | None) -> str:
        return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S") if moment and zone else ""

    return templates.TemplateResponse(request, template, {
        "account": account, "t": translator(lang), "lang": lang, "csrf_field": CSRF_FIELD,
        "csrf_token": csrf_token(request), "local": local, "path": request.url.path, **values,
    }, status_code=status_code)


async def page_account(request: Request) -> Account:
    account = await session_account(request)
    if account is None:
        raise LoginRequired(request.url.path + (f"?{request.url.query}" if request.url.query else ""))
    return account


def _safe_next(next_url: str | None) -> str:
    """Only a path of this portal: never a redirect elsewhere."""
    if next_url and next_url.startswith("/") and not next_url.startswith("//") and "\\" not in next_url:
        return next_url
    return "/reports/calls"


@router.get("/")
async def home() -> Response:
    return RedirectResponse("/reports/calls", status_code=303)


@router.get("/login")
async def login_page(request: Request, next: str | None = None) -> Response:
    return render(request, "login.html", None, next=_safe_next(next), error=None)


@router.post("/login")
async def login(request: Request, csrf: Csrf, email: Annotated[str, Form(max_length=320)],
                password: Annotated[str, Form(max_length=1000)], next: Annotated[str, Form()] = "") -> Response:
    check_csrf(request, csrf)
    web, address = context(request), remote_address(request)
    try:
        web.login_limits.check(email, address, time.monotonic())
        account = await web.accounts.authenticate(email, password)
    except TooManyLogins as err:
        log.warning("login refused for %r from %s: %s", email, address, err.message)
        return render(request, "login.html", None, status_code=429, next=_safe_next(next), error=err.message,
                      email=email)
    except Unauthenticated as err:
        web.login_limits.failed(email, address, time.monotonic())
        return render(request, "login.html", None, status_code=401, next=_safe_next(next), error=err.message,
                      email=email)
    web.login_limits.succeeded(email)
    log_in(request, account)
    await context(request).audit.write(account, account.organisation_id, "login",
                                       remote_address=remote_address(request))
    return RedirectResponse(_safe_next(next), status_code=303)


@router.post("/logout")
async def logout(request: Request, csrf: Csrf) -> Response:
    check_csrf(request, csrf)
    account = await session_account(request)
    if account is not None:
        await context(request).accounts.end_sessions(account.id)  # on every device
    request.session.clear()
    return RedirectResponse("/login", status_code=303)


@router.get("/language/{lang}")
async def choose_language(request: Request, lang: str, next: str | None = None) -> Response:
    if lang not in LANGUAGES:
        raise InvalidInput(f"language {lang!r}: expected nl or en")
    request.session["language"] = lang
    return RedirectResponse(_safe_next(next), status_code=303)


@router.get("/reports/calls")
async def calls_page(request: Request, since: str | None = None, until: str | None = None,
                     user: str | None = None, number: str | None = None, direction: str | None = None,
                     recorded: str | None = None, page: str = "1") -> Response:
    account = await page_account(request)
    web = context(request)
    filters = {"since": since or "", "until": until or "", "user": user or "", "number": number or "",
               "direction": direction or "", "recorded": "1" if recorded else ""}
    users = await web.recording_settings.users(account) if account.is_admin else []
    error = None
    found = None
    try:
        if not page.isdigit():
            raise InvalidInput(f"page {page!r}: expected a number")
        user_id = await web.calls.user_id(account, user) if user and account.is_admin else None
        query = call_query.CallQuery(
            since=call_query.day(since, "from"), until=call_query.day(until, "to"), user_id=user_id,
            number=number or None, direction=call_query.direction(direction), recorded_only=bool(recorded),
            page=int(page), page_size=web.settings.web.page_size)
        found = await web.calls.page(account, query)
    except AsteriskRecError as err:
        error = err.message

    def page_url(number_of_page: int) -> str:
        return "/reports/calls?" + urlencode({**{k: v for k, v in filters.items() if v}, "page": number_of_page})

    return render(request, "calls.html", account, status_code=400 if error else 200, found=found, filters=filters,
                  users=users, error=error, page_url=page_url)


@router.get("/reports/completeness")
async def completeness_page(request: Request, since: str | None = None, until: str | None = None) -> Response:
    account = await page_account(request)
    only_admins(account)
    filters = {"since": since or "", "until": until or ""}
    report, error = None, None
    web = context(request)
    try:
        report = await web.completeness.report_named(account.organisation_name, parse_day(since, "from"),
                                                     parse_day(until, "to"))
    except AsteriskRecError as err:
        error = err.message
    alarms = await web.alarms.shown_to(account.organisation_id)
    return render(request, "completeness.html", account, status_code=400 if error else 200, report=report,
                  filters=filters, error=error, alarms=alarms)


def _call_id(value: str) -> int:
    if not value.isdigit() or not 1 <= int(value) <= MAX_ID:
        raise InvalidInput(f"call {value!r}: expected a call's number")
    return int(value)


@router.get("/reports/calls/{call_id}/recording")
async def recording(request: Request, call_id: str, download: str | None = None) -> Response:
    account = await page_account(request)
    return await recording_response(request, account, _call_id(call_id), bool(download))


@router.post("/reports/calls/{call_id}/legal-hold")
async def legal_hold(request: Request, call_id: str, csrf: Csrf, hold: Annotated[str, Form()]) -> Response:
    account = await page_account(request)
    check_csrf(request, csrf)
    await context(request).calls.set_legal_hold(account, _call_id(call_id), hold == "1", remote_address(request))
    return RedirectResponse(request.headers.get("referer") or "/reports/calls", status_code=303)


@router.get("/settings/recording")
async def recording_settings(request: Request) -> Response:
    account = await page_account(request)
    only_admins(account)
    return await _settings_page(request, account)


@router.post("/settings/recording")
async def add_recorded_user(request: Request, csrf: Csrf, extension: Annotated[str, Form(max_length=20)],
                            mode: Annotated[str, Form(max_length=20)]) -> Response:
    account = await page_account(request)
    check_csrf(request, csrf)
    if mode not in ("always", "on_demand"):
        raise InvalidInput(f"recording {mode!r}: expected always or on demand")
    await context(request).recording_settings.set_mode(account, extension, mode, remote_address(request))
    return RedirectResponse("/settings/recording", status_code=303)


@router.post("/settings/recording/{extension}/calls")
async def set_recorded_calls(request: Request, extension: str, csrf: Csrf,
                             calls: Annotated[list[str] | None, Form(max_length=20)] = None) -> Response:
    """The four check boxes of a recorded user's row: a box left unticked switches its calls off."""
    account = await page_account(request)
    check_csrf(request, csrf)
    ticked = set(calls or ())
    unknown = ticked - set(SCOPE_SWITCHES)
    if unknown:
        raise InvalidInput(f"recorded calls: unknown switch {', '.join(sorted(unknown))}")
    await context(request).recording_settings.set_recording(
        account, extension, None, {name: name in ticked for name in SCOPE_SWITCHES}, remote_address(request))
    return RedirectResponse("/settings/recording", status_code=303)


@router.post("/settings/forwarding/{extension}")
async def set_forwarding(request: Request, extension: str, csrf: Csrf,
                         always: Annotated[str, Form(max_length=20)] = "",
                         busy: Annotated[str, Form(max_length=20)] = "",
                         no_answer: Annotated[str, Form(max_length=20)] = "",
                         no_answer_seconds: Annotated[str, Form(max_length=5)] = "20") -> Response:
    """A user's row in Settings > Call forwarding: an empty destination switches that condition off."""
    account = await page_account(request)
    check_csrf(request, csrf)
    if not (no_answer_seconds.isascii() and no_answer_seconds.isdigit()):
        raise InvalidInput(f"forwarding after {no_answer_seconds!r}: expected 5 to 120 seconds")
    await context(request).recording_settings.set_forwarding(
        account, extension, {"always": always, "busy": busy, "no_answer": no_answer,
                             "no_answer_seconds": int(no_answer_seconds)}, remote_address(request))
    return RedirectResponse("/settings/recording", status_code=303)


@router.post("/settings/recording/{extension}/remove")
async def remove_recorded_user(request: Request, extension: str, csrf: Csrf) -> Response:
    account = await page_account(request)
    check_csrf(request, csrf)
    await context(request).recording_settings.set_mode(account, extension, "off", remote_address(request))
    return RedirectResponse("/settings/recording", status_code=303)


@router.get("/settings/audit")
async def audit_page(request: Request, page: str = "1") -> Response:
    account = await page_account(request)
    only_admins(account)
    number = int(page) if page.isdigit() and 1 <= int(page) <= call_query.MAX_PAGE else 1
    entries = await context(request).audit.entries(account.organisation_id, 50, (number - 1) * 50)
    return render(request, "audit.html", account, entries=entries, page=number)


async def _settings_page(request: Request, account: Account, **extra: Any) -> Response:
    web = context(request)
    everyone = await web.recording_settings.users(account)
    return render(request, "recording_settings.html", account, status_code=extra.pop("status_code", 200),
                  recorded=[u for u in everyone if u.recording_mode.value != "off"],
                  candidates=[u for u in everyone if u.recording_mode.value == "off"],
                  switches=SCOPE_SWITCHES, everyone=everyone,
                  retention=await web.retention.retention(account.organisation_name), **extra)


@router.post("/settings/retention")
async def set_retention(request: Request, csrf: Csrf, days: Annotated[str, Form(max_length=10)],
                        confirm: Annotated[str, Form()] = "") -> Response:
    """A shorter period asks first, saying how many recordings will go."""
    account = await page_account(request)
    check_csrf(request, csrf)
    only_admins(account)
    if not days.isdigit():
        raise InvalidInput(f"retention period {days!r}: expected a number of days")
    try:
        await context(request).retention.set_period(account, account.organisation_name, int(days), confirm == "1",
                                                    remote_address(request))
    except ConfirmationNeeded as question:
        return await _settings_page(request, account, status_code=409, confirm_days=int(days),
                                    confirm_message=question.message, confirm_going=question.going)
    return RedirectResponse("/settings/recording", status_code=303)


@router.post("/settings/bulk-download")
async def set_bulk_download(request: Request, csrf: Csrf, on: Annotated[str, Form()]) -> Response:
    account = await page_account(request)
    check_csrf(request, csrf)
    only_admins(account)
    await context(request).retention.set_bulk_download(account, account.organisation_name, on == "1",
                                                       remote_address(request))
    return RedirectResponse("/settings/recording", status_code=303)


@router.get("/settings/statement")
async def statement_page(request: Request, month: str | None = None) -> Response:
    account = await page_account(request)
    only_admins(account)
    chosen = parse_month(month) if month else datetime.now(ZoneInfo(account.time_zone)).date().replace(day=1)
    found = await context(request).retention.statement(account.organisation_name, chosen)
    return render(request, "statement.html", account, statement=found)


@router.get("/reports/exports")
async def exports_page(request: Request) -> Response:
    account = await page_account(request)
    web = context(request)
    exports = await web.exports.exports(account)
    current = await web.retention.retention(account.organisation_name)
    return render(request, "exports.html", account, exports=exports, refusal=current.bulk_download_refusal,
                  users=await web.recording_settings.users(account), link=web.exports.link)


@router.post("/reports/exports")
async def request_export(request: Request, csrf: Csrf, month: Annotated[str, Form(max_length=7)],
                         extensions: Annotated[list[str] | None, Form()] = None) -> Response:
    account = await page_account(request)
    check_csrf(request, csrf)
    await context(request).exports.request(account, parse_month(month), [e for e in extensions or [] if e],
                                           remote_address(request))
    return RedirectResponse("/reports/exports", status_code=303)


@router.get("/exports/{export_id}/{part}")
async def export_file(request: Request, export_id: str, part: str, expires: str = "", sig: str = "") -> Response:
    """A link from the e-mail: only for its requester, logged in, until it expires."""
    account = await page_account(request)
    if not export_id.isdigit() or not expires.isdigit():
        raise InvalidInput("this download link is incomplete: use the whole link from the e-mail")
    path = await context(request).exports.part_file(account, int(export_id), part, int(expires), sig,
                                                    remote_address(request))
    return FileResponse(path, media_type="application/zip", filename=part)
