"""Phones in a call, for the end-to-end tests: a caller talking to a callee who answers, a caller left
unanswered, and waiting for SIPp runs to end well."""

from __future__ import annotations

from pathlib import Path

import anyio

from asterisk_rec.testing.sipp import Phone, Sipp, answer, call, call_unanswered, ring_only, ulaw_tone
from tests.integration.calls import CALLEE_HZ, CALLER_HZ


async def finish(*runs: Sipp) -> None:
    """Waits for each SIPp run to end, failing with its logs unless it passed; stops them all anyway."""
    try:
        for run in runs:
            code = await anyio.to_thread.run_sync(run.wait)
            assert code == 0, f"SIPp {run.phone.endpoint} failed:\n{run.log()}"
    finally:
        for run in runs:
            run.stop()


async def talk(workdir: Path, caller: Phone, number: str, callee: Phone, *, caller_id: str | None = None,
               also_ringing: tuple[Phone, ...] = (), call_ms: int = 7000, hold: bool = False) -> None:
    """The callee answers after a second with its tone; the caller talks with its tone for ``call_ms``
    (with ``hold``: talks, holds and talks again, ``call_ms`` each)."""
    await anyio.Path(workdir).mkdir(parents=True, exist_ok=True)
    ringers = [ring_only(phone, workdir / phone.endpoint) for phone in also_ringing]
    answering = answer(callee, ulaw_tone(workdir / "callee.ul", CALLEE_HZ), workdir / "callee", ring_ms=1000)
    await anyio.sleep(0.3)
    calling = call(caller, number, ulaw_tone(workdir / "caller.ul", CALLER_HZ), workdir / "caller",
                   call_ms=call_ms, caller_id=caller_id, hold=hold)
    await finish(calling, answering, *ringers)


async def unanswered(tmp_path: Path, caller: Phone, number: str) -> int | None:
    """The caller dials ``number`` and is not answered; the final SIP code it got."""
    run = call_unanswered(caller, number, tmp_path / "caller")
    await finish(run)
    return run.final_code()
