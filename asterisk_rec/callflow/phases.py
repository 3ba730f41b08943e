"""The phases a call goes through, and what every phase shares: it reacts to the ARI events it expects,
each by a method named after the event (``on_PlaybackFinished``), and to the end of its wait
(``on_timeout``); events it does not expect pass it by."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from enum import Enum
from typing import TYPE_CHECKING, ClassVar

from asterisk_rec.callflow.events import Event
from asterisk_rec.policy import Side

if TYPE_CHECKING:
    from asterisk_rec.callflow.call import CallFlow


class CallPhase(Enum):
    RINGING = "ringing"
    JOINING = "joining"
    TALKING = "talking"
    TRANSFERRING = "transferring"
    ENDING = "ending"


# The parties met: a recording made from here on is kept.
MET = frozenset({CallPhase.TALKING, CallPhase.TRANSFERRING})


class EndReason(Enum):
    CALLER_HUNG_UP = "the caller hung up"
    CALLEE_HUNG_UP = "the callee hung up"
    UNANSWERED = "nobody answered: back to the dialplan"
    FAULT = "a fault"
    TRANSFER_FAILED = "nobody took the transferred call"
    MERGED = "an attended transfer took its party into another call"


class PartyGone(Exception):
    def __init__(self, side: Side) -> None:
        super().__init__(side.value)
        self.side = side


class Phase:
    kind: ClassVar[CallPhase]

    def __init__(self, flow: CallFlow) -> None:
        self.flow = flow

    async def begin(self) -> None:
        """The phase's first commands."""

    def over(self) -> bool:
        """Whether the phase has done its part (checked before each event)."""
        return False

    def wait(self) -> float | None:
        """Seconds until ``on_timeout``; None: no timer."""
        return None

    async def on_timeout(self) -> None:
        """The wait ran out with no event."""

    async def dispatch(self, event: Event) -> None:
        handler: Callable[[Event], Awaitable[None]] | None = getattr(self, f"on_{event['type']}", None)
        if handler is not None:
            await handler(event)

    async def run(self) -> None:
        await self.begin()
        await self.loop()

    async def loop(self) -> None:
        """Events (and timeouts) until the phase is over."""
        while not self.over():
            event = await self.flow.next_event(self.wait())
            if event is None:
                await self.on_timeout()
            else:
                await self.dispatch(event)
