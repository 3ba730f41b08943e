"""Each call's own queue of the events that concern it, and the router that fills the queues."""

from __future__ import annotations

from collections import deque
from collections.abc import Awaitable, Callable

import anyio

from asterisk_rec.callflow.events import Event, event_keys
from asterisk_rec.callflow.trace import AriTrace


class Inbox:
    def __init__(self) -> None:
        self._events: deque[Event] = deque()
        self._arrived = anyio.Event()

    def deliver(self, event: Event) -> None:
        self._events.append(event)
        self._arrived.set()

    async def next(self) -> Event:
        while not self._events:
            self._arrived = anyio.Event()
            await self._arrived.wait()
        return self._events.popleft()


class EventRouter:
    """The connection's listener: delivers each event to the inboxes that claimed one of its ids, and hands
    the rest (new calls entering the app) to ``on_unclaimed``. It never blocks the connection's reader."""

    def __init__(self, on_unclaimed: Callable[[Event], Awaitable[None]], trace: AriTrace | None = None) -> None:
        self._owners: dict[str, Inbox] = {}
        self._on_unclaimed = on_unclaimed
        self.trace = trace

    def claim(self, key: str, inbox: Inbox) -> None:
        self._owners[key] = inbox

    def release(self, inbox: Inbox) -> None:
        for key in [k for k, owner in self._owners.items() if owner is inbox]:
            del self._owners[key]

    async def __call__(self, event: Event) -> None:
        if self.trace is not None:
            self.trace.event(event)
        inboxes = {id(inbox): inbox for key in event_keys(event) if (inbox := self._owners.get(key))}
        for inbox in inboxes.values():
            inbox.deliver(event)
        if not inboxes:
            await self._on_unclaimed(event)
