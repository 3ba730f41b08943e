"""The service loses its WebSocket, or dies, in the middle of a recorded call: the call goes on, stays
recorded to the end, and is finished properly (nothing left in Asterisk)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import anyio
import pytest

from asterisk_rec.adapters.ari import AriRest
from asterisk_rec.config import Settings
from asterisk_rec.testing.sipp import ALICE_DESK, BOB_DESK, answer, call, ulaw_tone
from tests.integration.calls import (
    CALLEE_HZ,
    CALLER_HZ,
    Records,
    assert_both_tones,
    assert_nothing_left,
)
from tests.integration.conftest import ServiceProcess, SetModes
from tests.integration.phones import finish

pytestmark = pytest.mark.anyio


async def connected_call_with_fault(settings: Settings, service: ServiceProcess, records: Records, tmp_path: Path,
                                    fault: str) -> None:
    async with AriRest(settings.ari) as ari:
        before = await records.snapshot()
        marker = service.log.read_text().count("connected, recording")
        answering = answer(BOB_DESK, ulaw_tone(tmp_path / "callee.ul", CALLEE_HZ), tmp_path / "callee", ring_ms=500)
        await anyio.sleep(0.3)
        calling = call(ALICE_DESK, "202", ulaw_tone(tmp_path / "caller.ul", CALLER_HZ), tmp_path / "caller",
                       call_ms=9000)
        with anyio.fail_after(15):
            # The service's log is a file: poll it.
            while service.log.read_text().count("connected, recording") == marker:  # noqa: ASYNC110
                await anyio.sleep(0.1)
        await anyio.sleep(2)
        if fault == "websocket":
            # Abort the service's TCP connections to Asterisk's HTTP server (the WebSocket among them).
            await anyio.run_process(["ss", "-K", "dst", "127.0.0.1", "dport", "=", ":8088"])
        else:
            service.kill()
            service.start()
        await finish(calling, answering)
        await assert_nothing_left(ari)
        call_row = await records.one_call(before, caller="201", callee="202", direction="internal",
                                          disposition="answered")
        assert_both_tones(await records.new_recording(before, linked_to=call_row))
        # The recorded part is on the row whole, from before the fault to the hangup (9 s of talk).
        (recording,) = await records.stored_since(before)
        assert len(recording["parts"]) == 1, recording["parts"]
        start, end = (datetime.fromisoformat(t) for t in recording["parts"][0])
        assert 8.0 <= (end - start).total_seconds() <= 10.5, recording["parts"]


async def test_websocket_loss_mid_call(settings: Settings, service: ServiceProcess, set_modes: SetModes,
                                       records: Records, tmp_path: Path) -> None:
    """The WebSocket is cut mid-call: the service connects again, the call ends cleanly, and its one
    recording holds both tones throughout."""
    await set_modes(alice="always")
    before_fault = service.log_size()
    await connected_call_with_fault(settings, service, records, tmp_path, "websocket")
    service.wait_for_log("): connecting again", after=before_fault)


async def test_service_killed_mid_call(settings: Settings, service: ServiceProcess, set_modes: SetModes,
                                       records: Records, tmp_path: Path) -> None:
    """The service is killed (-9) mid-call and started again: it adopts the call from Asterisk, ends it
    properly when the caller hangs up; the call has one row and its one archived recording holds both tones
    throughout; the row keeps the recorded part from before the kill to the hangup."""
    await set_modes(alice="always")
    await connected_call_with_fault(settings, service, records, tmp_path, "kill")
    service.wait_for_log("adopted (recording asterisk-rec/")
