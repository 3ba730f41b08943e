"""The Stasis app's connection to Asterisk: one WebSocket (the ``websockets`` library) that registers the
app and brings Asterisk's events, in order, to the listeners, and that carries the app's commands as REST
requests too (an Asterisk too old for that takes them over HTTP). The operations are Asterisk's own, read
from its API description when connecting.

Why not asyncari: on the lab, a command over asyncari costs 0.52 ms of the service's CPU, one over plain
httpx 0.49 ms, one over this WebSocket 0.07 ms; and asyncari builds its object model for every event, which
the call flow never reads (it works on the events' JSON)."""

from __future__ import annotations

import asyncio
import base64
import itertools
import logging
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AsyncExitStack
from types import TracebackType
from typing import Any
from urllib.parse import quote, urlsplit

import anyio
import websockets
from websockets.asyncio.client import ClientConnection, connect

from asterisk_rec.adapters.ari.api import AriApi, RestRequest, resource_paths
from asterisk_rec.adapters.ari.rest import AriRest, AsteriskInfo, host_port
from asterisk_rec.adapters.ari.wire import RestResponse, parse_message, request_message
from asterisk_rec.config import AriSettings
from asterisk_rec.errors import (
    AriCommandFailed,
    AriConnectionLost,
    AriCredentialsRejected,
    AsteriskUnreachable,
)

log = logging.getLogger(__name__)

Listener = Callable[[dict[str, Any]], Awaitable[None]]

# A channel list of a busy Asterisk is one message: far above the library's 1 MiB default.
MAX_MESSAGE_BYTES = 64 * 1024 * 1024
# How long an Asterisk that carries REST over the WebSocket takes to answer a ping, at most, on a busy box.
PROBE_SECONDS = 2.0


def events_url(settings: AriSettings, app: str) -> str:
    parts = urlsplit(settings.url)
    scheme = "wss" if parts.scheme == "https" else "ws"
    base = parts.path.rstrip("/")
    return f"{scheme}://{parts.netloc}{base}/ari/events?app={quote(app, safe='')}&subscribeAll=false"


def basic_auth(settings: AriSettings) -> str:
    """In a header, not in the URL (asyncari put the password in every URL it logged)."""
    pair = f"{settings.user}:{settings.password.reveal()}".encode()
    return "Basic " + base64.b64encode(pair).decode("ascii")


async def load_api(rest: AriRest) -> AriApi:
    index = (await rest.request("GET", "api-docs/resources.json")).json()
    return AriApi.from_documents([(await rest.request("GET", path)).json() for path in resource_paths(index)])


def _time_out(answered: asyncio.Future[RestResponse]) -> None:
    if not answered.done():
        answered.set_exception(TimeoutError())


class AriClient:
    """Commands by name (``await client.call("channels.answer", channelId=...)``), answered with their
    JSON; an error answer raises ``AriCommandFailed`` (with its status), a connection that breaks or a
    command unanswered within ``timeout`` raises ``AriConnectionLost``. Events go to ``listeners`` one at a
    time in Asterisk's order; a listener must not block (the call flow's router only queues them)."""

    def __init__(self, websocket: ClientConnection, api: AriApi, rest: AriRest, timeout: float) -> None:
        self._websocket = websocket
        self.api = api
        self._rest = rest
        self.timeout = timeout
        self.over_websocket = True
        self.listeners: list[Listener] = []
        self.closed = anyio.Event()
        # Why the WebSocket closed, when it did not close cleanly (Asterisk gone, the connection cut).
        self.broken: str | None = None
        self._ids = itertools.count(1)
        self._pending: dict[str, asyncio.Future[RestResponse]] = {}

    async def call(self, name: str, /, **params: Any) -> Any:
        request = self.api.request(name, params)
        response = await (self._over_websocket(request) if self.over_websocket else self._over_http(request))
        if response.is_error:
            text = response.error_text()
            raise AriCommandFailed(f"ARI {name} answered {response.status}: {text}", response.status, text)
        return response.body

    async def _over_websocket(self, request: RestRequest, within: float | None = None) -> RestResponse:
        if self.closed.is_set():
            raise AriConnectionLost("the ARI WebSocket is closed")
        request_id = str(next(self._ids))
        loop = asyncio.get_running_loop()
        answered: asyncio.Future[RestResponse] = loop.create_future()
        self._pending[request_id] = answered
        seconds = self.timeout if within is None else within
        # A plain timer on the future: anyio's fail_after (a cancel scope per command) cost a sixth of a
        # command's CPU.
        timer = loop.call_later(seconds, _time_out, answered)
        try:
            await self._websocket.send(request_message(request_id, request))
            return await answered
        except TimeoutError as err:
            raise AriConnectionLost(f"ARI {request.method} {request.uri}: no answer within {seconds:g} s") from err
        except websockets.ConnectionClosed as err:
            raise AriConnectionLost(f"the ARI WebSocket closed ({err})") from err
        finally:
            timer.cancel()
            self._pending.pop(request_id, None)

    async def _over_http(self, request: RestRequest) -> RestResponse:
        try:
            response = await self._rest.request(request.method, request.uri, params=list(request.query),
                                                json=request.body)
        except AriCommandFailed as err:
            return RestResponse("", err.status, err.text, {"message": err.text})
        except AsteriskUnreachable as err:
            raise AriConnectionLost(err.message) from err
        return RestResponse("", response.status_code, response.reason_phrase,
                            response.json() if response.content else None)

    async def carries_rest(self) -> bool:
        """Whether this Asterisk answers REST requests on the WebSocket (older ones ignore them)."""
        try:
            response = await self._over_websocket(RestRequest("GET", "asterisk/ping"), within=PROBE_SECONDS)
        except AriConnectionLost:
            return False
        return response.status == 200

    async def read(self) -> None:
        """Until the WebSocket closes: each message to the command waiting for it, or to the listeners."""
        try:
            async for text in self._websocket:
                try:
                    message = parse_message(text)
                except ValueError as err:
                    log.warning("ARI sent a message that is not an event: %s", err)
                    continue
                if isinstance(message, RestResponse):
                    answered = self._pending.get(message.request_id)
                    if answered is not None and not answered.done():
                        answered.set_result(message)
                    continue
                for listener in list(self.listeners):
                    try:
                        await listener(message)
                    except Exception:  # one event handled badly must not cut every call off its events
                        log.exception("handling ARI event %s failed", message.get("type"))
        except websockets.ConnectionClosedOK:
            pass
        except websockets.ConnectionClosed as err:
            self.broken = str(err) or type(err).__name__
        finally:
            self.closed.set()
            for answered in self._pending.values():
                if not answered.done():
                    answered.set_exception(AriConnectionLost("the ARI WebSocket closed"))


