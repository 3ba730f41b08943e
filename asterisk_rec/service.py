"""``asterisk-rec serve``: the long-running service. It holds the connections to PostgreSQL, AMI and
ARI (whose WebSocket registers the Stasis app), runs the archive's workers and the CDR ingest, and runs
until cancelled."""

from __future__ import annotations

import contextlib
import logging
import shutil
import time
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

import anyio

from asterisk_rec.adapters import systemd
from asterisk_rec.adapters.ami import AmiConnection
from asterisk_rec.adapters.ari import AriConnection, AriRest
from asterisk_rec.adapters.db import Database
from asterisk_rec.alarms.conditions import Readings as AlarmReadings
from asterisk_rec.alarms.model import AlarmKind
from asterisk_rec.alarms.service import AlarmWatch
from asterisk_rec.alarms.store import AlarmStore
from asterisk_rec.archive.records import RecordingStore
from asterisk_rec.archive.worker import Archiver
from asterisk_rec.callflow.app import StasisApp
from asterisk_rec.callflow.control import CallControl
from asterisk_rec.callflow.events import USED
from asterisk_rec.callflow.journal import Journal
from asterisk_rec.callflow.ledger import CallLedger
from asterisk_rec.callflow.recording import OPEN
from asterisk_rec.callflow.trace import AriTrace
from asterisk_rec.callflow.transfer import refer_sub_false_crashes
from asterisk_rec.calls.ingest import CdrIngest
from asterisk_rec.calls.records import CdrRecord
from asterisk_rec.calls.store import CallStore
from asterisk_rec.completeness.judge import ContinuousCheck
from asterisk_rec.completeness.model import Reason
from asterisk_rec.completeness.service import rules_of
from asterisk_rec.completeness.store import AppDownCall, CompletenessStore
from asterisk_rec.completeness.unrecorded import AppDownCount, app_down_call
from asterisk_rec.config import RetentionSettings, Settings
from asterisk_rec.directory import dialplan
from asterisk_rec.directory.cache import DirectoryCache
from asterisk_rec.directory.models import ArchiveFormat
from asterisk_rec.directory.store import DirectoryStore
from asterisk_rec.errors import AriCredentialsRejected, AriError, AsteriskRecError
from asterisk_rec.health.metrics import Readings
from asterisk_rec.health.state import Dependencies
from asterisk_rec.jobs.records import JobRecords
from asterisk_rec.jobs.supervisor import describe, supervised
from asterisk_rec.mail.mailer import Mailer
from asterisk_rec.retention.service import RetentionService
from asterisk_rec.standby.lease import LeaseTerms, holder_name
from asterisk_rec.standby.service import NodeLease
from asterisk_rec.standby.store import LeaseStore
from asterisk_rec.store.migrate import migrate
from asterisk_rec.web.app import run_web, web_context

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Health:
    asterisk_version: str
    database_version: str


async def check(settings: Settings) -> Health:
    """Connects to everything the service needs once, and says what answered."""
    timeout = settings.service.connect_timeout
    async with AriRest(settings.ari, timeout) as ari, AmiConnection(settings.ami, timeout) as ami, \
            Database(settings.database, timeout, max_size=1) as db:
        info = await ari.ping()
        await ami.ping()
        return Health(info.version, await db.ping())


async def serve(settings: Settings) -> None:
    if not settings.standby.enabled:
        await serve_active(settings)
        return
    # Active or standby, as the node's lease says. The lease is on a connection of its own (the pool may
    # be busy, or gone with a stepped-down service).
    async with Database(settings.database, settings.service.connect_timeout, max_size=1) as db:
        async with db.pool.connection() as connection:
            await migrate(connection)
        conninfo = db.conninfo
    node = settings.service.node
    standby = settings.standby
    lease = NodeLease(LeaseStore(conninfo), node, holder_name(node),
                      LeaseTerms(standby.lease_seconds, standby.renew_every_seconds, standby.poll_every_seconds))
    async with anyio.create_task_group() as tasks:
        # Alive for systemd in either role: a standby is a service that runs, waiting.
        tasks.start_soon(systemd.keep_watchdog_fed)
        systemd.notify("READY=1")
        await lease.run_while_active(partial(serve_active, settings, systemd_told=True))
        tasks.cancel_scope.cancel()


