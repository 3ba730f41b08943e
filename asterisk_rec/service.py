"""``asterisk-rec serve``: the long-running service. It holds the connections to PostgreSQL, AMI and
ARI (whose WebSocket registers the Stasis app) and runs until cancelled."""

from __future__ import annotations

import logging
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any

from asterisk_rec.adapters.ami import AmiConnection
from asterisk_rec.adapters.ari import AriConnection, AriRest
from asterisk_rec.adapters.db import Database
from asterisk_rec.config import Settings

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
        await stack.enter_async_context(Database(settings.database, timeout))
        await stack.enter_async_context(AmiConnection(settings.ami, timeout))
        ari = await stack.enter_async_context(AriConnection(settings.ari, timeout))
        log.info("asterisk-rec is running: Stasis app %r", settings.ari.app)
        async for event in ari.client:
            await _on_event(ari, event)


async def _on_event(ari: AriConnection, event: Any) -> None:
    # Until call control lands, a call sent to the app goes straight back to the dialplan.
    if event.type == "StasisStart":
        channel = event.channel
        log.info("channel %s entered the app: handing it back to the dialplan", channel.id)
        await channel.continueInDialplan()
