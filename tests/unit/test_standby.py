"""The lease's logic against a store that answers as told: an instance runs the service only while it can
count on the lease, steps down in time when renewals fail, hang or are refused, and frees the lease on a
clean stop. (The real table, on PostgreSQL: tests/integration/test_standby.py.)"""

from __future__ import annotations

import time

import anyio
import psycopg
import pytest

from asterisk_rec.config import StandbySettings
from asterisk_rec.errors import ConfigError
from asterisk_rec.standby.lease import LeaseTerms, holder_name
from asterisk_rec.standby.service import NodeLease
from asterisk_rec.standby.store import LeaseHolder

pytestmark = pytest.mark.anyio

TERMS = LeaseTerms(seconds=0.6, renew_every_seconds=0.1, poll_every_seconds=0.1)


class Store:
    """Grants while ``granting``; raises while ``failing``; hangs while ``hanging``."""

    def __init__(self) -> None:
        self.granting = True
        self.failing = False
        self.hanging = False
        self.calls: list[str] = []
        self.released: list[str] = []

    async def take(self, node: str, holder: str, seconds: float) -> bool:
        self.calls.append("take")
        if self.hanging:
            await anyio.sleep_forever()
        if self.failing:
            raise psycopg.OperationalError("connection refused")
        return self.granting

    async def holder_of(self, node: str) -> LeaseHolder | None:
        return None

    async def release(self, node: str, holder: str) -> None:
        self.released.append(holder)

    async def discard(self) -> None:
        self.calls.append("discard")


def lease(store: Store) -> NodeLease:
    return NodeLease(store, "main", "main@test", TERMS)  # type: ignore[arg-type]


def test_the_holder_counts_on_two_thirds_of_the_lease_from_when_it_asked() -> None:
    """A 3 s lease asked for at t = 10 is counted on until t = 12: a second to step down before it ends."""
    assert LeaseTerms(seconds=3.0).held_until(10.0) == pytest.approx(12.0)


def test_holder_names_are_the_node_s_and_unique_per_process() -> None:
    """Each name starts with the node (an operator reads who is active) and two are never alike."""
    one, two = holder_name("pbx-1"), holder_name("pbx-1")
    assert one.startswith("pbx-1@") and one != two


@pytest.mark.parametrize("changes", [{"lease_seconds": 0.5}, {"lease_seconds": 61},
                                     {"renew_every_seconds": 1.5}, {"poll_every_seconds": 0.0}])
def test_terms_out_of_bounds_are_refused(changes: dict[str, float]) -> None:
    """A lease under a second or over a minute, or renewed or polled less often than thrice a lease, is a
    configuration error naming the setting."""
    with pytest.raises(ConfigError, match="standby"):
        StandbySettings(**changes)  # type: ignore[arg-type]


async def active_for(store: Store, change: str) -> float:
    """Runs a service on the lease; 0.3 s after it started, ``change`` is flipped on the store; returns how
    long the service ran on after the change."""
    node = lease(store)
    started = anyio.Event()
    changed_at = 0.0

    async def service() -> None:
        started.set()
        await anyio.sleep_forever()

    async def change_later() -> None:
        nonlocal changed_at
        await started.wait()
        await anyio.sleep(0.3)
        changed_at = time.monotonic()
        setattr(store, change, not getattr(store, change))

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(change_later)

            async def run_until_stepped_down() -> None:
                await node._take()
                async with anyio.create_task_group() as inner:
                    inner.start_soon(node._keep, inner.cancel_scope)
                    await service()

            await run_until_stepped_down()
    return time.monotonic() - changed_at


@pytest.mark.parametrize("change", ["granting", "failing", "hanging"])
async def test_an_instance_steps_down_before_its_lease_can_be_taken(change: str) -> None:
    """Renewals refused (another instance holds it), failing (PostgreSQL away) or hanging (the network
    cut): the service is stopped within the lease, before PostgreSQL would grant it to the standby."""
    ran = await active_for(Store(), change)
    assert ran < TERMS.seconds, ran


async def test_a_clean_stop_frees_the_lease_a_step_down_does_not() -> None:
    """The service ending (a clean stop) frees the lease for the standby; stepping down after a refused
    renewal leaves it to whoever holds it now."""
    store = Store()

    async def brief() -> None:
        await anyio.sleep(0.05)

    with anyio.fail_after(5):
        await lease(store).run_while_active(brief)
    assert store.released == ["main@test"]
    refused = Store()
    await active_for(refused, "granting")
    assert refused.released == []


async def test_a_standby_waits_while_the_lease_is_held_and_takes_it_once_free() -> None:
    """While another instance holds the lease the service does not run; once the lease is granted, it does."""
    store = Store()
    store.granting = False
    ran = anyio.Event()

    async def service() -> None:
        ran.set()

    async def free_later() -> None:
        await anyio.sleep(0.3)
        assert not ran.is_set()
        store.granting = True

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(free_later)
            await lease(store).run_while_active(service)
    assert ran.is_set()
