"""ARI: asyncari for the Stasis WebSocket and Asterisk's object model, httpx for plain REST calls and
for streaming recordings (asyncari reads whole bodies into memory)."""

from __future__ import annotations

import logging
import pprint
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import quote, urljoin, urlsplit

import asyncari
import asyncari.client
import httpx
from asyncari.model import CLASS_MAP

from asterisk_rec.config import AriSettings
from asterisk_rec.errors import AriCredentialsRejected, AriError, AsteriskUnreachable

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AsteriskInfo:
    version: str
    entity_id: str


def host_port(url: str) -> str:
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"{parts.hostname}:{port}"


class AriRest:
    """Plain ARI REST over httpx. Turns connection and credential failures into clear errors."""

    def __init__(self, settings: AriSettings, timeout: float = 5.0) -> None:
        self.settings = settings
        self._http = httpx.AsyncClient(
            base_url=urljoin(settings.url, "ari/"),
            auth=(settings.user, settings.password.reveal()),
            timeout=timeout,
        )

    async def __aenter__(self) -> AriRest:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._http.aclose()

    def _unreachable(self, err: Exception) -> AsteriskUnreachable:
        reason = str(err) or type(err).__name__
        return AsteriskUnreachable(
            f"Asterisk is unreachable at {host_port(self.settings.url)} (ARI, {self.settings.url}): {reason}. "
            "Is Asterisk running, with http.conf's bindaddr and bindport matching ari.url?"
        )

    async def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = await self._http.request(method, path, **kwargs)
        except httpx.TransportError as err:
            raise self._unreachable(err) from err
        self._raise_for_status(response, method, path)
        return response

    def _raise_for_status(self, response: httpx.Response, method: str, path: str) -> None:
        if response.status_code == 401:
            raise AriCredentialsRejected(
                f"ARI at {self.settings.url} rejected the credentials of user {self.settings.user!r}: "
                "check ari.user and ari.password against ari.conf"
            )
        if response.is_error:
            raise AriError(f"ARI {method} /ari/{path} answered {response.status_code}: {response.text.strip()}")

    async def ping(self) -> AsteriskInfo:
        """Asterisk's version, and proof that it answers and accepts our credentials."""
        data = (await self.request("GET", "asterisk/info", params={"only": "system"})).json()
        return AsteriskInfo(version=data["system"]["version"], entity_id=data["system"]["entity_id"])

    @asynccontextmanager
    async def stored_recording(self, name: str) -> AsyncIterator[AsyncIterator[bytes]]:
        """The bytes of a stored recording as they arrive, never held whole in memory (an eight-hour
        call is about 460 MB as WAV)."""
        path = f"recordings/stored/{quote(name, safe='')}/file"
        try:
            async with self._http.stream("GET", path) as response:
                if response.is_error:
                    await response.aread()
                self._raise_for_status(response, "GET", path)
                yield response.aiter_bytes()
        except httpx.TransportError as err:
            raise self._unreachable(err) from err

    async def download_stored_recording(self, name: str, destination: Path) -> int:
        """Streams a stored recording to a file. Returns its size."""
        written = 0
        async with self.stored_recording(name) as chunks:
            with destination.open("wb") as out:
                async for chunk in chunks:
                    out.write(chunk)
                    written += len(chunk)
        return written

    async def delete_stored_recording(self, name: str) -> None:
        await self.request("DELETE", f"recordings/stored/{quote(name, safe='')}")

    async def stored_recording_names(self) -> list[str]:
        return [r["name"] for r in (await self.request("GET", "recordings/stored")).json()]

    async def is_live(self, name: str) -> bool:
        """Whether ``name`` is still being recorded (paused counts)."""
        try:
            response = await self._http.get(f"recordings/live/{quote(name, safe='')}")
        except httpx.TransportError as err:
            raise self._unreachable(err) from err
        if response.status_code == 404:
            return False
        self._raise_for_status(response, "GET", "recordings/live")
        return True


def _forget_asyncari_objects() -> None:
    """asyncari caches its model objects (channels, bridges, ...) per class, each bound to the client
    that first made it, and asserts that later events come through that same client. A new connection
    is a new client: start it with empty caches, or the first event about an older object breaks it."""
    for cls in set(CLASS_MAP.values()):
        cls.cache = None
        cls.active = None


class AriConnection:
    """A Stasis application's connection: REST (``rest``) and asyncari's client (``client``), whose
    WebSocket registers the app with Asterisk."""

    def __init__(self, settings: AriSettings, timeout: float = 5.0, app: str | None = None) -> None:
        self.settings = settings
        self.app = app or settings.app
        self.rest = AriRest(settings, timeout)
        self._stack = AsyncExitStack()
        self.client: Any = None

    async def __aenter__(self) -> AriConnection:
        _forget_asyncari_objects()
        await self._stack.__aenter__()
        try:
            await self._stack.enter_async_context(self.rest)
            info = await self.rest.ping()
            self.client = await self._stack.enter_async_context(
                asyncari.connect(self.settings.url, self.app, self.settings.user, self.settings.password.reveal())
            )
        except BaseException:
            await self._stack.aclose()
            raise
        log.info("ARI connected: Asterisk %s, Stasis app %r", info.version, self.app)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._stack.__aexit__(exc_type, exc, tb)

    async def ping(self) -> AsteriskInfo:
        return await self.rest.ping()


# asyncari's HTTP layer puts the ARI password in every URL (api_key=...), and httpx logs URLs at INFO:
# keep those lines out of every log.
logging.getLogger("httpx").setLevel(logging.WARNING)
class _LazyPformat:
    """asyncari logs every event with ``log.debug(..., pformat(vars(msg)))``, formatting it even when debug
    logging is off: the largest part of the service's CPU per event. Formatted only when logged."""

    __slots__ = ("value",)

    def __init__(self, value: object) -> None:
        self.value = value

    def __str__(self) -> str:
        return pprint.pformat(self.value)


asyncari.client.pformat = _LazyPformat

# The call flow routes events itself; asyncari's per-object dispatch warns about every event on an object
# it does not track (each leg's Dial events): not a problem worth a line.
logging.getLogger("asyncari.model").setLevel(logging.ERROR)
