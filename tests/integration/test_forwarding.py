"""Per-user call forwarding end to end, with real phones each sending its own tone: always, when busy and
after ringing unanswered, to a colleague and to an outside number (a mobile, over the trunk). The call is
one call (one row with the forwarding in its chain), recorded by the callee's policy wherever it is
answered and by the colleague's own, with the notice to the caller first; nothing left in Asterisk. Set
from the CLI, the API and the portal; bad destinations refused."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import pytest

from asterisk_rec.adapters.ari import AriRest
from asterisk_rec.lab.directory import LAB_ORGANISATION
from asterisk_rec.testing.capture import RtpCapture
from asterisk_rec.testing.sipp import (
    ALICE_DESK,
    BOB_DESK,
    CAROL_DESK,
    OUTSIDE_NUMBER,
    TRUNK,
    answer,
    busy,
    call,
    ring_only,
    ulaw_tone,
)
from tests.integration.calls import (
    CALLEE_HZ,
    CALLER_HZ,
    Records,
    assert_both_tones,
    assert_notice_before_tone,
)
from tests.integration.conftest import DirectoryChange, Portal, SetModes
from tests.integration.phones import finish

pytestmark = pytest.mark.anyio

Forward = Callable[..., Awaitable[None]]



@pytest.fixture
async def forward(directory_change: DirectoryChange) -> AsyncIterator[Forward]:
    """Sets Bob's (202) forwarding for one test, and waits until the service's directory has it; off after."""

    async def apply(**rules: Any) -> None:
        await directory_change(lambda store: store.set_forwarding(LAB_ORGANISATION, "202", **rules))

    yield apply
    await apply(always="", busy="", no_answer="", no_answer_seconds=20)


async def forwarded_row(records: Records, before: Any, kind: str, target: str) -> dict[str, Any]:
    row = await records.one_call(before, caller="201", callee="202", disposition="answered")
    assert [(t["kind"], t["transferor"], t["target"], t["outcome"]) for t in await records.chain(row)] == [
        (kind, "202", target, "answered")]
    return row


async def alice_calls_bob_who_forwards_to_carol(work: Path) -> None:
    """Alice calls Bob, whose calls go to Carol: Carol answers after half a second; Alice talks 5 s."""
    await anyio.Path(work).mkdir(parents=True, exist_ok=True)
    carol = answer(CAROL_DESK, ulaw_tone(work / "carol.ul", CALLEE_HZ), work / "carol", ring_ms=500)
    await anyio.sleep(0.3)
    alice = call(ALICE_DESK, "202", ulaw_tone(work / "alice.ul", CALLER_HZ), work / "alice", call_ms=5000)
    await finish(alice, carol)


async def alice_calls_busy_bob_who_forwards_to_a_mobile(work: Path) -> None:
    """Alice calls Bob, who is busy; the mobile his calls then go to (over the trunk) answers after half a
    second; Alice talks 5 s."""
    await anyio.Path(work).mkdir(parents=True, exist_ok=True)
    bob = busy(BOB_DESK, work / "bob")
    mobile = answer(TRUNK, ulaw_tone(work / "mobile.ul", CALLEE_HZ), work / "mobile", ring_ms=500)
    await anyio.sleep(0.3)
    alice = call(ALICE_DESK, "202", ulaw_tone(work / "alice.ul", CALLER_HZ), work / "alice", call_ms=5000)
    await finish(alice, mobile, bob)


async def alice_calls_bob_who_does_not_answer_then_carol(work: Path) -> None:
    """Alice calls Bob, whose phone rings unanswered until his calls go to Carol, who answers after half a
    second; Alice talks 5 s."""
    await anyio.Path(work).mkdir(parents=True, exist_ok=True)
    bob = ring_only(BOB_DESK, work / "bob")
    carol = answer(CAROL_DESK, ulaw_tone(work / "carol.ul", CALLEE_HZ), work / "carol", ring_ms=500)
    await anyio.sleep(0.3)
    alice = call(ALICE_DESK, "202", ulaw_tone(work / "alice.ul", CALLER_HZ), work / "alice", call_ms=5000,
                 timeout_s=60)
    await finish(alice, carol, bob)


async def test_always_to_a_colleague_keeps_the_recorded_desks_recording(
        records: Records, ari: AriRest, set_modes: SetModes, forward: Forward, tmp_path: Path) -> None:
    """Bob (recorded always) forwards every call to Carol: Bob's phone does not ring, Carol's does; Alice
    hears the notice (Bob's policy follows the call) before Carol's tone; recorded, both tones."""
    await set_modes(bob="always")
    await forward(always="203")
    before = await records.snapshot()
    capture = RtpCapture(ALICE_DESK.media_port, tmp_path / "alice.pcap")
    with capture:
        await alice_calls_bob_who_forwards_to_carol(tmp_path)
    row = await forwarded_row(records, before, "forward_always", "203")
    assert_both_tones(await records.new_recording(before, linked_to=row))
    assert_notice_before_tone(capture.audio(), CALLEE_HZ)


async def test_busy_to_a_mobile_over_the_trunk(records: Records, ari: AriRest, set_modes: SetModes,
                                               forward: Forward, tmp_path: Path) -> None:
    """Bob (recorded always) is busy and forwards to a mobile (an outside number, over the trunk): the
    mobile answers after the notice Alice heard while Bob's phone was tried; recorded, both tones."""
    await set_modes(bob="always")
    await forward(busy=OUTSIDE_NUMBER)
    before = await records.snapshot()
    await alice_calls_busy_bob_who_forwards_to_a_mobile(tmp_path)
    row = await forwarded_row(records, before, "forward_busy", OUTSIDE_NUMBER)
    assert_both_tones(await records.new_recording(before, linked_to=row))


async def test_no_answer_to_a_recorded_colleague_plays_the_notice_then(
        records: Records, ari: AriRest, set_modes: SetModes, forward: Forward, tmp_path: Path) -> None:
    """Bob (not recorded) forwards after 5 s unanswered to Carol (recorded always): Bob's phone rings 5 s,
    then Carol's; Alice hears the notice (Carol's policy) before Carol's tone; recorded, both tones."""
    await set_modes(carol="always")
    await forward(no_answer="203", no_answer_seconds=5)
    before = await records.snapshot()
    capture = RtpCapture(ALICE_DESK.media_port, tmp_path / "alice.pcap")
    with capture:
        await alice_calls_bob_who_does_not_answer_then_carol(tmp_path)
    row = await forwarded_row(records, before, "forward_no_answer", "203")
    assert_both_tones(await records.new_recording(before, linked_to=row))
    assert_notice_before_tone(capture.audio(), CALLEE_HZ)


@pytest.mark.parametrize(("when", "destination"), [("always", OUTSIDE_NUMBER), ("busy", "203"),
                                                   ("no_answer", OUTSIDE_NUMBER)])
async def test_the_other_destinations_of_each_forwarding(records: Records, ari: AriRest, set_modes: SetModes,
                                                         forward: Forward, tmp_path: Path, when: str,
                                                         destination: str) -> None:
    """What the tests above leave out, Bob recorded always: always to a mobile, busy to a colleague, no
    answer (after 5 s) to a mobile. Alice hears the notice before the destination's tone; one row with the
    forwarding in its chain; recorded, both tones."""
    await set_modes(bob="always")
    await forward(**{when: destination}, **({"no_answer_seconds": 5} if when == "no_answer" else {}))
    before = await records.snapshot()
    bob = {"busy": busy, "no_answer": ring_only}.get(when)
    capture = RtpCapture(ALICE_DESK.media_port, tmp_path / "alice.pcap")
    with capture:
        bobs = [bob(BOB_DESK, tmp_path / "bob")] if bob is not None else []
        taking = answer(TRUNK if destination == OUTSIDE_NUMBER else CAROL_DESK,
                        ulaw_tone(tmp_path / "destination.ul", CALLEE_HZ), tmp_path / "destination", ring_ms=500)
        await anyio.sleep(0.3)
        alice = call(ALICE_DESK, "202", ulaw_tone(tmp_path / "alice.ul", CALLER_HZ), tmp_path / "alice",
                     call_ms=5000, timeout_s=60)
        await finish(alice, taking, *bobs)
    row = await forwarded_row(records, before, f"forward_{when}", destination)
    assert_both_tones(await records.new_recording(before, linked_to=row))
    assert_notice_before_tone(capture.audio(), CALLEE_HZ)

async def test_forwarding_is_set_from_the_cli_the_api_and_the_portal(
        portal: Portal, lab_env_file: Path, forward: Forward) -> None:
    """The CLI sets and lists it, the API and the portal's form change it (audited); a bad destination
    (the user's own extension, nobody's extension, a word) is refused and changes nothing."""
    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "asterisk_rec", "--env-file", str(lab_env_file), *args],
                              capture_output=True, text=True, timeout=30, check=False)

    done = cli("forward", "set", LAB_ORGANISATION, "202", "--busy", "203", "--no-answer", "+31612345678",
               "--after", "15")
    assert done.returncode == 0, done.stderr
    assert "busy -> 203, no answer -> +31612345678 after 15 s" in cli("forward", "list", LAB_ORGANISATION).stdout
    for bad, why in (("202", "own extension"), ("209", "no such extension"), ("voicemail", "E.164")):
        refused = cli("forward", "set", LAB_ORGANISATION, "202", "--always", bad)
        assert refused.returncode == 2 and why in refused.stderr, refused.stderr
    async with portal.api(portal.admin) as api:
        changed = await api.put("/api/v1/users/202/forwarding", json={"busy": "", "always": "204"})
        assert changed.status_code == 200, changed.text
        assert changed.json()["forwarding"] == {"always": "204", "busy": None, "no_answer": "+31612345678",
                                                "no_answer_seconds": 15}
        assert (await api.put("/api/v1/users/202/forwarding", json={"no_answer_seconds": 500})).status_code == 400
        audit = (await api.get("/api/v1/audit")).json()
    assert any(e["action"] == "forwarding_set" and e["subject"] == "user 202" for e in audit)
    async with portal.session(portal.admin) as client:
        page = await client.get("/settings/recording")
        token = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        posted = await client.post("/settings/forwarding/202", data={
            "csrf_token": token, "always": "", "busy": "203", "no_answer": "", "no_answer_seconds": "30"})
        assert posted.status_code == 303, posted.text
    listed = cli("forward", "list", LAB_ORGANISATION).stdout
    assert "202\tBob" in listed and "busy -> 203" in listed and "always" not in listed
