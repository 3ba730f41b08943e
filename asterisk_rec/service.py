"""``asterisk-rec serve``: the long-running service. It holds the connections to PostgreSQL, AMI and
ARI (whose WebSocket registers the Stasis app) and runs until cancelled."""

from __future__ import annotations

import logging
from contextlib import AsyncExitStack
from dataclasses import dataclass

import anyio

from asterisk_rec.adapters.ami import AmiConnection
from asterisk_rec.adapters.ari import AriConnection, AriRest
from asterisk_rec.adapters.db import Database
from asterisk_rec.callflow.app import StasisApp
from asterisk_rec.callflow.control import CallControl
from asterisk_rec.config import Settings
from asterisk_rec.directory import dialplan
from asterisk_rec.directory.store import DirectoryStore
from asterisk_rec.store.migrate import migrate

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Health:
    asterisk_version: str
    ami_ok: bool
    database_version: str


async def check(settings: Settings) -> Health:
    """Connects to everything the service needs once, and says what answered."""
    timeout = settings.service.connect_timeout
    async with AriRest(settings.ari, timeout) as ari, AmiConnection(settings.ami, timeout) as ami, \
            Database(settings.database, timeout, max_size=1) as db:
        info = await ari.ping()
        return Health(info.version, await ami.ping(), await db.ping())


async def serve(settings: Settings) -> None:
    timeout = settings.service.connect_timeout
    async with AsyncExitStack() as stack:
        db = await stack.enter_async_context(Database(settings.database, timeout))
        async with db.pool.connection() as connection:
            await migrate(connection)
        ami = await stack.enter_async_context(AmiConnection(settings.ami, timeout))
        directory = DirectoryStore(db)
        await dialplan.publish(ami, directory)
        ari = await stack.enter_async_context(AriConnection(settings.ari, timeout))
        async with anyio.create_task_group() as calls:
            calls.start_soon(dialplan.keep_published, ami, directory)
            app = StasisApp(CallControl(ari.client, settings.ari.app), directory, settings.calls, calls)
            ari.client.event_listeners.setdefault("*", []).append(app.router)
            log.info("asterisk-rec is running: Stasis app %r", settings.ari.app)
            await anyio.sleep_forever()
