"""The directory in PostgreSQL. Input is validated by ``models`` before it reaches SQL; constraint
violations that remain (duplicates) become ``Conflict`` errors with a message a person can act on."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import psycopg
from psycopg.rows import dict_row

from asterisk_rec.adapters.db import Database
from asterisk_rec.directory import models
from asterisk_rec.directory.models import (
    SCOPE_SWITCHES,
    ArchiveFormat,
    Device,
    DeviceKind,
    FailMode,
    Forwarding,
    ForwardWhen,
    Organisation,
    RecordingMode,
    RecordingScope,
    User,
)
from asterisk_rec.errors import Conflict, NotFound

_USER_COLUMNS = """
    u.id AS user_id, u.extension, u.name AS user_name, u.email, u.language AS user_language, u.recording_mode,
    u.record_incoming, u.record_outgoing, u.record_internal, u.record_external,
    u.forward_always, u.forward_busy, u.forward_no_answer, u.forward_no_answer_seconds,
    o.id AS org_id, o.name AS org_name, o.time_zone, o.language AS org_language, o.fail_mode,
    o.archive_format, o.feature_code, o.pickup_code, o.directed_pickup_prefix, u.pickup_group
"""


def _organisation(row: dict[str, Any], prefix: str = "") -> Organisation:
    return Organisation(
        id=row[f"{prefix}id"], name=row[f"{prefix}name"], time_zone=row["time_zone"],
        language=row[f"{prefix}language"], fail_mode=FailMode(row["fail_mode"]),
        archive_format=ArchiveFormat(row["archive_format"]), feature_code=row["feature_code"],
        pickup_code=row["pickup_code"], directed_pickup_prefix=row["directed_pickup_prefix"],
    )


def _user(row: dict[str, Any], devices: Iterable[Device]) -> User:
    organisation = _organisation(row, "org_")
    return User(id=row["user_id"], organisation=organisation, extension=row["extension"], name=row["user_name"],
                email=row["email"], language=row["user_language"],
                recording_mode=RecordingMode(row["recording_mode"]), devices=tuple(devices),
                recording_scope=RecordingScope(*(row[f"record_{name}"] for name in SCOPE_SWITCHES)),
                forwarding=Forwarding(row["forward_always"], row["forward_busy"], row["forward_no_answer"],
                                      row["forward_no_answer_seconds"]),
                pickup_group=row["pickup_group"])


class DirectoryStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    # Organisations

    async def add_organisation(self, name: str, time_zone: str = "Europe/Amsterdam", language: str = "nl",
                               fail_mode: str = "open") -> Organisation:
        values = (models.name(name, "organisation name"), models.time_zone(time_zone), models.language(language),
                  models.fail_mode(fail_mode).value)
        async with self.db.pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            try:
                await cur.execute(
                    "INSERT INTO organisations (name, time_zone, language, fail_mode) VALUES (%s, %s, %s, %s)"
                    " RETURNING *", values)
            except psycopg.errors.UniqueViolation:
                raise Conflict(f"organisation {name!r} exists already") from None
            row = await cur.fetchone()
        assert row is not None
        return _organisation(row)

    async def update_organisation(self, name: str, *, time_zone: str | None = None, language: str | None = None,
                                  fail_mode: str | None = None, archive_format: str | None = None,
                                  feature_code: str | None = None, pickup_code: str | None = None,
                                  directed_pickup_prefix: str | None = None) -> Organisation:
        current = await self.organisation(name)
        async with self.db.pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            await cur.execute(
                "UPDATE organisations SET time_zone = %s, language = %s, fail_mode = %s, archive_format = %s,"
                " feature_code = %s, pickup_code = %s, directed_pickup_prefix = %s WHERE id = %s RETURNING *",
                (models.time_zone(time_zone) if time_zone else current.time_zone,
                 models.language(language) if language else current.language,
                 models.fail_mode(fail_mode).value if fail_mode else current.fail_mode.value,
                 models.archive_format(archive_format).value if archive_format else current.archive_format.value,
                 models.feature_code(feature_code) if feature_code else current.feature_code,
                 models.feature_code(pickup_code) if pickup_code else current.pickup_code,
                 models.feature_code(directed_pickup_prefix) if directed_pickup_prefix
                 else current.directed_pickup_prefix,
                 current.id))
            row = await cur.fetchone()
        assert row is not None
        return _organisation(row)

    async def set_retention(self, organisation_id: int, days: int | None, bulk_download: bool) -> None:
        """The retention period (checked by retention.policy against the offered ones; None: as it is) and
        the bulk download switch."""
        async with self.db.pool.connection() as conn:
            await conn.execute("UPDATE organisations SET retention_days = COALESCE(%s, retention_days),"
                               " bulk_download = %s WHERE id = %s", (days, bulk_download, organisation_id))

    async def organisation(self, name: str) -> Organisation:
        async with self.db.pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            await cur.execute("SELECT * FROM organisations WHERE name = %s", (name,))
            row = await cur.fetchone()
        if row is None:
            raise NotFound(f"no organisation {name!r}")
        return _organisation(row)

    async def organisations(self) -> list[Organisation]:
        async with self.db.pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            await cur.execute("SELECT * FROM organisations ORDER BY name")
            return [_organisation(row) for row in await cur.fetchall()]

    # Users

    async def add_user(self, organisation: str, extension: str, name: str, email: str | None = None,
                       language: str | None = None) -> User:
        org = await self.organisation(organisation)
        values = (org.id, models.extension(extension), models.name(name), models.email(email),
                  models.language(language) if language else org.language)
        async with self.db.pool.connection() as conn:
            try:
                await conn.execute(
                    "INSERT INTO users (organisation_id, extension, name, email, language)"
                    " VALUES (%s, %s, %s, %s, %s)", values)
            except psycopg.errors.UniqueViolation:
                raise Conflict(f"extension {extension} exists already in {organisation!r}") from None
        return await self.user(organisation, extension)

    async def remove_user(self, organisation: str, extension: str) -> None:
        user = await self.user(organisation, extension)
        async with self.db.pool.connection() as conn:
            await conn.execute("DELETE FROM users WHERE id = %s", (user.id,))

    async def user(self, organisation: str, extension: str) -> User:
        users = await self._users("o.name = %s AND u.extension = %s", (organisation, extension))
        if not users:
            raise NotFound(f"no user with extension {extension} in {organisation!r}")
        return users[0]

    async def users(self, organisation: str) -> list[User]:
        await self.organisation(organisation)
        return await self._users("o.name = %s", (organisation,))

    async def all_users(self) -> list[User]:
        """Every user of every organisation, with their devices (the service's in-memory directory)."""
        return await self._users("true", ())

    async def user_by_device(self, *, endpoint: str | None = None, number: str | None = None) -> User | None:
        """The user a PJSIP endpoint or a mobile number belongs to, if any: how calls are attributed."""
        column, value = ("d.endpoint", endpoint) if endpoint is not None else ("d.number", number)
        users = await self._users(f"u.id = (SELECT d.user_id FROM devices d WHERE {column} = %s)", (value,))
        return users[0] if users else None

    async def user_by_extension(self, organisation_id: int, extension: str) -> User | None:
        users = await self._users("o.id = %s AND u.extension = %s", (organisation_id, extension))
        return users[0] if users else None

    async def _users(self, where: str, params: tuple[Any, ...]) -> list[User]:
        async with self.db.pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            await cur.execute(
                f"SELECT {_USER_COLUMNS} FROM users u JOIN organisations o ON o.id = u.organisation_id"
                f" WHERE {where} ORDER BY o.name, u.extension", params)
            rows = await cur.fetchall()
            if not rows:
                return []
            await cur.execute("SELECT * FROM devices WHERE user_id = ANY(%s) ORDER BY kind, id",
                              ([row["user_id"] for row in rows],))
            devices: dict[int, list[Device]] = {}
            for d in await cur.fetchall():
                devices.setdefault(d["user_id"], []).append(
                    Device(id=d["id"], kind=DeviceKind(d["kind"]), endpoint=d["endpoint"], number=d["number"]))
        return [_user(row, devices.get(row["user_id"], ())) for row in rows]

    # Devices

    async def add_device(self, organisation: str, extension: str, kind: str, address: str) -> User:
        """A desk phone or app by its PJSIP endpoint, a mobile by its E.164 number."""
        device_kind = models.device_kind(kind)
        if device_kind is DeviceKind.MOBILE:
            endpoint, number = None, models.e164(address)
        else:
            endpoint, number = models.endpoint(address), None
        user = await self.user(organisation, extension)
        async with self.db.pool.connection() as conn:
            try:
                await conn.execute("INSERT INTO devices (user_id, kind, endpoint, number) VALUES (%s, %s, %s, %s)",
                                   (user.id, device_kind.value, endpoint, number))
            except psycopg.errors.UniqueViolation:
                raise Conflict(f"{endpoint or number} is already a device of a user") from None
        return await self.user(organisation, extension)

    async def remove_device(self, organisation: str, extension: str, address: str) -> User:
        user = await self.user(organisation, extension)
        match = [d for d in user.devices if address in (d.endpoint, d.number)]
        if not match:
            raise NotFound(f"user {extension} in {organisation!r} has no device {address!r}")
        async with self.db.pool.connection() as conn:
            await conn.execute("DELETE FROM devices WHERE id = %s", (match[0].id,))
        return await self.user(organisation, extension)

    # Recording policy

    async def set_recording(self, organisation: str, extension: str, mode: str | None,
                            **switches: bool | None) -> User:
        """Sets a user's recording mode (None: as it is), keeping the change in its history, and which of
        their calls are recorded (``RecordingScope``'s switches; None or left out: as they are)."""
        recording_mode = models.recording_mode(mode) if mode is not None else None
        user = await self.user(organisation, extension)
        scope = user.recording_scope.changed(**switches)
        async with self.db.pool.connection() as conn, conn.transaction():
            if recording_mode is not None and user.recording_mode is not recording_mode:
                await conn.execute("UPDATE users SET recording_mode = %s WHERE id = %s",
                                   (recording_mode.value, user.id))
                await conn.execute("INSERT INTO recording_mode_changes (user_id, mode) VALUES (%s, %s)",
                                   (user.id, recording_mode.value))
            if scope != user.recording_scope:
                await conn.execute(
                    "UPDATE users SET record_incoming = %s, record_outgoing = %s, record_internal = %s,"
                    " record_external = %s WHERE id = %s",
                    (scope.incoming, scope.outgoing, scope.internal, scope.external, user.id))
        return await self.user(organisation, extension)

    # Call forwarding

    async def set_forwarding(self, organisation: str, extension: str, *, always: str | None = None,
                             busy: str | None = None, no_answer: str | None = None,
                             no_answer_seconds: int | None = None) -> User:
        """Each condition's destination (an extension or an E.164 number; "" switches it off; None: as it
        is) and how long the user's devices ring before no-answer forwarding."""
        user = await self.user(organisation, extension)
        current = user.forwarding
        given = {ForwardWhen.ALWAYS: always, ForwardWhen.BUSY: busy, ForwardWhen.NO_ANSWER: no_answer}
        chosen = {when: current.to(when) if value is None else models.forward_destination(value, user.extension)
                  for when, value in given.items()}
        seconds = current.no_answer_seconds if no_answer_seconds is None else models.forward_seconds(no_answer_seconds)
        for when, destination in chosen.items():
            if destination is not None and destination.isdigit() and \
                    await self.user_by_extension(user.organisation.id, destination) is None:
                raise NotFound(f"forwarding {when.value} to {destination}: no such extension in {organisation!r}")
        async with self.db.pool.connection() as conn:
            await conn.execute(
                "UPDATE users SET forward_always = %s, forward_busy = %s, forward_no_answer = %s,"
                " forward_no_answer_seconds = %s WHERE id = %s",
                (chosen[ForwardWhen.ALWAYS], chosen[ForwardWhen.BUSY], chosen[ForwardWhen.NO_ANSWER], seconds,
                 user.id))
        return await self.user(organisation, extension)

    # Call pickup

    async def set_pickup_group(self, organisation: str, extension: str, group: str) -> User:
        """The user's pickup group ("" : none): its members answer each other's ringing calls with the
        organisation's pickup code."""
        user = await self.user(organisation, extension)
        value = models.name(group, "pickup group") if group.strip() else None
        async with self.db.pool.connection() as conn:
            await conn.execute("UPDATE users SET pickup_group = %s WHERE id = %s", (value, user.id))
        return await self.user(organisation, extension)