async def serve_active(settings: Settings, systemd_told: bool = False) -> None:
    """The service, controlling the calls of its Asterisk; ``systemd_told``: the caller keeps systemd's
    watchdog fed and said it is ready."""
    timeout = settings.service.connect_timeout
    async with AsyncExitStack() as stack:
        db = await stack.enter_async_context(Database(settings.database, timeout))
        async with db.pool.connection() as connection:
            await migrate(connection)
        # Only CDRs and UserEvents (the dialplan's AsteriskRecAppDown): on a call Asterisk raises dozens of
        # other events (every variable set, every state change) that panoramisk would parse only to drop.
        ami = await stack.enter_async_context(AmiConnection(settings.ami, timeout, events="cdr,user"))
        # What /readyz reports: the connections as they go (PostgreSQL and the archive are checked there).
        dependencies = Dependencies()
        dependencies.expect("ari")
        dependencies.up("ami")
        ami.on_login(lambda: dependencies.up("ami"))
        ami.on_lost(lambda reason: dependencies.down("ami", reason))
        rest = await stack.enter_async_context(AriRest(settings.ari, timeout))
        directory = DirectoryStore(db)
        # Calls are attributed from memory, and written down locally first: PostgreSQL is not in their path.
        directory_cache = DirectoryCache(db, settings.service.directory_refresh_seconds, dependencies)
        dependencies.expect("directory")
        await directory_cache.load()
        journal = stack.enter_context(contextlib.closing(Journal(Path(settings.service.journal)).open()))
        app_down = AppDownCount()
        ami.on_event("UserEvent", app_down.on_user_event)
        calls = CallStore(db, settings.calls.trunk_plan.endpoints,
                          attribute_unrecorded=partial(_unrecorded_call, directory_cache, app_down))
        completeness_store = CompletenessStore(db)
        completeness = ContinuousCheck(completeness_store, rules_of(settings.completeness),
                                       settings.completeness.check_every_seconds)
        # An incident of calls without the app or of exceptions outlives a restart: its quiet time runs on.
        evidence = await completeness_store.evidence_since(
            datetime.now(UTC) - timedelta(minutes=settings.alarms.quiet_minutes))
        app_down.call_at(evidence.last_app_down)
        completeness.remember(evidence.exceptions)
        ingest = CdrIngest(calls, settings.cdr)
        ami.on_event("Cdr", ingest.on_cdr_event)
        ami.on_login(ingest.on_ami_login)
        recordings = RecordingStore(db)
        try:
            # Made now rather than at the first recording: /readyz checks it from the start.
            await anyio.Path(settings.archive.root).mkdir(parents=True, exist_ok=True)
        except OSError as err:
            log.error("cannot make the archive's root %s: %s", settings.archive.root, err)
        trace = None
        if settings.service.ari_trace:
            header = {"app": settings.ari.app, "calls": asdict(settings.calls)}
            trace = stack.enter_context(contextlib.closing(AriTrace(Path(settings.service.ari_trace)).open(header)))
        control = CallControl(None, settings.ari.app, trace)

        async def delete_spool_copy(name: str) -> None:
            """Over the app's WebSocket while it is up (cheaper than an HTTP request), else over HTTP.
            Untraced: an ARI trace holds the call flow's own commands (the replay fixtures are made of it)."""
            try:
                await CallControl(control.client, settings.ari.app).delete_stored_recording(name)
            except AriError:
                await rest.delete_stored_recording(name)

        archiver = Archiver(rest, recordings, settings.archive, settings.calls.recording_format,
                            known_format=lambda organisation_id: _archive_format(directory_cache, organisation_id),
                            delete=delete_spool_copy)
        await dialplan.publish(ami, directory)
        jobs = JobRecords(db)
        async with anyio.create_task_group() as tasks:
            # Everything but call control runs supervised: its failure is logged, noted and retried, and
            # never ends the task group (and with it the calls in progress).
            def background(name: str, job: Callable[[], Awaitable[None]]) -> None:
                tasks.start_soon(supervised, name, job, jobs)

            background("directory", directory_cache.run)
            background("dialplan-settings", partial(dialplan.keep_published, ami, directory))
            background("cdr-ingest", ingest.run)
            background("archive", archiver.run)
            background("counters", partial(report, ingest, archiver))
            background("completeness", completeness.run)
            alarms = AlarmWatch(AlarmStore(db), Mailer(settings.mail), settings.alarms,
                                partial(_alarm_readings, dependencies, app_down, completeness, archiver, settings),
                                partial(_organisation_name, directory_cache))
            background("alarms", alarms.run)
            web, secret = await web_context(settings, db, dependencies)
            if settings.web.enabled:
                background("portal", partial(run_web, web, secret))
            background("exports", web.exports.run)
            if settings.retention.purge_every_hours > 0:
                background("purge", partial(purge_every, web.retention, Path(settings.archive.root),
                                            settings.retention))
            ledger = CallLedger(calls, recordings, archiver, tasks, journal)
            background("journal-replay", ledger.replay)
            app = StasisApp(control, directory_cache, settings.calls, ledger, tasks)
            web.metrics.watch_service(partial(_readings, app, archiver, ingest, app_down, completeness, alarms),
                                      dependencies)
            if not systemd_told:
                tasks.start_soon(systemd.keep_watchdog_fed)
                # Ready for systemd: calls are taken as soon as ARI is connected (or retried until it is).
                systemd.notify("READY=1")
            await keep_connected(settings, app, dependencies)


