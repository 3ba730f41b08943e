"""Active or standby: an instance waits until its node's lease is free, takes it, runs the service while it
holds it, and steps down (stops controlling calls) the moment it cannot count on it any more: another
instance took it, or PostgreSQL did not grant a renewal in time (PostgreSQL away, or the network to it cut).
It then waits as a standby again. A clean stop ends the lease at once, so the standby takes over without
waiting for it to expire."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable

import anyio
import psycopg

from asterisk_rec.jobs.supervisor import describe
from asterisk_rec.standby.lease import LeaseTerms
from asterisk_rec.standby.store import LeaseStore

log = logging.getLogger(__name__)


class NodeLease:
    def __init__(self, store: LeaseStore, node: str, holder: str, terms: LeaseTerms) -> None:
        self.store = store
        self.node = node
        self.holder = holder
        self.terms = terms
        self.active = False
        self._held_until = 0.0

    async def run_while_active(self, active: Callable[[], Awaitable[None]]) -> None:
        """Runs ``active`` each time this instance holds the lease, for as long as it holds it; returns
        only if ``active`` does."""
        try:
            while True:
                await self._take()
                async with anyio.create_task_group() as tasks:
                    tasks.start_soon(self._keep, tasks.cancel_scope)
                    await active()
                    tasks.cancel_scope.cancel()
                    return
        finally:
            with anyio.CancelScope(shield=True), anyio.move_on_after(2):
                await self._release()

    async def _take(self) -> None:
        told = ""
        while True:
            sent = time.monotonic()
            wait = self.terms.poll_every_seconds
            try:
                with anyio.fail_after(self.terms.seconds):
                    if await self.store.take(self.node, self.holder, self.terms.seconds):
                        self._held_until = self.terms.held_until(sent)
                        self.active = True
                        log.info("active for node %r (%s): taking the calls", self.node, self.holder)
                        return
                    holder = await self.store.holder_of(self.node)
                if holder is None:
                    now = f"standby for node {self.node!r}: the lease is changing hands"
                else:
                    now = f"standby for node {self.node!r}: {holder.holder} is active"
                    # Asked again just as it expires, if the holder does not renew it first.
                    wait = min(wait, max(0.01, holder.expires_in + 0.01))
            except (OSError, psycopg.Error, TimeoutError) as err:
                await self.store.discard()
                now = f"standby for node {self.node!r}: cannot reach PostgreSQL for the lease ({describe(err)})"
            if now != told:
                log.info("%s", now)
                told = now
            await anyio.sleep(wait)

    async def _keep(self, step_down: anyio.CancelScope) -> None:
        """Renews the lease until it cannot be counted on; then cancels ``step_down`` (the active service)."""
        why = ""
        while not why:
            await anyio.sleep(self.terms.renew_every_seconds)
            sent = time.monotonic()
            with anyio.move_on_after(max(0.0, self._held_until - sent)):
                try:
                    if await self.store.take(self.node, self.holder, self.terms.seconds):
                        self._held_until = self.terms.held_until(sent)
                        continue
                    why = "another instance holds the lease"
                except (OSError, psycopg.Error) as err:
                    await self.store.discard()
                    log.warning("cannot renew the lease of node %r: %s", self.node, describe(err))
            if not why and time.monotonic() >= self._held_until:
                await self.store.discard()
                why = "PostgreSQL did not renew the lease in time"
        self.active = False
        log.error("stepping down on node %r: %s; the calls go on in Asterisk for the instance that takes over",
                  self.node, why)
        step_down.cancel()

    async def _release(self) -> None:
        if not self.active:
            return
        self.active = False
        try:
            await self.store.release(self.node, self.holder)
            log.info("the lease of node %r is free for the standby", self.node)
        except (OSError, psycopg.Error) as err:
            log.warning("cannot free the lease of node %r (%s): the standby takes it once it expires",
                        self.node, describe(err))
        finally:
            await self.store.discard()
