"""The lab's organisation and users, matching its phones and trunk (vagrant/pjsip-lab.conf): what the
demo and the end-to-end tests call. Seeding is idempotent and leaves recording modes as they are."""

from __future__ import annotations

from asterisk_rec.adapters.db import Database
from asterisk_rec.config import Settings
from asterisk_rec.directory.store import DirectoryStore
from asterisk_rec.errors import Conflict, NotFound
from asterisk_rec.store.migrate import migrate

LAB_ORGANISATION = "lab"

# extension, name, language, devices (kind, address)
LAB_USERS: tuple[tuple[str, str, str, tuple[tuple[str, str], ...]], ...] = (
    ("201", "Alice Adams", "en", (("desk", "alice-desk"), ("app", "alice-app"), ("mobile", "+31600000201"))),
    ("202", "Bob de Boer", "nl", (("desk", "bob-desk"),)),
    ("203", "Carol Chen", "en", (("desk", "carol-desk"),)),
    ("204", "Dave Dekker", "nl", (("desk", "dave-desk"), ("mobile", "+31600000204"))),
    # The lab's IVR (Asterisk itself, dialplan [lab-ivr]): the far end that reports the digits it gets.
    ("299", "Lab IVR", "en", (("desk", "lab-ivr"),)),
)


async def seed_lab_directory(store: DirectoryStore) -> None:
    try:
        await store.organisation(LAB_ORGANISATION)
    except NotFound:
        await store.add_organisation(LAB_ORGANISATION, "Europe/Amsterdam", "nl", "open")
    for extension, name, language, devices in LAB_USERS:
        try:
            user = await store.user(LAB_ORGANISATION, extension)
        except NotFound:
            user = await store.add_user(LAB_ORGANISATION, extension, name, language=language)
        present = {device.address for device in user.devices}
        for kind, address in devices:
            if address not in present:
                try:
                    await store.add_device(LAB_ORGANISATION, extension, kind, address)
                except Conflict as err:
                    raise Conflict(f"{err.message}: the lab's phones must belong to the lab's users; "
                                   f"remove it from the other user first") from None


async def seed_lab(settings: Settings) -> None:
    """``asterisk-rec lab seed``: the lab's organisation and users in the directory (schema migrated)."""
    async with Database(settings.database, settings.service.connect_timeout, max_size=2) as db:
        async with db.pool.connection() as connection:
            await migrate(connection)
        await seed_lab_directory(DirectoryStore(db))
