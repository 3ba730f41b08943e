"""``/healthz`` (the process answers) and ``/readyz`` (it can do its work: 503 with what is missing),
for systemd and load balancers: no login, nothing in them but states and reasons. ``/metrics`` for
Prometheus: open on the portal's address (loopback by default), or behind ``web.metrics_token``."""

from __future__ import annotations

import hmac
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from asterisk_rec.web.auth import WebContext, context

router = APIRouter()
Web = Annotated[WebContext, Depends(context)]


@router.get("/healthz", include_in_schema=False)
async def healthz() -> dict[str, str]:
    return {"status": "alive"}


@router.get("/readyz", include_in_schema=False)
async def readyz(web: Web) -> JSONResponse:
    readiness = await web.health.readiness()
    checks: dict[str, dict[str, Any]] = {}
    for check in readiness.checks:
        entry: dict[str, Any] = {"ok": check.ok}
        if check.detail:
            entry["detail"] = check.detail
        if check.for_seconds is not None:
            entry["for_seconds"] = check.for_seconds
        checks[check.name] = entry
    return JSONResponse({"ready": readiness.ready, "checks": checks}, status_code=200 if readiness.ready else 503,
                        headers={"Cache-Control": "no-store"})


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request, web: Web) -> Response:
    token = web.settings.web.metrics_token.reveal()
    if token:
        given = request.headers.get("authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
            return JSONResponse({"error_id": "not_authenticated", "message": "the metrics need web.metrics_token"
                                 " as a bearer token"}, status_code=401, headers={"WWW-Authenticate": "Bearer"})
    return Response(generate_latest(web.metrics.registry), media_type=CONTENT_TYPE_LATEST)
