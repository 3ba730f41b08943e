"""/metrics on the running service (issue 16), scraped as Prometheus does, around recorded calls."""

from __future__ import annotations

import re
from pathlib import Path

import anyio
import httpx
import pytest

from tests.integration.calls import Records
from tests.integration.conftest import PORTAL_PORT, SetModes
from tests.integration.test_faults import burst

pytestmark = pytest.mark.anyio

# A load as the bar asks for: 50 recorded calls started within two seconds.
CALLS = 50
TALK_MS = 6000


async def scrape() -> dict[str, float]:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{PORTAL_PORT}", timeout=5) as client:
        answer = await client.get("/metrics")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/plain")
    return {match[1]: float(match[2]) for match in re.finditer(r"^(\S+) (\S+)$", answer.text, re.MULTILINE)}


async def test_the_metrics_count_recorded_calls_and_settle(records: Records, set_modes: SetModes,
                                                           tmp_path: Path) -> None:
    """50 recorded calls at once: while they talk, most are in progress with their recordings; afterwards
    exactly 50 more recordings are stored, 50 more calls ended answered, each timed from hangup to stored
    and its CDRs' lag timed, none in progress or waiting to be archived, no attempt failed, and every
    connection is up."""
    await set_modes(alice="always")
    before = await scrape()
    seen_in_progress = 0.0

    async def watch() -> None:
        nonlocal seen_in_progress
        while True:
            now = await scrape()
            seen_in_progress = max(seen_in_progress, min(now["asterisk_rec_calls_in_progress"],
                                                         now["asterisk_rec_recordings_in_progress"]))
            await anyio.sleep(0.2)

    async with anyio.create_task_group() as tasks:
        tasks.start_soon(watch)
        await burst(tmp_path, CALLS, TALK_MS)
        tasks.cancel_scope.cancel()
    assert seen_in_progress >= CALLS * 0.8, seen_in_progress
    stored = "asterisk_rec_recordings_stored_total"
    with anyio.fail_after(30):
        while (after := await scrape())[stored] < before[stored] + CALLS:  # noqa: ASYNC110 (polled)
            await anyio.sleep(0.3)
    assert after[stored] == before[stored] + CALLS
    assert after["asterisk_rec_calls_in_progress"] == 0 and after["asterisk_rec_recordings_in_progress"] == 0
    assert after["asterisk_rec_archive_queue"] == 0
    answered = 'asterisk_rec_calls_total{outcome="answered"}'
    assert after[answered] - before.get(answered, 0) == CALLS
    timed = "asterisk_rec_hangup_to_stored_seconds_count"
    assert after[timed] - before[timed] == CALLS
    assert after["asterisk_rec_cdr_lag_seconds_count"] - before["asterisk_rec_cdr_lag_seconds_count"] >= CALLS
    assert after["asterisk_rec_archive_failed_attempts_total"] == before["asterisk_rec_archive_failed_attempts_total"]
    ups = {key: value for key, value in after.items() if key.startswith("asterisk_rec_dependency_up")}
    assert ups == {f'asterisk_rec_dependency_up{{dependency="{name}"}}': 1 for name in ("ami", "ari", "directory")}
    assert after['asterisk_rec_http_requests_total{method="GET",route="/metrics",status="200"}'] > 1
