"""The check as it runs in the service: every ``check_every_seconds`` the calls of the last hours are judged,
and each exception found for the first time is noted (once, also across restarts), logged as an ERROR and
counted by its reason. A call is judged once its recording should be stored; until then it is pending."""

from __future__ import annotations

import logging
import math
import time
from collections import Counter
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

import anyio

from asterisk_rec.completeness.evidence import monotonic_at
from asterisk_rec.completeness.model import Reason, Rules
from asterisk_rec.completeness.service import verdict_on
from asterisk_rec.completeness.store import CompletenessStore
from asterisk_rec.logs import logging_about_call

log = logging.getLogger(__name__)

# How far back each round looks, beyond the time a file may take to be stored: a call still pending after
# that is judged by the on-demand report only.
LOOK_BACK = timedelta(hours=6)


class ContinuousCheck:
    def __init__(self, store: CompletenessStore, rules: Rules, every_seconds: float) -> None:
        self.store = store
        self.rules = rules
        self.every_seconds = every_seconds
        # Exceptions found by this process, by reason (what /metrics serves).
        self.found: Counter[Reason] = Counter()
        # Per organisation, for its alarm: how many found, and when the last was (monotonic seconds).
        self.found_in: Counter[int] = Counter()
        self.last_found_in: dict[int, float] = {}

    def remember(self, exceptions: Mapping[int, tuple[int, datetime]]) -> None:
        """What an earlier process found lately (from the table, at start), for the alarms."""
        for organisation_id, (count, last) in exceptions.items():
            self.found_in[organisation_id] += count
            self.last_found_in[organisation_id] = max(self.last_found_in.get(organisation_id, -math.inf),
                                                      monotonic_at(last))

    async def run(self) -> None:
        if self.every_seconds <= 0:
            await anyio.sleep_forever()
        while True:
            await self.judge_once()
            await anyio.sleep(self.every_seconds)

    async def judge_once(self, now: datetime | None = None) -> int:
        """One round; returns how many exceptions it found for the first time."""
        now = now or datetime.now(UTC)
        since = now - LOOK_BACK - timedelta(seconds=self.rules.store_within_seconds)
        new = 0
        for facts in await self.store.facts(since, now + timedelta(minutes=1)):
            verdict = verdict_on(facts, now, self.rules)
            if verdict is None or not verdict.is_exception or verdict.reason is None:
                continue
            if not await self.store.exception_found(facts, verdict.reason.value, verdict.detail):
                continue
            new += 1
            self.found[verdict.reason] += 1
            self.found_in[facts.organisation_id] += 1
            self.last_found_in[facts.organisation_id] = time.monotonic()
            with logging_about_call(facts.call_id or facts.linked_id, facts.organisation_id):
                log.error("completeness: the call %s from %s to %s at %s was not recorded completely: %s (%s)",
                          facts.linked_id, facts.caller, facts.callee, f"{facts.started_at:%Y-%m-%d %H:%M:%S%z}",
                          verdict.reason.value, verdict.detail)
        return new
