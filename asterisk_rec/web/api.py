"""The JSON API under /api/v1, for integrators (token) and the portal's own scripts (session): thin
handlers over the services; its OpenAPI description is at /api/openapi.json."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field

from asterisk_rec.accounts.access import only_admins
from asterisk_rec.accounts.store import Account
from asterisk_rec.calls.query import MAX_PAGE, MAX_PAGE_SIZE, CallQuery
from asterisk_rec.calls.service import CallEntry
from asterisk_rec.calls.summary import Direction
from asterisk_rec.completeness.model import Reason
from asterisk_rec.directory.models import SCOPE_SWITCHES, User
from asterisk_rec.errors import InvalidInput
from asterisk_rec.retention.policy import parse_month
from asterisk_rec.web.auth import api_account, context, remote_address

if TYPE_CHECKING:
    from asterisk_rec.completeness.service import Report
    from asterisk_rec.export.service import Export
    from asterisk_rec.retention.service import Retention

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


class TransferOut(BaseModel):
    at: datetime
    kind: Literal["blind", "attended", "ring_back", "forward_always", "forward_busy", "forward_no_answer", "pickup"]
    transferor: str
    transferee: str
    target: str
    outcome: Literal["answered", "busy", "no_answer", "unavailable", "refused", "abandoned"]
    answered_at: datetime | None
    consultation: str | None = None  # attended: the call id of the consultation call


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
    recording_deleted_at: datetime | None = Field(description="when the purge deleted it (retention over)")
    transfers: list[TransferOut] = Field(default_factory=list, description="the call's transfers, in order")


class CallPageOut(BaseModel):
    calls: list[CallOut]
    page: int
    page_size: int
    has_next: bool


class DeviceOut(BaseModel):
    kind: str
    address: str


class RecordedCalls(BaseModel):
    """Which of the user's calls are recorded: both the call's direction and its reach must be on."""

    incoming: bool = Field(description="calls to the user")
    outgoing: bool = Field(description="calls by the user")
    internal: bool = Field(description="calls with a user of the same organisation")
    external: bool = Field(description="calls with anyone else (outside numbers, trunks)")


class ForwardingOut(BaseModel):
    """Where the user's calls go instead (an extension or an E.164 number; null: off)."""

    always: str | None
    busy: str | None
    no_answer: str | None
    no_answer_seconds: int


class ForwardingIn(BaseModel):
    always: str | None = Field(None, max_length=20, description='every call; "" switches it off; left out: as it is')
    busy: str | None = Field(None, max_length=20, description="while every device of the user is busy")
    no_answer: str | None = Field(None, max_length=20, description="unanswered for no_answer_seconds")
    no_answer_seconds: int | None = Field(None, ge=5, le=120)


class UserOut(BaseModel):
    extension: str
    name: str
    email: str | None
    language: str
    recording: Literal["off", "always", "on_demand"]
    recorded_calls: RecordedCalls
    forwarding: ForwardingOut
    devices: list[DeviceOut]


class RecordingModeIn(BaseModel):
    mode: Literal["always", "on_demand"] | None = Field(None, description="left out: as it is")
    incoming: bool | None = Field(None, description="record calls to the user (left out: as it is)")
    outgoing: bool | None = Field(None, description="record calls by the user (left out: as it is)")
    internal: bool | None = Field(None, description="record calls with colleagues (left out: as it is)")
    external: bool | None = Field(None, description="record calls with anyone else (left out: as it is)")


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
                   recording_url=f"/api/v1/calls/{call.id}/recording" if call.recorded else None,
                   recording_deleted_at=local(call.purged_at),
                   transfers=[TransferOut(**t) for t in call.transfers])


