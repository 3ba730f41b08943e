"""The alarms' e-mails as the admins get them: each alarm's subjects in English and Dutch, and waits for
them (and for an earlier test's incident to be over)."""

from __future__ import annotations

import anyio

from tests.integration.calls import Records
from tests.integration.conftest import Mailbox

# The subjects' words for each alarm, as the English and the Dutch templates say them.
ARI_LOST = ("the recording app is not connected to Asterisk", "de opname-app is niet verbonden met Asterisk")
AMI_LOST = ("the connection to Asterisk (AMI) is lost", "de verbinding met Asterisk (AMI) is verbroken")
DISK_FILLING = ("a disk is filling up", "een schijf raakt vol")
COMPLETENESS = ("calls that had to be recorded are not recorded completely",
                "gesprekken die opgenomen moesten worden, zijn niet volledig opgenomen")
APP_DOWN = ("Asterisk connects calls without the recording app", "Asterisk verbindt gesprekken zonder de opname-app")


def told(what: tuple[str, str], english: str, dutch: str) -> dict[str, list[str]]:
    """The raised and the cleared e-mail of one alarm, as each admin gets them."""
    en, nl = what
    return {english: [f"Alarm: {en} (lab)", f"All clear: {en} (lab)"],
            dutch: [f"Alarm: {nl} (lab)", f"Opgelost: {nl} (lab)"]}


async def assert_told_once(mailbox: Mailbox, before: dict[str, int], expected: list[dict[str, list[str]]],
                           within: float = 60) -> None:
    """Each admin got each alarm's two e-mails (raised, cleared) since ``before``, in order, and after a few
    more looks of the alarms (every 5 s) still none more."""
    wanted = {who: sorted(subject for alarm in expected for subject in alarm[who]) for who in before}

    def got(who: str) -> list[str]:
        return [subject for subject in mailbox.subjects(who)[before[who]:]
                if any(subject in alarm[who] for alarm in expected)]

    with anyio.fail_after(within):
        while any(len(got(who)) < len(wanted[who]) for who in before):  # noqa: ASYNC110
            await anyio.sleep(0.3)
    await anyio.sleep(11)
    for who in before:
        assert sorted(got(who)) == wanted[who], mailbox.subjects(who)[before[who]:]
        for alarm in expected:
            raised, cleared = alarm[who]
            subjects = got(who)
            assert subjects.index(raised) < subjects.index(cleared), subjects


async def no_incident(records: Records, kind: str, within: float = 60) -> None:
    """Waits until an earlier test's incident of ``kind`` is over (a new one is then raised afresh)."""
    with anyio.fail_after(within):
        while await records.rows("SELECT 1 FROM alarms WHERE kind = %s AND cleared_at IS NULL", (kind,)):  # noqa: ASYNC110
            await anyio.sleep(0.5)


