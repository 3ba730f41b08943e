"""The JSON API under /api/v1, for integrators (token) and the portal's own scripts (session): thin
handlers over the services; its OpenAPI description is at /api/openapi.json."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field

from asterisk_rec.calls.summary import Direction
from asterisk_rec.directory.models import User
from asterisk_rec.web.accounts import Account
from asterisk_rec.web.auth import api_account, context, remote_address
from asterisk_rec.web.call_query import MAX_PAGE, MAX_PAGE_SIZE, CallQuery
from asterisk_rec.web.services import CallEntry, only_admins

MAX_ID = 2**63 - 1


class ErrorOut(BaseModel):
    error_id: str = Field(examples=["not_found"])
    message: str


ERRORS: dict[int | str, dict[str, object]] = {
    status: {"model": ErrorOut, "description": text} for status, text in (
        (400, "Bad input"), (401, "Not logged in, or an unknown token"), (403, "Not allowed"),
        (404, "No such thing in your organisation"))}


class AccountOut(BaseModel):
    email: str
    name: str
    role: Literal["admin", "user"]
    organisation: str
    time_zone: str
    language: str


class CallOut(BaseModel):
    id: int
    started_at: datetime = Field(description="in the organisation's time zone")
    answered_at: datetime | None
    ended_at: datetime | None
    direction: str | None
    caller: str | None
    caller_name: str | None
    callee: str | None
    callee_name: str | None
    disposition: str | None
    talk_seconds: float | None
    recorded: bool
    recording_format: str | None
    recording_seconds: float | None
    legal_hold: bool | None
    recording_url: str | None


class CallPageOut(BaseModel):
    calls: list[CallOut]
    page: int
    page_size: int
    has_next: bool


class DeviceOut(BaseModel):
    kind: str
    address: str


class UserOut(BaseModel):
    extension: str
    name: str
    email: str | None
    language: str
    recording: Literal["off", "always", "on_demand"]
    devices: list[DeviceOut]


class RecordingModeIn(BaseModel):
    mode: Literal["always", "on_demand"]


class AuditOut(BaseModel):
    at: datetime
    actor: str
    action: str
    subject: str
    details: dict[str, object]
    remote_address: str


def call_out(call: CallEntry, zone: ZoneInfo) -> CallOut:
    def local(moment: datetime | None) -> datetime | None:
        return moment.astimezone(zone) if moment else None

    return CallOut(id=call.id, started_at=call.started_at.astimezone(zone), answered_at=local(call.answered_at),
                   ended_at=local(call.ended_at), direction=call.direction, caller=call.caller,
                   caller_name=call.caller_name, callee=call.callee, callee_name=call.callee_name,
                   disposition=call.disposition, talk_seconds=call.talk_seconds, recorded=call.recorded,
                   recording_format=call.format, recording_seconds=call.duration_seconds,
                   legal_hold=call.legal_hold,
                   recording_url=f"/api/v1/calls/{call.id}/recording" if call.recorded else None)


def user_out(user: User) -> UserOut:
    return UserOut(extension=user.extension, name=user.name, email=user.email, language=user.language,
                   recording=user.recording_mode.value,
                   devices=[DeviceOut(kind=d.kind.value, address=d.address) for d in user.devices])


CurrentAccount = Annotated[Account, Depends(api_account)]
CallId = Annotated[int, Path(ge=1, le=MAX_ID, description="the call's id, as listed")]
Extension = Annotated[str, Path(pattern=r"^\d{2,10}$", description="the user's extension")]

router = APIRouter(prefix="/api/v1", responses=ERRORS)


@router.get("/me", summary="The account asking")
async def me(account: CurrentAccount) -> AccountOut:
    return AccountOut(email=account.email, name=account.name, role=account.role.value,
                      organisation=account.organisation_name, time_zone=account.time_zone,
                      language=account.language)


@router.get("/calls", summary="The organisation's calls (a user's own), newest first")
async def calls(
    request: Request, account: CurrentAccount,
    since: Annotated[date | None, Query(alias="from", description="first day, in the organisation's time zone")] = None,
    until: Annotated[date | None, Query(alias="to", description="last day, included")] = None,
    user: Annotated[str | None, Query(pattern=r"^\d{2,10}$", description="a user's extension")] = None,
    number: Annotated[str | None, Query(pattern=r"^[0-9+*#]{1,20}$", description="part of a number")] = None,
    direction: Direction | None = None,
    recorded: Annotated[bool, Query(description="recorded calls only")] = False,
    page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1,
    page_size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 25,
) -> CallPageOut:
    web = context(request)
    user_id = None
    if user is not None:
        user_id = await web.calls.user_id(account, user)
    query = CallQuery(since=since, until=until, user_id=user_id, number=number, direction=direction,
                      recorded_only=recorded, page=page, page_size=page_size)
    found = await web.calls.page(account, query)
    zone = ZoneInfo(account.time_zone)
    return CallPageOut(calls=[call_out(c, zone) for c in found.calls], page=found.page, page_size=found.page_size,
                       has_next=found.has_next)


@router.get("/calls/{call_id}", summary="One call")
async def call(request: Request, account: CurrentAccount, call_id: CallId) -> CallOut:
    return call_out(await context(request).calls.call(account, call_id), ZoneInfo(account.time_zone))


@router.get("/calls/{call_id}/recording", summary="The call's recording (HTTP Range supported)",
            response_class=FileResponse, responses={200: {"content": {"audio/mpeg": {}}},
                                                    206: {"description": "Part of it"}})
async def recording(request: Request, account: CurrentAccount, call_id: CallId,
                    download: Annotated[bool, Query(description="as an attachment")] = False) -> Response:
    return await recording_response(request, account, call_id, download)


async def recording_response(request: Request, account: Account, call_id: int, download: bool) -> Response:
    """The file, streamed with Range; a listen is audited once, at its start (seeking asks for later ranges)."""
    starts = request.headers.get("range", "bytes=0-").replace(" ", "").startswith("bytes=0-")
    file = await context(request).calls.recording(account, call_id, download=download,
                                                  remote_address=remote_address(request),
                                                  audit=download or starts)
    return FileResponse(file.path, media_type=file.media_type,
                        filename=file.download_name, content_disposition_type="attachment" if download else "inline")


@router.put("/calls/{call_id}/legal-hold", summary="Put the call's recording under legal hold (admins)")
async def hold(request: Request, account: CurrentAccount, call_id: CallId) -> CallOut:
    held = await context(request).calls.set_legal_hold(account, call_id, True, remote_address(request))
    return call_out(held, ZoneInfo(account.time_zone))


@router.delete("/calls/{call_id}/legal-hold", summary="Release the legal hold (admins)")
async def release(request: Request, account: CurrentAccount, call_id: CallId) -> CallOut:
    released = await context(request).calls.set_legal_hold(account, call_id, False, remote_address(request))
    return call_out(released, ZoneInfo(account.time_zone))


@router.get("/users", summary="The organisation's users (admins)")
async def users(request: Request, account: CurrentAccount) -> list[UserOut]:
    return [user_out(u) for u in await context(request).recording_settings.users(account)]


@router.get("/recording/users", summary="The users with recording on (admins)")
async def recorded_users(request: Request, account: CurrentAccount) -> list[UserOut]:
    return [user_out(u) for u in await context(request).recording_settings.recorded(account)]


@router.put("/recording/users/{extension}", summary="Record a user, always or on demand (admins)")
async def record_user(request: Request, account: CurrentAccount, extension: Extension,
                      body: RecordingModeIn) -> UserOut:
    return user_out(await context(request).recording_settings.set_mode(account, extension, body.mode,
                                                                       remote_address(request)))


@router.delete("/recording/users/{extension}", summary="Stop recording a user (admins)")
async def unrecord_user(request: Request, account: CurrentAccount, extension: Extension) -> UserOut:
    return user_out(await context(request).recording_settings.set_mode(account, extension, "off",
                                                                       remote_address(request)))


@router.get("/audit", summary="The organisation's audit log, newest first (admins)")
async def audit(request: Request, account: CurrentAccount,
                page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1) -> list[AuditOut]:
    only_admins(account)
    entries = await context(request).audit.entries(account.organisation_id, 50, (page - 1) * 50)
    zone = ZoneInfo(account.time_zone)
    return [AuditOut(at=e.at.astimezone(zone), actor=e.actor, action=e.action, subject=e.subject,
                     details=e.details, remote_address=e.remote_address) for e in entries]