def user_out(user: User) -> UserOut:
    return UserOut(extension=user.extension, name=user.name, email=user.email, language=user.language,
                   recording=user.recording_mode.value,
                   recorded_calls=RecordedCalls(**{name: getattr(user.recording_scope, name)
                                                   for name in SCOPE_SWITCHES}),
                   forwarding=ForwardingOut(**dataclasses.asdict(user.forwarding)),
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
    """The file, streamed with Range; a listen is audited once however the player asks for its parts."""
    file = await context(request).calls.recording(account, call_id, download=download,
                                                  remote_address=remote_address(request),
                                                  served=request.method != "HEAD")
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


@router.put("/users/{extension}/forwarding", summary="Forward a user's calls (admins)")
async def forward_user(request: Request, account: CurrentAccount, extension: Extension,
                       body: ForwardingIn) -> UserOut:
    changes = body.model_dump(exclude_none=True)
    if not changes:
        raise InvalidInput("give always, busy, no_answer or no_answer_seconds")
    return user_out(await context(request).recording_settings.set_forwarding(account, extension, changes,
                                                                             remote_address(request)))


@router.get("/recording/users", summary="The users with recording on (admins)")
async def recorded_users(request: Request, account: CurrentAccount) -> list[UserOut]:
    return [user_out(u) for u in await context(request).recording_settings.recorded(account)]


@router.put("/recording/users/{extension}", summary="Record a user, always or on demand, and which calls (admins)")
async def record_user(request: Request, account: CurrentAccount, extension: Extension,
                      body: RecordingModeIn) -> UserOut:
    switches = {name: getattr(body, name) for name in SCOPE_SWITCHES}
    if body.mode is None and all(value is None for value in switches.values()):
        raise InvalidInput("give a mode (always, on_demand) or a switch (incoming, outgoing, internal, external)")
    return user_out(await context(request).recording_settings.set_recording(
        account, extension, body.mode, switches, remote_address(request)))


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


class PeriodOut(BaseModel):
    days: int
    price_per_user: float


class RetentionOut(BaseModel):
    days: int
    offered: list[PeriodOut]
    currency: str
    recorded_users: int
    monthly_cost: float
    bulk_download: bool
    bulk_download_refusal: str | None


class RetentionIn(BaseModel):
    days: int = Field(ge=1, le=100_000)
    confirm: bool = Field(False, description="needed when the period gets shorter (recordings will go)")


class BulkDownloadIn(BaseModel):
    on: bool


class StatementOut(BaseModel):
    month: str
    users: list[dict[str, str]]
    price_per_user: float
    currency: str
    total: float


class ExportIn(BaseModel):
    month: str = Field(pattern=r"^\d{4}-\d{2}$", examples=["2026-10"])
    extensions: list[Annotated[str, Field(pattern=r"^\d{2,10}$")]] = Field(default=[], max_length=1000)


class ExportOut(BaseModel):
    id: int
    month: str
    extensions: list[str]
    state: str
    files_total: int
    files_done: int
    links: list[str] = Field(description="one per ZIP file, for the requester only, once done")
    expires_at: datetime | None
    error: str | None


def retention_out(current: Retention) -> RetentionOut:
    offered = [PeriodOut(days=days, price_per_user=price) for days, price in current.offered.items()]
    return RetentionOut(days=current.days, offered=offered, currency=current.currency,
                        recorded_users=current.recorded_users, monthly_cost=current.monthly_cost,
                        bulk_download=current.bulk_download, bulk_download_refusal=current.bulk_download_refusal)


def export_out(request: Request, account: Account, export: Export) -> ExportOut:
    exports = context(request).exports
    mine = export.state == "done" and export.account_id == account.id
    return ExportOut(id=export.id, month=f"{export.month:%Y-%m}", extensions=export.extensions, state=export.state,
                     files_total=export.files_total, files_done=export.files_done,
                     links=[exports.link(export, p["name"]) for p in export.parts] if mine else [],
                     expires_at=export.expires_at, error=export.error)


@router.get("/retention", summary="The retention period, its cost, and the bulk download switch (admins)")
async def retention(request: Request, account: CurrentAccount) -> RetentionOut:
    only_admins(account)
    return retention_out(await context(request).retention.retention(account.organisation_name))


@router.put("/retention", summary="Choose the retention period (admins); a shorter one needs confirm",
            responses={409: {"model": ErrorOut, "description": "Recordings would go: confirm"}})
async def set_retention(request: Request, account: CurrentAccount, body: RetentionIn) -> RetentionOut:
    only_admins(account)
    return retention_out(await context(request).retention.set_period(
        account, account.organisation_name, body.days, body.confirm, remote_address(request)))


@router.put("/bulk-download", summary="Switch bulk download on or off (admins; 180 days or more)")
async def set_bulk_download(request: Request, account: CurrentAccount, body: BulkDownloadIn) -> RetentionOut:
    only_admins(account)
    return retention_out(await context(request).retention.set_bulk_download(
        account, account.organisation_name, body.on, remote_address(request)))


@router.get("/statement", summary="The month's statement: recorded users and the total (admins)")
async def statement(request: Request, account: CurrentAccount,
                    month: Annotated[str, Query(pattern=r"^\d{4}-\d{2}$", examples=["2026-11"])]) -> StatementOut:
    only_admins(account)
    found = await context(request).retention.statement(account.organisation_name, parse_month(month))
    return StatementOut(month=f"{found.month:%Y-%m}", users=[{"extension": u.extension, "name": u.name}
                                                             for u in found.lines],
                        price_per_user=found.price_per_user, currency=found.currency, total=found.total)


@router.post("/exports", summary="Ask for a month's recordings as ZIP files, mailed as links (admins)",
             status_code=202)
async def request_export(request: Request, account: CurrentAccount, body: ExportIn) -> ExportOut:
    created = await context(request).exports.request(account, parse_month(body.month), body.extensions,
                                                     remote_address(request))
    return export_out(request, account, created)


@router.get("/exports", summary="The organisation's bulk downloads, newest first (admins)")
async def exports(request: Request, account: CurrentAccount) -> list[ExportOut]:
    return [export_out(request, account, e) for e in await context(request).exports.exports(account)]


class CompletenessDayOut(BaseModel):
    day: date
    required: int = Field(description="calls that had to be recorded")
    complete: int = Field(description="of them, recorded completely")
    pending: int = Field(description="not judged yet (in progress, or the file on its way to the archive)")
    exceptions: int
    percent_complete: float | None = Field(description="complete of those judged; null when none was")


class CompletenessExceptionOut(BaseModel):
    call: int | None = Field(description="the call's id in /calls (null until its row is in)")
    linked_id: str
    started_at: datetime
    caller: str
    callee: str
    reason: Reason | None
    detail: str
    required_seconds: float | None
    recorded_seconds: float | None


class CompletenessOut(BaseModel):
    organisation: str
    first_day: date
    last_day: date
    complete: bool = Field(description="no exception in the days asked")
    days: list[CompletenessDayOut]
    exceptions: list[CompletenessExceptionOut]


def completeness_out(report: Report) -> CompletenessOut:
    return CompletenessOut(
        organisation=report.organisation.name, first_day=report.first_day, last_day=report.last_day,
        complete=report.complete,
        days=[CompletenessDayOut(day=d.day, required=d.required, complete=d.complete, pending=d.pending,
                                 exceptions=d.exceptions, percent_complete=d.percent_complete) for d in report.days],
        exceptions=[CompletenessExceptionOut(
            call=e.facts.call_row_id, linked_id=e.facts.linked_id, started_at=e.facts.started_at,
            caller=e.facts.caller, callee=e.facts.callee, reason=e.verdict.reason,
            detail=e.verdict.detail, required_seconds=e.verdict.required_seconds,
            recorded_seconds=e.verdict.recorded_seconds) for e in report.exceptions])


@router.get("/completeness", summary="Whether every call that had to be recorded was, per day, with every exception"
                                     " (admins)")
async def completeness(request: Request, account: CurrentAccount,
                       first: Annotated[date | None, Query(alias="from", description="first day (default: the"
                                                                                      " week up to the last)")] = None,
                       last: Annotated[date | None, Query(alias="to", description="last day, included (default:"
                                                                                  " today)")] = None,
                       ) -> CompletenessOut:
    only_admins(account)
    return completeness_out(await context(request).completeness.report_named(account.organisation_name, first,
                                                                            last))


class AccountEntry(BaseModel):
    id: int
    email: str
    name: str
    role: Literal["admin", "user"]
    language: str
    disabled: bool


class DisabledIn(BaseModel):
    disabled: bool


AccountId = Annotated[int, Path(ge=1, le=MAX_ID, description="the account's id, as listed")]


def account_out(account: Account) -> AccountEntry:
    return AccountEntry(id=account.id, email=account.email, name=account.name, role=account.role.value,
                      language=account.language, disabled=account.disabled)


@router.get("/accounts", summary="The organisation's portal and API accounts (admins)")
async def accounts(request: Request, account: CurrentAccount) -> list[AccountEntry]:
    return [account_out(a) for a in await context(request).account_admin.list(account)]


@router.put("/accounts/{account_id}/disabled",
            summary="Disable an account (its sessions end, its tokens stop working) or enable it again (admins)")
async def disable_account(request: Request, account: CurrentAccount, account_id: AccountId,
                          body: DisabledIn) -> AccountEntry:
    return account_out(await context(request).account_admin.set_disabled(account, account_id, body.disabled,
                                                                         remote_address(request)))


@router.delete("/accounts/{account_id}", status_code=204, summary="Delete an account and its tokens (admins)")
async def delete_account(request: Request, account: CurrentAccount, account_id: AccountId) -> Response:
    await context(request).account_admin.delete(account, account_id, remote_address(request))
    return Response(status_code=204)
