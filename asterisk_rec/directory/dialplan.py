"""What the dialplan must know when the app is not there to ask: each organisation's fail mode and
language, kept in Asterisk's AstDB (asterisk-rec/fail-mode/<organisation>, asterisk-rec/language/...)."""

from __future__ import annotations

import logging

import anyio

from asterisk_rec.adapters.ami import AmiConnection
from asterisk_rec.directory.store import DirectoryStore

log = logging.getLogger(__name__)

# Changes made with the CLI or portal reach the dialplan within this time.
PUBLISH_EVERY_SECONDS = 30


async def publish(ami: AmiConnection, store: DirectoryStore) -> int:
    organisations = await store.organisations()
    for organisation in organisations:
        for family, value in (("fail-mode", organisation.fail_mode.value), ("language", organisation.language)):
            response = await ami.send_action({"Action": "DBPut", "Family": f"asterisk-rec/{family}",
                                              "Key": organisation.name, "Val": value})
            if not response.success:
                log.error("AstDB asterisk-rec/%s/%s not written: %s", family, organisation.name, response)
    return len(organisations)


async def keep_published(ami: AmiConnection, store: DirectoryStore) -> None:
    while True:
        try:
            count = await publish(ami, store)
            log.debug("published the dialplan settings of %d organisations", count)
        except Exception:
            log.exception("publishing the organisations' dialplan settings failed; retrying")
        await anyio.sleep(PUBLISH_EVERY_SECONDS)
