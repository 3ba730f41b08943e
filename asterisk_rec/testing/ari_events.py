"""Waiting for ARI events in tests without blocking asyncari's reader (its own listeners block the
WebSocket until they are read)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anyio


class EventLog:
    """Keeps every event the client receives; ``wait_for`` finds one, past or future."""

    def __init__(self, client: Any) -> None:
        self.events: list[Any] = []
        self._arrived = anyio.Event()
        client.event_listeners.setdefault("*", []).append(self)

    async def __call__(self, event: Any) -> None:
        self.events.append(event)
        self._arrived.set()
        self._arrived = anyio.Event()

    async def wait_for(self, event_type: str, matches: Callable[[Any], bool] = lambda e: True,
                       within: float = 10.0) -> Any:
        with anyio.fail_after(within):
            seen = 0
            while True:
                for event in self.events[seen:]:
                    if event.type == event_type and matches(event):
                        return event
                seen = len(self.events)
                await self._arrived.wait()