def _unrecorded_call(directory: DirectoryCache, app_down: AppDownCount, record: CdrRecord) -> AppDownCall | None:
    """A CDR the dialplan marked: the call it connected (or refused) without the app."""
    call = app_down_call(record.unrecorded or "", linked_id=record.linked_id, caller=record.source,
                         number=record.destination, channel=record.channel, at=record.started_at,
                         directory=directory)
    if call is not None:
        # Perhaps while this service was not running: no UserEvent told it of the call.
        app_down.call_at(call.at)
    return call


def _alarm_readings(dependencies: Dependencies, app_down: AppDownCount, completeness: ContinuousCheck,
                    archiver: Archiver, settings: Settings) -> AlarmReadings:
    """What the alarms look at, now (the disks asked there and then: a statvfs each)."""
    disks = {}
    for what, path in (("spool", settings.archive.spool_dir), ("archive", settings.archive.root)):
        if path:
            try:
                usage = shutil.disk_usage(path)
            except OSError:
                continue
            disks[what] = 100.0 * usage.used / usage.total if usage.total else 0.0
    return AlarmReadings(
        now=time.monotonic(), dependencies=dependencies.all(), app_down_last_heard=app_down.last_heard,
        app_down_calls=app_down.calls, exceptions_last_found=dict(completeness.last_found_in),
        exceptions_found=dict(completeness.found_in), archive_failing_since=_monotonic(archiver.failing_since),
        archive_error=archiver.last_error, disks=disks)


def _monotonic(anyio_time: float | None) -> float | None:
    """anyio's clock (the event loop's) on time.monotonic's scale."""
    return None if anyio_time is None else anyio_time - anyio.current_time() + time.monotonic()


def _organisation_name(directory: DirectoryCache, organisation_id: int) -> str | None:
    organisation = directory.organisation_by_id(organisation_id)
    return organisation.name if organisation else None


def _readings(app: StasisApp, archiver: Archiver, ingest: CdrIngest, app_down: AppDownCount,
              completeness: ContinuousCheck, alarms: AlarmWatch) -> Readings:
    """The counters /metrics reads, as they are now."""
    archive, cdrs = archiver.counts, ingest.counts
    full_since = archiver.disk_full_since
    return Readings(
        calls_in_progress=len(app.active),
        recordings_in_progress=sum(1 for flow in app.active.values()
                                   if flow.recording is not None and flow.recording.state in OPEN),
        recordings_stored=archive.stored, archive_failed_attempts=archive.failed_attempts,
        recordings_lost=archive.lost, recordings_unowned=archive.unowned, archive_queue=archiver.pending,
        archive_disk_full_seconds=0.0 if full_since is None else anyio.current_time() - full_since,
        cdrs_received=cdrs.received, cdrs_stored=cdrs.stored, cdrs_recovered_from_csv=cdrs.recovered_from_csv,
        cdrs_unreadable=cdrs.unreadable, cdr_write_failures=cdrs.write_failures,
        app_down_calls=app_down.calls,
        completeness_exceptions={reason.value: completeness.found[reason] for reason in Reason},
        alarms_active=alarms.active_count, alarms_raised={kind.value: alarms.raised[kind] for kind in AlarmKind},
        calls=dict(app.timings.outcomes), hangup_to_stored_seconds=archiver.hangup_to_stored,
        feature_code_seconds=app.timings.feature_code, cdr_lag_seconds=ingest.lag)


