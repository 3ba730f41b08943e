"""Who is asking: a portal session (a signed cookie holding the account id and a CSRF token) or an API
token (``Authorization: Bearer``)."""

from __future__ import annotations

import hmac
import secrets
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from fastapi import Request

from asterisk_rec.accounts.audit import AuditLog
from asterisk_rec.accounts.login_limits import LoginLimiter
from asterisk_rec.accounts.service import AccountsService
from asterisk_rec.accounts.store import Account, AccountStore
from asterisk_rec.calls.service import CallsService
from asterisk_rec.config import Settings
from asterisk_rec.errors import Forbidden, NotFound, Unauthenticated
from asterisk_rec.health.metrics import Metrics
from asterisk_rec.health.service import HealthService
from asterisk_rec.web.services import RecordingSettingsService

if TYPE_CHECKING:
    from asterisk_rec.alarms.store import AlarmStore
    from asterisk_rec.completeness.service import CompletenessService
    from asterisk_rec.export.service import ExportService
    from asterisk_rec.retention.service import RetentionService

SESSION_ACCOUNT = "account_id"
# The account's session version at login, and when the session began: a raised version (logout, a new
# password, the account disabled) or a session older than web.session_hours ends it, however often its
# cookie was renewed.
SESSION_VERSION = "version"
SESSION_BEGAN = "began"
SESSION_CSRF = "csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"


@dataclass(frozen=True)
class WebContext:
    """What the handlers use, made once per process."""

    settings: Settings
    accounts: AccountStore
    audit: AuditLog
    calls: CallsService
    recording_settings: RecordingSettingsService
    retention: RetentionService
    exports: ExportService
    login_limits: LoginLimiter
    account_admin: AccountsService
    health: HealthService
    metrics: Metrics
    completeness: CompletenessService
    alarms: AlarmStore


def context(request: Request) -> WebContext:
    found: WebContext = request.app.state.context
    return found


def remote_address(request: Request) -> str:
    return request.client.host if request.client else ""


def csrf_token(request: Request) -> str:
    """The session's CSRF token, made on first use; forms carry it back."""
    token = request.session.get(SESSION_CSRF)
    if not token:
        token = request.session[SESSION_CSRF] = secrets.token_urlsafe(32)
    return str(token)


def check_csrf(request: Request, given: str | None) -> None:
    expected = request.session.get(SESSION_CSRF)
    if not expected or not given or not hmac.compare_digest(str(expected), given):
        raise Forbidden("the form is stale or did not come from this portal: reload the page and try again")


async def session_account(request: Request) -> Account | None:
    account_id = request.session.get(SESSION_ACCOUNT)
    if not isinstance(account_id, int):
        return None
    web = context(request)
    began = request.session.get(SESSION_BEGAN)
    if not isinstance(began, (int, float)) or time.time() - began > web.settings.web.session_hours * 3600:
        request.session.clear()
        return None
    try:
        account = await web.accounts.by_id(account_id)
    except NotFound:
        request.session.clear()
        return None
    if account.disabled or request.session.get(SESSION_VERSION) != account.session_version:
        request.session.clear()
        return None
    return account


async def api_account(request: Request) -> Account:
    """The account of the API token, or of the portal session (unsafe methods then need the CSRF header)."""
    authorization = request.headers.get("authorization", "")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return await context(request).accounts.by_token(token.strip())
    account = await session_account(request)
    if account is None:
        raise Unauthenticated("log in, or send an API token: Authorization: Bearer <token>")
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        check_csrf(request, request.headers.get(CSRF_HEADER))
    return account


def log_in(request: Request, account: Account) -> None:
    request.session.clear()  # a new session at every login: nothing carried over from before
    request.session[SESSION_ACCOUNT] = account.id
    request.session[SESSION_VERSION] = account.session_version
    request.session[SESSION_BEGAN] = time.time()
    csrf_token(request)
