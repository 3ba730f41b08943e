"""ARI's REST interface over HTTP (httpx): the health ping, the stored recordings streamed to the archive
(never whole in memory), and the commands of an Asterisk too old to take them over the WebSocket."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import quote, urljoin, urlsplit

import httpx

from asterisk_rec.config import AriSettings
from asterisk_rec.errors import AriCommandFailed, AriCredentialsRejected, AsteriskUnreachable

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
            text = response.text.strip()
            raise AriCommandFailed(f"ARI {method} /ari/{path} answered {response.status_code}: {text}",
                                   response.status_code, text)

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


# httpx logs every request at INFO: a line per stored recording fetched is noise in the service's log.
logging.getLogger("httpx").setLevel(logging.WARNING)