def _archive_format(directory: DirectoryCache, organisation_id: int) -> ArchiveFormat | None:
    organisation = directory.organisation_by_id(organisation_id)
    return organisation.archive_format if organisation else None


async def purge_every(retention: RetentionService, archive_root: Path, settings: RetentionSettings) -> None:
    """Deletes the recordings past their retention period, a minute after start and then every
    ``retention.purge_every_hours``."""
    await anyio.sleep(60)
    while True:
        try:
            await retention.purge(archive_root)
        except Exception as err:  # a failed round waits for the next
            log.error("purge failed: %s; trying again at the next round", describe(err))
        await anyio.sleep(settings.purge_every_hours * 3600)


async def report(ingest: CdrIngest, archiver: Archiver) -> None:
    """The service's counters in the log, when they change (a failed fetch or store is an alarm)."""
    last = None
    while True:
        await anyio.sleep(REPORT_EVERY_SECONDS)
        now = (ingest.counts, archiver.counts, archiver.pending)
        if repr(now) != last:
            last = repr(now)
            log.info("CDRs %s; archive %s, %d pending", ingest.counts, archiver.counts, archiver.pending)


async def announce_transfers(ari: AriConnection, settings: Settings) -> None:
    """Tells the dialplan who handles the callers' transfers (ASTERISK_REC_TRANSFERS), and warns when
    this Asterisk is one a REFER with Refer-Sub: false crashes while the app handles them."""
    handling = settings.calls.transfers
    await ari.rest.request("POST", "asterisk/variable", params={"variable": "ASTERISK_REC_TRANSFERS",
                                                                 "value": handling})
    version = (await ari.ping()).version
    if handling == "app" and refer_sub_false_crashes(version):
        log.warning("Asterisk %s crashes on a transfer (REFER) with Refer-Sub: false while the app handles "
                    "transfers (asterisk issue 2021, fixed by pull request 2022): upgrade Asterisk, or set "
                    "calls.transfers = asterisk if phones send it (recordings then end at a transfer)", version)


async def keep_connected(settings: Settings, app: StasisApp, dependencies: Dependencies | None = None) -> None:
    """Holds the Stasis app's WebSocket open; when it drops (Asterisk restarting, a network fault), connects
    again and reconciles. Calls in progress keep their flows: Asterisk keeps their channels meanwhile.
    ``dependencies`` hears when the app is up (reconciled) and when it is not, with why."""
    delay = RECONNECT_FIRST_SECONDS
    dependencies = dependencies or Dependencies()
    while True:
        try:
            async with AriConnection(settings.ari, settings.service.connect_timeout, events=USED) as ari:
                app.control.client = ari.client
                await announce_transfers(ari, settings)
                ari.client.listeners.append(app.router)
                await app.reconcile()
                dependencies.up("ari")
                log.info("asterisk-rec is running: Stasis app %r", settings.ari.app)
                delay = RECONNECT_FIRST_SECONDS
                await ari.client.closed.wait()
                broken = ari.client.broken
            dependencies.down("ari", broken or "the WebSocket closed")
            if broken:
                log.warning("the ARI WebSocket broke (%s): connecting again", broken)
            else:
                log.warning("the ARI WebSocket closed: connecting again")
        except AriCredentialsRejected as err:
            dependencies.down("ari", err.message)
            raise  # retrying cannot help: the operator must fix the configuration
        except AsteriskRecError as err:
            dependencies.down("ari", err.message)
            log.error("%s: trying again in %g s", err, delay)
            await anyio.sleep(delay)
            delay = min(delay * 2, RECONNECT_MAX_SECONDS)
        except Exception as err:  # whatever else broke the connection: the calls go on, so does the app
            dependencies.down("ari", describe(err))
            log.warning("the ARI WebSocket broke (%s): connecting again", describe(err))
            log.debug("the ARI WebSocket broke", exc_info=True)


REPORT_EVERY_SECONDS = 60.0
RECONNECT_FIRST_SECONDS = 1.0
RECONNECT_MAX_SECONDS = 30.0
