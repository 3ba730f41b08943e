"""The lease's terms (pure): how long PostgreSQL grants it, how often it is renewed, and how long the
holder may count on it. The holder counts from the moment it *sent* the renewal, and only for part of the
lease: PostgreSQL grants it from when the renewal arrived, later, so the holder has stepped down before the
standby can take the lease, however slow the answer or the network."""

from __future__ import annotations

import os
import secrets
import socket
from dataclasses import dataclass

# The share of the lease the holder counts on; the rest is its time to step down.
COUNTED_SHARE = 2 / 3


@dataclass(frozen=True)
class LeaseTerms:
    seconds: float = 3.0
    renew_every_seconds: float = 0.5
    poll_every_seconds: float = 0.5

    def held_until(self, sent_at: float) -> float:
        """Until when (the monotonic clock) a renewal sent at ``sent_at`` and granted can be counted on."""
        return sent_at + self.seconds * COUNTED_SHARE


def holder_name(node: str) -> str:
    """This process's name on the lease: unique to the process, readable by an operator."""
    return f"{node}@{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
