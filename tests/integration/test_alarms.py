"""Alarms against real faults, e-mailed to a real SMTP server on loopback (aiosmtpd): Asterisk away (ARI and
AMI lost), a disk filling. Each alarm is raised once and cleared once, an e-mail each to every admin in the
admin's language (the portal's admin reads English, a second admin Dutch), none more while it lasts. (The
archive failing: test_faults; calls without the app and completeness exceptions: test_completeness.)"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import anyio
import pytest

from asterisk_rec.config import Settings
from tests.integration.calls import Records
from tests.integration.conftest import Mailbox, Portal, ServiceProcess, dutch_admin
from tests.integration.mails import AMI_LOST, ARI_LOST, DISK_FILLING, assert_told_once, no_incident, told
from tests.integration.test_faults import lab_service, readiness_until, wait_for_log_count

pytestmark = pytest.mark.anyio

async def test_asterisk_away_20_s_raises_ari_and_ami_lost_once_each(settings: Settings, service: ServiceProcess,
                                                                    records: Records, portal: Portal,
                                                                    mailbox: Mailbox) -> None:
    """Asterisk stopped for 20 s: past the 10 s grace ARI and AMI are each an alarm (an ERROR in the log,
    once), e-mailed to both admins in their language; Asterisk back, the service reconnects and each is
    cleared, once."""
    lab, asterisk = lab_service("asterisk")
    async with dutch_admin(settings) as dutch:
        for kind in ("ari_lost", "ami_lost"):
            await no_incident(records, kind)
        before = {who: len(mailbox.to(who)) for who in (portal.admin.email, dutch)}
        offset = len(service.log.read_text())
        running = service.log.read_text().count("asterisk-rec is running")
        await anyio.to_thread.run_sync(lab.services.stop, asterisk)
        stopped = anyio.current_time()
        try:
            with anyio.fail_after(30):
                while not all(f"ALARM {kind}" in service.log.read_text()[offset:]  # noqa: ASYNC110
                              for kind in ("ari_lost", "ami_lost")):
                    await anyio.sleep(0.3)
            await anyio.sleep(max(0.0, 20 - (anyio.current_time() - stopped)))
        finally:
            await anyio.to_thread.run_sync(lab.services.start, asterisk)
        await wait_for_log_count(service, "asterisk-rec is running", running + 1, within=60)
        await readiness_until(True, within=15)
        await assert_told_once(mailbox, before, [told(ARI_LOST, portal.admin.email, dutch),
                                                 told(AMI_LOST, portal.admin.email, dutch)])
        log = service.log.read_text()[offset:]
        for kind in ("ari_lost", "ami_lost"):
            assert log.count(f"ALARM {kind}") == 1 and log.count(f"all clear: {kind}") == 1, log[-3000:]


@contextmanager
def tiny_disk(path: Path) -> Iterator[None]:
    """``path`` on a tmpfs of 1 MB of its own for the block's time (what it held shows again after)."""
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m,mode=0755", "asterisk-rec-tiny", str(path)],
                   check=True, timeout=10)
    try:
        yield
    finally:
        subprocess.run(["umount", str(path)], check=True, timeout=10)


async def test_the_archive_disk_filling_raises_one_alarm_until_it_has_room(settings: Settings,
                                                                           service: ServiceProcess,
                                                                           records: Records, portal: Portal,
                                                                           mailbox: Mailbox) -> None:
    """The archive's disk 95 % full (a 1 MB filesystem of its own, no call in progress): past the 90 %
    threshold an alarm naming the archive's disk, e-mailed to both admins in their language; room made,
    it is cleared; once each."""
    archive = Path(settings.archive.root)
    async with dutch_admin(settings) as dutch:
        await no_incident(records, "disk_filling")
        before = {who: len(mailbox.to(who)) for who in (portal.admin.email, dutch)}
        offset = len(service.log.read_text())
        with tiny_disk(archive):
            filler = archive / "filler"
            filler.write_bytes(b"\0" * 970 * 1024)
            with anyio.fail_after(20):
                while "ALARM disk_filling" not in service.log.read_text()[offset:]:  # noqa: ASYNC110
                    await anyio.sleep(0.3)
            await anyio.sleep(11)  # two more looks of the alarms while it lasts
            filler.unlink()
            await assert_told_once(mailbox, before, [told(DISK_FILLING, portal.admin.email, dutch)])
        log = service.log.read_text()[offset:]
        assert log.count("ALARM disk_filling") == 1 and log.count("all clear: disk_filling") == 1, log[-3000:]
        assert "the archive disk is" in log
