"""The portal and the API as one ASGI application (FastAPI: OpenAPI from the handlers' types), and the
uvicorn server that runs it inside the service or alone (`asterisk-rec web`)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import anyio
import psycopg
import uvicorn
from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException
from starlette.middleware.sessions import SessionMiddleware

from asterisk_rec.accounts.audit import AuditLog
from asterisk_rec.accounts.login_limits import LoginLimiter
from asterisk_rec.accounts.service import AccountsService
from asterisk_rec.accounts.store import AccountStore
from asterisk_rec.adapters.db import Database
from asterisk_rec.alarms.store import AlarmStore
from asterisk_rec.calls.service import CallsService
from asterisk_rec.completeness.service import CompletenessService, rules_of
from asterisk_rec.completeness.store import CompletenessStore
from asterisk_rec.config import Settings
from asterisk_rec.directory.store import DirectoryStore
from asterisk_rec.errors import (
    AsteriskRecError,
)
from asterisk_rec.export.service import ExportService
from asterisk_rec.health.metrics import CountRequests, Metrics
from asterisk_rec.health.service import HealthService
from asterisk_rec.health.state import Dependencies
from asterisk_rec.mail.mailer import Mailer
from asterisk_rec.retention.service import RetentionService
from asterisk_rec.web import api, health, portal
from asterisk_rec.web.auth import WebContext, session_account
from asterisk_rec.web.services import RecordingSettingsService

log = logging.getLogger(__name__)

HTTP_ERROR_IDS = {404: "not_found", 405: "method_not_allowed", 400: "invalid_input"}


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def _validation_message(err: RequestValidationError) -> str:
    parts = []
    for problem in err.errors():
        where = ".".join(str(p) for p in problem.get("loc", ()) if p not in ("body", "query", "path", "form"))
        parts.append(f"{where or 'input'}: {problem.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid input"


async def _error_page(request: Request, status: int, error_id: str, message: str,
                      details: dict[str, Any] | None = None) -> Response:
    if _is_api(request):
        body: dict[str, Any] = {"error_id": error_id, "message": message}
        if details:
            body["details"] = details
        return JSONResponse(body, status_code=status)
    account = await session_account(request)
    return portal.render(request, "error.html", account, status_code=status, status=status, message=message)


def create_app(web: WebContext, secret: str) -> FastAPI:
    app = FastAPI(title="asterisk-rec", version="1", openapi_url="/api/openapi.json", docs_url="/api/docs",
                  redoc_url=None, description="Call recording for Asterisk: calls, recordings and who is "
                  "recorded, for one organisation. Authenticate with `Authorization: Bearer <token>` "
                  "(`asterisk-rec account token`).")
    app.state.context = web
    app.add_middleware(SessionMiddleware, secret_key=secret, session_cookie="asterisk_rec_session",
                       max_age=int(timedelta(hours=web.settings.web.session_hours).total_seconds()),
                       same_site="lax", https_only=web.settings.web.secure_cookies)
    app.add_middleware(CountRequests, metrics=web.metrics)
    app.include_router(api.router)
    app.include_router(health.router)
    app.include_router(portal.router)
    app.mount("/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static")

    @app.exception_handler(AsteriskRecError)
    async def known_error(request: Request, err: AsteriskRecError) -> Response:
        if err.status == 401 and not _is_api(request):
            return RedirectResponse("/login", status_code=303)
        if err.status == 503:
            log.error("%s %s: %s", request.method, request.url.path, err)
        return await _error_page(request, err.status, err.error_id, err.message, err.details)

    @app.exception_handler(psycopg.OperationalError)
    async def database_away(request: Request, err: psycopg.OperationalError) -> Response:
        log.error("%s %s: PostgreSQL unavailable: %s", request.method, request.url.path, err)
        return JSONResponse({"error_id": "database_unavailable",
                             "message": "the database is unavailable for a moment: try again shortly"},
                            status_code=503, headers={"Retry-After": "5"})

    @app.exception_handler(portal.LoginRequired)
    async def login_required(request: Request, err: portal.LoginRequired) -> Response:
        return RedirectResponse("/login?" + str(request.url.replace(path="/", query="").include_query_params(
            next=err.next_url).query), status_code=303)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, err: RequestValidationError) -> Response:
        return await _error_page(request, 400, "invalid_input", _validation_message(err))

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, err: HTTPException) -> Response:
        error_id = HTTP_ERROR_IDS.get(err.status_code, "http_error")
        message = str(err.detail)
        if err.status_code == 404:
            message = f"nothing here: {request.url.path}"
        elif err.status_code == 405:
            message = f"{request.method} is not allowed on {request.url.path}"
        return await _error_page(request, err.status_code, error_id, message)

    return app


async def web_context(settings: Settings, db: Database, dependencies: Dependencies | None = None,
                      ) -> tuple[WebContext, str]:
    """The services of the portal, the API and the background jobs, and the key that signs sessions and
    download links. ``dependencies``: the service's connections, for its readiness (which then includes
    the archive it writes); None for the portal alone."""
    accounts = AccountStore(db)
    audit = AuditLog(db)
    secret = settings.web.secret_key.reveal() or await accounts.session_secret()
    archive_root = Path(settings.archive.root)
    retention = RetentionService(db, audit, settings.retention)
    exports = ExportService(db, audit, retention, Mailer(settings.mail), settings.export, archive_root, secret)
    web = WebContext(settings, accounts, audit, CallsService(db, audit, archive_root),
                     RecordingSettingsService(DirectoryStore(db), audit), retention, exports,
                     LoginLimiter(settings.web.login_failures_per_account, settings.web.login_failures_per_address,
                                  settings.web.login_window_minutes * 60),
                     AccountsService(accounts, audit),
                     HealthService(db, dependencies, archive_root if dependencies is not None else None),
                     Metrics(),
                     CompletenessService(CompletenessStore(db), DirectoryStore(db), rules_of(settings.completeness)),
                     AlarmStore(db))
    return web, secret


class _EmbeddedServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # The process's own signal handling stops it (by cancellation), inside the service or alone.
        yield

    async def main_loop(self) -> None:
        # uvicorn wakes ten times a second to see whether it should stop; this one is stopped by
        # cancellation, so once a second (for the Date header it keeps) spares an idle service's CPU.
        while True:
            if await self.on_tick(0):
                return
            await anyio.sleep(1)


async def run_web(web: WebContext, secret: str) -> None:
    """Serves the portal and the API until cancelled (with the process)."""
    settings = web.settings
    config = uvicorn.Config(create_app(web, secret), host=settings.web.host, port=settings.web.port,
                            log_config=None, lifespan="off", server_header=False)
    log.info("portal and API on http://%s:%d/", settings.web.host, settings.web.port)
    await _EmbeddedServer(config).serve()
