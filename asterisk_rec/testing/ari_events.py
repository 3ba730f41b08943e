"""Waiting for ARI events in tests without blocking the connection's reader."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anyio

from asterisk_rec.adapters.ari import AriClient


class EventLog:
    """Keeps every event the client receives (their JSON); ``wait_for`` finds one, past or future."""

    def __init__(self, client: AriClient) -> None:
        self.events: list[dict[str, Any]] = []
        self._arrived = anyio.Event()
        client.listeners.append(self)

    async def __call__(self, event: dict[str, Any]) -> None:
        self.events.append(event)
        self._arrived.set()
        self._arrived = anyio.Event()

    async def wait_for(self, event_type: str, matches: Callable[[dict[str, Any]], bool] = lambda e: True,
                       within: float = 10.0) -> dict[str, Any]:
        with anyio.fail_after(within):
            seen = 0
            while True:
                for event in self.events[seen:]:
                    if event["type"] == event_type and matches(event):
                        return event
                seen = len(self.events)
                await self._arrived.wait()
