"""The service's JSON log (service.log_format = json, issue 16): one object a line, and one call followed
through it by its call id alone, from the moment it entered the app to its archived file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from asterisk_rec.testing.sipp import ALICE_DESK, BOB_DESK
from tests.integration.calls import Records
from tests.integration.conftest import ServiceProcess, SetModes
from tests.integration.phones import talk

pytestmark = pytest.mark.anyio


async def test_one_call_is_followed_in_the_json_log_by_its_call_id(
        service: ServiceProcess, records: Records, set_modes: SetModes, tmp_path: Path) -> None:
    """Every line the service writes is a JSON object; the lines carrying the call's id (and no other's)
    begin where the call entered the app (who calls whom, who is recorded), go through its end, and
    finish with its recording stored in the archive, all with the organisation's id."""
    service.stop()
    service.start("service.log_format=json")
    try:
        await set_modes(alice="always")
        before = await records.snapshot()
        await talk(tmp_path, ALICE_DESK, "202", BOB_DESK, call_ms=2000)
        call_row = await records.one_call(before, caller="201", callee="202", disposition="answered")
        await records.new_recording(before, linked_to=call_row)
        call_id = call_row["call_id"]
        service.wait_for_log(f"{call_id} stored as", within=10)
        written = service.log.read_text()[service.offset:].splitlines()
    finally:
        service.stop()
        service.start()
    lines: list[dict[str, Any]] = []
    for text in written:
        line = json.loads(text)
        assert isinstance(line, dict) and {"time", "level", "logger", "message"} <= set(line), text
        lines.append(line)
    about = [line for line in lines if line.get("call_id") == call_id]
    assert about, f"no line carries the call id {call_id}"
    assert about[0]["message"].startswith(f"call {call_id}: ") and "recorded: " in about[0]["message"]
    assert "hung up" in " ".join(line["message"] for line in about)
    assert about[-1]["logger"] == "asterisk_rec.archive.worker" and "stored as" in about[-1]["message"]
    assert len({line.get("organisation_id") for line in about}) == 1 and about[0].get("organisation_id")
    # Lines that name the call in their message are about it (none left without its id).
    unmarked = [line for line in lines if call_id in line["message"] and line.get("call_id") != call_id]
    assert unmarked == [], unmarked