class AriConnection:
    """A Stasis application's connection: ``client`` (commands and events, see ``AriClient``) and ``rest``
    (plain HTTP, for the ping and the stored recordings' bytes). ``commands_over_websocket``: ``None``
    asks Asterisk whether it takes them there. ``events``: the only event types the app is sent (all if
    ``None``)."""

    def __init__(self, settings: AriSettings, timeout: float = 5.0, app: str | None = None,
                 commands_over_websocket: bool | None = None, events: Sequence[str] | None = None) -> None:
        self.settings = settings
        self.app = app or settings.app
        self.timeout = timeout
        self.commands_over_websocket = commands_over_websocket
        self.events = events
        self.rest = AriRest(settings, timeout)
        self._stack = AsyncExitStack()
        self._client: AriClient | None = None

    @property
    def client(self) -> AriClient:
        if self._client is None:
            raise AriConnectionLost("the ARI connection is not open")
        return self._client

    async def __aenter__(self) -> AriConnection:
        await self._stack.__aenter__()
        try:
            await self._stack.enter_async_context(self.rest)
            info = await self.rest.ping()
            api = await load_api(self.rest)
            try:
                websocket = await self._stack.enter_async_context(self._connect())
            except (OSError, TimeoutError, websockets.InvalidHandshake) as err:
                raise websocket_failure(self.settings, err) from err
            await self._filter_events()
            client = AriClient(websocket, api, self.rest, self.timeout)
            tasks = await self._stack.enter_async_context(anyio.create_task_group())
            self._stack.callback(tasks.cancel_scope.cancel)
            tasks.start_soon(client.read)
            client.over_websocket = self.commands_over_websocket if self.commands_over_websocket is not None \
                else await client.carries_rest()
            self._client = client
        except BaseException:
            await self._stack.aclose()
            raise
        log.info("ARI connected: Asterisk %s, Stasis app %r, commands over %s", info.version, self.app,
                 "the WebSocket" if client.over_websocket else "HTTP")
        return self

    async def _filter_events(self) -> None:
        """Asterisk sends the app only ``events`` (13.26 and later): on a call it raises dozens that the app
        would parse only to drop (a ``ChannelVarset`` for every variable the dialplan sets, ``Dial``,
        ``ChannelDialplan``...). Set on every connection, as the app (and its filter) outlives it in
        Asterisk; over HTTP, because over the WebSocket the filter applies to the answers too (a filter
        without ``RESTResponse`` silences every command)."""
        allowed = [] if self.events is None else [{"type": kind} for kind in (*self.events, "RESTResponse")]
        # The filter is the whole body (Asterisk reads it so), which the API description cannot say.
        await self.rest.request("PUT", f"applications/{quote(self.app, safe='')}/eventFilter",
                                json={"allowed": allowed, "disallowed": []})

    def _connect(self) -> connect:
        return connect(events_url(self.settings, self.app), open_timeout=self.timeout,
                                  additional_headers={"Authorization": basic_auth(self.settings)},
                                  max_size=MAX_MESSAGE_BYTES, compression=None)

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._client = None
        await self._stack.__aexit__(exc_type, exc, tb)

    async def ping(self) -> AsteriskInfo:
        return await self.rest.ping()


def websocket_failure(settings: AriSettings, err: Exception) -> Exception:
    """A failed WebSocket handshake as the error a person can act on."""
    if isinstance(err, websockets.InvalidStatus) and err.response.status_code == 401:
        return AriCredentialsRejected(f"ARI at {settings.url} rejected the credentials of user {settings.user!r}")
    return AsteriskUnreachable(f"the ARI WebSocket at {host_port(settings.url)} failed: {err}")
