"""/metrics on the running service (issue 16), scraped as Prometheus does, around recorded calls."""

from __future__ import annotations

import re
from pathlib import Path

import anyio
import httpx
import pytest

from asterisk_rec.testing.sipp import ALICE_DESK, BOB_DESK
from tests.integration.calls import Records
from tests.integration.conftest import PORTAL_PORT, SetModes
from tests.integration.phones import talk

pytestmark = pytest.mark.anyio

CALLS = 2


async def scrape() -> dict[str, float]:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{PORTAL_PORT}", timeout=5) as client:
        answer = await client.get("/metrics")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/plain")
    return {match[1]: float(match[2]) for match in re.finditer(r"^(\S+) (\S+)$", answer.text, re.MULTILINE)}


async def test_the_metrics_count_recorded_calls_and_settle(records: Records, set_modes: SetModes,
                                                           tmp_path: Path) -> None:
    """While a recorded call talks, it is in progress with its recording; afterwards exactly as many more
    recordings are stored as calls were made, none are in progress or waiting to be archived, no attempt
    failed, and every connection is up."""
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
        for number in range(CALLS):  # one after another: a phone is one SIPp on its port
            await talk(tmp_path / str(number), ALICE_DESK, "202", BOB_DESK, call_ms=2000)
        tasks.cancel_scope.cancel()
    assert seen_in_progress >= 1
    stored = "asterisk_rec_recordings_stored_total"
    with anyio.fail_after(30):
        while (after := await scrape())[stored] < before[stored] + CALLS:  # noqa: ASYNC110 (polled)
            await anyio.sleep(0.3)
    assert after[stored] == before[stored] + CALLS
    assert after["asterisk_rec_calls_in_progress"] == 0 and after["asterisk_rec_recordings_in_progress"] == 0
    assert after["asterisk_rec_archive_queue"] == 0
    assert after["asterisk_rec_archive_failed_attempts_total"] == before["asterisk_rec_archive_failed_attempts_total"]
    ups = {key: value for key, value in after.items() if key.startswith("asterisk_rec_dependency_up")}
    assert ups == {'asterisk_rec_dependency_up{dependency="ami"}': 1, 'asterisk_rec_dependency_up{dependency="ari"}': 1}
    assert after['asterisk_rec_http_requests_total{method="GET",route="/metrics",status="200"}'] > 1
