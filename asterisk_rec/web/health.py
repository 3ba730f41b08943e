"""``/healthz`` (the process answers) and ``/readyz`` (it can do its work: 503 with what is missing),
for systemd and load balancers: no login, nothing in them but states and reasons."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

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
