"""The lab's Asterisk, AMI and PostgreSQL answer the service the way it needs them to."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from asterisk_rec.adapters.ami import AmiConnection
from asterisk_rec.adapters.ari import AriConnection, AriRest
from asterisk_rec.adapters.db import Database
from asterisk_rec.config import Settings

pytestmark = pytest.mark.anyio


async def test_ari_reports_asterisk_22(settings: Settings) -> None:
    """ARI's /asterisk/info names Asterisk 22.x."""
    async with AriRest(settings.ari) as ari:
        info = await ari.ping()
    assert info.version.startswith("22."), info.version


async def test_ari_accepts_a_stasis_app_websocket(settings: Settings) -> None:
    """While the app's WebSocket is open Asterisk lists the app; after it closes, it does not."""
    app = f"test-app-{uuid.uuid4().hex[:8]}"
    async with AriConnection(settings.ari, app=app) as ari:
        listed = (await ari.rest.request("GET", f"applications/{app}")).json()
        assert listed["name"] == app
    async with AriRest(settings.ari) as rest:
        apps = [a["name"] for a in (await rest.request("GET", "applications")).json()]
    assert app not in apps


async def test_ami_logs_in_and_receives_an_event(settings: Settings) -> None:
    """After logging in, a UserEvent we raise comes back to us as an event."""
    marker = uuid.uuid4().hex
    received: asyncio.Future[dict[str, str]] = asyncio.get_running_loop().create_future()

    def on_user_event(_manager: object, event: dict[str, str]) -> None:
        if event.get("Marker") == marker and not received.done():
            received.set_result(dict(event))

    async with AmiConnection(settings.ami) as ami:
        assert await ami.ping()
        ami.on_event("UserEvent", on_user_event)
        response = await ami.send_action({"Action": "UserEvent", "UserEvent": "AsteriskRecTest", "Marker": marker})
        assert response.success, response
        event = await asyncio.wait_for(received, 5)
    assert event["UserEvent"] == "AsteriskRecTest"


async def test_postgresql_accepts_the_service_connection(settings: Settings) -> None:
    """The service's credentials open the database and it can create and read a table."""
    async with Database(settings.database) as db:
        assert "PostgreSQL" in await db.ping()
        async with db.pool.connection() as connection:
            await connection.execute("CREATE TEMP TABLE probe (x int)")
            await connection.execute("INSERT INTO probe VALUES (42)")
            cursor = await connection.execute("SELECT x FROM probe")
            assert await cursor.fetchone() == (42,)
