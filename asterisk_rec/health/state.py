"""What the service depends on, each up or down since when and why (pure: the connections report to it,
the readiness probe reads it)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Dependency:
    name: str
    up: bool
    since: float
    reason: str = ""


class Dependencies:
    """``expect`` a dependency (down until it reports up), then ``up`` and ``down`` as its connection
    goes; ``clock`` is monotonic seconds."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._by_name: dict[str, Dependency] = {}

    def expect(self, name: str) -> None:
        self._by_name.setdefault(name, Dependency(name, False, self.clock(), "not connected yet"))

    def up(self, name: str) -> None:
        if not self._by_name.get(name, Dependency(name, False, 0.0)).up:
            self._by_name[name] = Dependency(name, True, self.clock())

    def down(self, name: str, reason: str) -> None:
        current = self._by_name.get(name)
        # Still the same outage: it keeps its start (and its first reason).
        if current is None or current.up:
            self._by_name[name] = Dependency(name, False, self.clock(), reason)

    def is_up(self, name: str) -> bool:
        found = self._by_name.get(name)
        return found is not None and found.up

    def all(self) -> list[Dependency]:
        return sorted(self._by_name.values(), key=lambda d: d.name)
