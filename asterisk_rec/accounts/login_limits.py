"""How many failed logins an account and an address may have before logins are refused for a while
(pure: the clock is given). Counted per web process: with several behind a load balancer, each counts."""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

from asterisk_rec.errors import TooManyLogins


@dataclass
class LoginLimiter:
    per_account: int = 5
    per_address: int = 20
    window_seconds: float = 900.0
    _failures: dict[str, deque[float]] = field(default_factory=dict)

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self._failures.setdefault(key, deque())
        while times and now - times[0] > self.window_seconds:
            times.popleft()
        if not times:
            del self._failures[key]  # so the table holds only keys with recent failures
            return deque()
        return times

    def check(self, email: str, address: str, now: float) -> None:
        """Raises ``TooManyLogins`` (saying when to try again) if either has failed too often lately."""
        for key, limit in ((f"account:{email.strip().lower()}", self.per_account),
                           (f"address:{address}", self.per_address)):
            times = self._recent(key, now)
            if len(times) >= limit:
                minutes = max(1, math.ceil((times[0] + self.window_seconds - now) / 60))
                raise TooManyLogins(f"too many failed logins: try again in {minutes} minutes")

    def failed(self, email: str, address: str, now: float) -> None:
        for key in (f"account:{email.strip().lower()}", f"address:{address}"):
            self._recent(key, now)
            self._failures.setdefault(key, deque()).append(now)

    def succeeded(self, email: str) -> None:
        self._failures.pop(f"account:{email.strip().lower()}", None)
