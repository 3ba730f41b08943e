"""Durations counted into a histogram's buckets (pure): the parts observe what they time, and /metrics
serves the counts when scraped (the parts import no metrics library)."""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

# Seconds; Prometheus' cumulative "le" buckets, +Inf beyond the last.
FAST = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
SLOW = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)


@dataclass
class Durations:
    bounds: tuple[float, ...] = FAST
    # Per bucket (not cumulative), the last for beyond the last bound.
    counts: list[int] = field(default_factory=list)
    total: float = 0.0

    def __post_init__(self) -> None:
        if not self.counts:
            self.counts = [0] * (len(self.bounds) + 1)

    def observe(self, seconds: float) -> None:
        seconds = max(0.0, seconds)
        self.counts[bisect.bisect_left(self.bounds, seconds)] += 1
        self.total += seconds

    @property
    def count(self) -> int:
        return sum(self.counts)

    def cumulative(self) -> list[tuple[str, int]]:
        """(le, count) pairs as Prometheus serves them, +Inf last."""
        found, running = [], 0
        for bound, count in zip((*map(str, self.bounds), "+Inf"), self.counts, strict=True):
            running += count
            found.append((bound, running))
        return found
