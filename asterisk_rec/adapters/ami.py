"""AMI over panoramisk, with a login that either succeeds or says clearly why not."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from types import TracebackType
from typing import Any

from panoramisk import Manager
from panoramisk.message import Message

from asterisk_rec.config import AmiSettings
from asterisk_rec.errors import AmiCredentialsRejected, AsteriskUnreachable

log = logging.getLogger(__name__)


class _Manager(Manager):  # type: ignore[misc]
    """panoramisk's Manager keeps reconnecting after close(); once we close, we mean it."""

    closed = False

    def connect(self, *args: Any, **kwargs: Any) -> Any:
        if self.closed:
            return None
        return super().connect(*args, **kwargs)


class AmiConnection:
    """``events``: the event classes Asterisk sends this session (its Login's ``Events``: ``on``, ``off``
    or a list as ``cdr,call``); actions are answered whatever it says."""

    def __init__(self, settings: AmiSettings, timeout: float = 5.0, events: str = "on") -> None:
        self.settings = settings
        self.timeout = timeout
        self._on_login: list[Callable[[], Any]] = []
        self._on_lost: list[Callable[[str], Any]] = []
        self.manager = _Manager(
            host=settings.host,
            port=settings.port,
            username=settings.user,
            secret=settings.password.reveal(),
            ping_delay=10,
            ping_interval=10,
            reconnect_timeout=2,
            events=events,
            log=logging.getLogger(f"{__name__}.panoramisk"),
            on_login=self._logged_in,
            on_disconnect=self._disconnected,
        )

    @property
    def where(self) -> str:
        return f"{self.settings.host}:{self.settings.port}"

    async def __aenter__(self) -> AmiConnection:
        try:
            await self._login()
        except BaseException:
            self.close()
            raise
        log.info("AMI logged in at %s as %r", self.where, self.settings.user)
        return self

    async def _login(self) -> None:
        try:
            async with asyncio.timeout(self.timeout):
                await self.manager.connect()
                # panoramisk sent Login from its connection callback, which ran before connect() returned.
                if self.manager.authenticated_future is not None:
                    await self.manager.authenticated_future
        except OSError as err:
            raise AsteriskUnreachable(
                f"Asterisk is unreachable at {self.where} (AMI): {err.strerror or err}. "
                "Is Asterisk running, with manager.conf enabled on that address and port?"
            ) from err
        except TimeoutError as err:
            raise AsteriskUnreachable(
                f"Asterisk did not answer at {self.where} (AMI) within {self.timeout:g} s"
            ) from err
        if not self.manager.authenticated:
            raise AmiCredentialsRejected(
                f"AMI at {self.where} rejected the login of user {self.settings.user!r}: "
                "check ami.user and ami.password against manager.conf"
            )

    def close(self) -> None:
        self.manager.closed = True
        self.manager.close()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    async def send_action(self, action: dict[str, str]) -> Message:
        return await asyncio.wait_for(self.manager.send_action(action), self.timeout)

    async def ping(self) -> bool:
        response = await self.send_action({"Action": "Ping"})
        return bool(response.success)

    def on_login(self, callback: Callable[[], Any]) -> None:
        """``callback`` runs after every successful login: the first and each after a reconnect (events
        sent meanwhile are lost to this connection)."""
        self._on_login.append(callback)

    def _logged_in(self, manager: Manager) -> None:
        for callback in self._on_login:
            callback()

    def on_lost(self, callback: Callable[[str], Any]) -> None:
        """``callback(reason)`` runs when the connection drops (panoramisk then reconnects by itself)."""
        self._on_lost.append(callback)

    def _disconnected(self, manager: Manager, exc: Exception | None) -> None:
        if not manager.closed:
            log.warning("AMI connection to %s lost (%s): reconnecting", self.where, exc or "closed")
            for callback in self._on_lost:
                callback(str(exc or "closed"))

    def on_event(self, pattern: str, callback: Callable[[Manager, Message], Any]) -> None:
        self.manager.register_event(pattern, callback)
