"""The directory in the lab's PostgreSQL: organisations, users, devices and recording policy."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import psycopg
import pytest

from asterisk_rec.adapters.db import Database
from asterisk_rec.config import Settings
from asterisk_rec.directory.cache import DirectoryCache
from asterisk_rec.directory.models import ALL_CALLS, DeviceKind, FailMode, RecordingMode, RecordingScope
from asterisk_rec.directory.store import DirectoryStore
from asterisk_rec.errors import Conflict, InvalidInput, NotFound
from asterisk_rec.store.migrate import migrate

pytestmark = pytest.mark.anyio


@pytest.fixture
async def store(settings: Settings) -> AsyncIterator[DirectoryStore]:
    async with Database(settings.database) as db:
        async with db.pool.connection() as connection:
            await migrate(connection)
        yield DirectoryStore(db)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def test_user_with_devices_and_recording(store: DirectoryStore) -> None:
    """A user gets a desk phone, an app and a mobile; recording set to always is kept with its history,
    and the user is found again by each device."""
    org = await store.add_organisation(unique("org"), "Europe/Amsterdam", "en", "closed")
    assert org.fail_mode is FailMode.CLOSED
    desk, app = unique("desk"), unique("app")
    mobile = f"+3161{uuid.uuid4().int % 10**7:07d}"
    await store.add_user(org.name, "201", "Alice", "alice@example.org")
    await store.add_device(org.name, "201", "desk", desk)
    await store.add_device(org.name, "201", "app", app)
    await store.add_device(org.name, "201", "mobile", mobile)
    user = await store.set_recording(org.name, "201", "always")

    assert user.recording_mode is RecordingMode.ALWAYS
    assert user.language == "en"  # the organisation's, as none was given
    assert {(d.kind, d.address) for d in user.devices} == {
        (DeviceKind.DESK, desk), (DeviceKind.APP, app), (DeviceKind.MOBILE, mobile)}
    for found in (await store.user_by_device(endpoint=desk), await store.user_by_device(number=mobile)):
        assert found is not None and found.id == user.id
    assert await store.user_by_device(endpoint=unique("nobody")) is None
    async with store.db.pool.connection() as conn:
        cursor = await conn.execute("SELECT mode FROM recording_mode_changes WHERE user_id = %s", (user.id,))
        assert await cursor.fetchall() == [("always",)]


async def test_removing_a_user_switches_recording_off(store: DirectoryStore) -> None:
    """After removal neither the user nor their devices are found, so their calls are not recorded."""
    org = await store.add_organisation(unique("org"))
    desk = unique("desk")
    await store.add_user(org.name, "301", "Bob")
    await store.add_device(org.name, "301", "desk", desk)
    await store.set_recording(org.name, "301", "on demand")
    await store.remove_user(org.name, "301")
    assert await store.user_by_device(endpoint=desk) is None
    with pytest.raises(NotFound):
        await store.user(org.name, "301")


async def test_which_calls_are_recorded_is_kept_per_user(store: DirectoryStore) -> None:
    """A new user's every call is recorded; the four switches are kept, a mode change leaves them as they
    are, a scope that records no call is refused (by the store and by the table's own constraint) and
    loses nothing."""
    org = await store.add_organisation(unique("org"))
    await store.add_user(org.name, "601", "Frank")
    assert (await store.user(org.name, "601")).recording_scope == ALL_CALLS
    user = await store.set_recording(org.name, "601", "always", internal=False, incoming=None)
    assert user.recording_scope == RecordingScope(incoming=True, outgoing=True, internal=False, external=True)
    user = await store.set_recording(org.name, "601", "on demand")
    assert user.recording_mode is RecordingMode.ON_DEMAND and not user.recording_scope.internal
    with pytest.raises(InvalidInput, match="switch on incoming or outgoing"):
        await store.set_recording(org.name, "601", "off", external=False)
    async with store.db.pool.connection() as conn:
        with pytest.raises(psycopg.errors.CheckViolation):
            await conn.execute("UPDATE users SET record_incoming = false, record_outgoing = false"
                               " WHERE id = %s", (user.id,))
    assert await store.user(org.name, "601") == user


async def test_bad_input_and_duplicates_are_refused_and_lose_nothing(store: DirectoryStore) -> None:
    """Invalid values and duplicates raise clear errors; what was there stays as it was."""
    org = await store.add_organisation(unique("org"))
    await store.add_user(org.name, "401", "Carol")
    desk = unique("desk")
    await store.add_device(org.name, "401", "desk", desk)
    with pytest.raises(Conflict, match="exists already"):
        await store.add_organisation(org.name)
    with pytest.raises(Conflict, match="extension 401 exists already"):
        await store.add_user(org.name, "401", "Someone else")
    await store.add_user(org.name, "402", "Dave")
    with pytest.raises(Conflict, match="already a device"):
        await store.add_device(org.name, "402", "app", desk)
    with pytest.raises(InvalidInput, match=r"E\.164"):
        await store.add_device(org.name, "401", "mobile", "0612345678")
    with pytest.raises(InvalidInput, match="recording mode 'sometimes'"):
        await store.set_recording(org.name, "401", "sometimes")
    with pytest.raises(InvalidInput, match="time zone"):
        await store.add_organisation(unique("org"), time_zone="Mars/Olympus")
    carol = await store.user(org.name, "401")
    assert carol.name == "Carol" and [d.endpoint for d in carol.devices] == [desk]
    assert carol.recording_mode is RecordingMode.OFF


def test_cli_manages_the_directory(lab_env_file: Path) -> None:
    """The CLI adds an organisation, a user with a device and sets recording; bad input exits 2 with a message."""
    org = unique("cli")
    mobile = f"+3169{uuid.uuid4().int % 10**7:07d}"

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "asterisk_rec", "--env-file", str(lab_env_file), *args],
                              capture_output=True, text=True, timeout=30, check=False)

    assert cli("org", "add", org, "--language", "en").returncode == 0
    assert cli("user", "add", org, "501", "Erin").returncode == 0
    assert cli("device", "add", org, "501", "mobile", mobile).returncode == 0
    assert cli("recording", "set", org, "501", "always").returncode == 0
    listed = cli("recording", "list", org)
    assert listed.stdout.strip() == f"501\tErin\talways\tall calls\tmobile {mobile}"
    bad = cli("recording", "set", org, "501", "sometimes")
    assert bad.returncode == 2
    assert "recording mode 'sometimes': expected one of off, always, on demand [invalid_input]" in bad.stderr
    scoped = cli("recording", "set", org, "501", "--no-internal", "--no-incoming")
    assert scoped.stdout.strip() == f"501\tErin\talways\toutgoing+external\tmobile {mobile}"
    nothing = cli("recording", "set", org, "501", "--no-external")
    assert nothing.returncode == 2 and "switch on incoming or outgoing, and internal or external" in nothing.stderr
    assert cli("recording", "set", org, "501").returncode == 2
    assert cli("recording", "list", org).stdout.strip() == scoped.stdout.strip()  # the refusals lost nothing


async def test_the_services_copy_follows_each_change_at_once(store: DirectoryStore) -> None:
    """The service's directory in memory loads again as soon as PostgreSQL announces a change, not at
    its refresh (ten minutes here): a new organisation, then its user recorded always, are each in the
    copy within seconds (it keeps listening after the first change)."""
    cache = DirectoryCache(store.db, refresh_seconds=600)
    name = unique("org")
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(cache.run)
        with anyio.fail_after(10):
            while not cache.snapshot.organisations:  # noqa: ASYNC110 (the cache has no event for loaded)
                await anyio.sleep(0.05)
            org = await store.add_organisation(name)
            while name not in cache.snapshot.organisations:  # noqa: ASYNC110
                await anyio.sleep(0.05)
            await store.add_user(name, "201", "Anna Ü")
            await store.set_recording(name, "201", "always")
            while (user := cache.snapshot.user_by_extension(org.id, "201")) is None or \
                    user.recording_mode is not RecordingMode.ALWAYS:  # noqa: ASYNC110
                await anyio.sleep(0.05)
        tasks.cancel_scope.cancel()
