"""Who may use the portal and the API: organisation admins and users, their passwords (argon2) and the
integrators' API tokens (only a hash kept)."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import psycopg
from psycopg.rows import dict_row

from asterisk_rec.accounts.hashing import dummy_hash, hash_password, needs_rehash, verify_password
from asterisk_rec.adapters.db import Database
from asterisk_rec.directory import models
from asterisk_rec.directory.store import DirectoryStore
from asterisk_rec.errors import Conflict, InvalidInput, NotFound, Unauthenticated

TOKEN_PREFIX = "arec_"
MIN_PASSWORD = 10
# Checked when the e-mail is unknown, so a login takes as long either way.
_DUMMY_HASH = dummy_hash()


class Role(StrEnum):
    ADMIN = "admin"  # the organisation's calls, recordings, settings and audit log
    USER = "user"  # their own calls only


@dataclass(frozen=True)
class Account:
    id: int
    organisation_id: int
    organisation_name: str
    time_zone: str
    email: str
    name: str
    role: Role
    user_id: int | None
    language: str
    # Raised by logging out, a new password or disabling: every older session ends.
    session_version: int = 0
    disabled: bool = False

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN


def role(value: str) -> Role:
    try:
        return Role(value.strip().lower())
    except ValueError:
        raise InvalidInput(f"role {value!r}: expected admin or user") from None


def password(value: str) -> str:
    if len(value) < MIN_PASSWORD:
        raise InvalidInput(f"password: at least {MIN_PASSWORD} characters")
    return value


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


_COLUMNS = """a.id, a.organisation_id, o.name AS organisation_name, o.time_zone, a.email, a.name, a.role,
              a.user_id, a.language, a.session_version, a.disabled_at IS NOT NULL AS disabled"""


def _account(row: dict[str, Any]) -> Account:
    return Account(id=row["id"], organisation_id=row["organisation_id"],
                   organisation_name=row["organisation_name"], time_zone=row["time_zone"], email=row["email"],
                   name=row["name"], role=Role(row["role"]), user_id=row["user_id"], language=row["language"],
                   session_version=row["session_version"], disabled=row["disabled"])


class AccountStore:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.directory = DirectoryStore(db)

    async def add(self, organisation: str, email: str, name: str, account_role: str, new_password: str,
                  extension: str | None = None, language: str = "nl") -> Account:
        """A plain user is tied to a user of the directory (by extension): the calls they may see."""
        org = await self.directory.organisation(organisation)
        checked_role = role(account_role)
        address = models.email(email.strip().lower())
        user_id = None
        if extension is not None:
            user_id = (await self.directory.user(organisation, extension)).id
        elif checked_role is Role.USER:
            raise InvalidInput("a plain user needs the extension of their directory user (--extension)")
        values = (org.id, address, models.name(name), checked_role.value, user_id, models.language(language),
                  await hash_password(password(new_password)))
        async with self.db.pool.connection() as conn:
            try:
                cursor = await conn.execute(
                    "INSERT INTO accounts (organisation_id, email, name, role, user_id, language, password_hash)"
                    " VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING id", values)
            except psycopg.errors.UniqueViolation:
                raise Conflict(f"an account for {address} exists already") from None
            row = await cursor.fetchone()
        assert row is not None
        return await self.by_id(row[0])

    async def by_id(self, account_id: int) -> Account:
        found = await self._one("a.id = %s", (account_id,))
        if found is None:
            raise NotFound(f"no account {account_id}")
        return found

    async def by_email(self, email: str) -> Account:
        found = await self._one("a.email = %s", (email.strip().lower(),))
        if found is None:
            raise NotFound(f"no account for {email}")
        return found

    async def _one(self, where: str, params: tuple[Any, ...]) -> Account | None:
        async with self.db.pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            await cur.execute(f"SELECT {_COLUMNS} FROM accounts a JOIN organisations o ON o.id = a.organisation_id"
                              f" WHERE {where}", params)
            row = await cur.fetchone()
        return _account(row) if row else None

    async def authenticate(self, email: str, given_password: str) -> Account:
        """The account whose e-mail and password these are; one error for either being wrong (or the
        account disabled)."""
        async with self.db.pool.connection() as conn:
            cursor = await conn.execute("SELECT id, password_hash FROM accounts WHERE email = %s"
                                        " AND disabled_at IS NULL", (email.strip().lower(),))
            row = await cursor.fetchone()
        if not await verify_password(row[1] if row else _DUMMY_HASH, given_password) or row is None:
            raise Unauthenticated("wrong e-mail address or password")
        if needs_rehash(row[1]):
            # Made with older parameters: made anew now that the password is at hand.
            hashed = await hash_password(given_password)
            async with self.db.pool.connection() as conn:
                await conn.execute("UPDATE accounts SET password_hash = %s WHERE id = %s AND password_hash = %s",
                                   (hashed, row[0], row[1]))
        return await self.by_id(row[0])

    async def set_password(self, email: str, new_password: str) -> None:
        """A new password ends every session of the account."""
        hashed = await hash_password(password(new_password))
        async with self.db.pool.connection() as conn:
            cursor = await conn.execute("UPDATE accounts SET password_hash = %s, session_version = session_version + 1"
                                        " WHERE email = %s", (hashed, email.strip().lower()))
            if not cursor.rowcount:
                raise NotFound(f"no account for {email}")

    async def end_sessions(self, account_id: int) -> None:
        """Every portal session of the account ends (logging out ends them all)."""
        async with self.db.pool.connection() as conn:
            await conn.execute("UPDATE accounts SET session_version = session_version + 1 WHERE id = %s",
                               (account_id,))

    async def set_disabled(self, account: Account, disabled: bool) -> Account:
        """A disabled account cannot log in, its sessions end and its API tokens stop working; enabling it
        again needs a directory user for a plain account."""
        async with self.db.pool.connection() as conn:
            try:
                await conn.execute(
                    "UPDATE accounts SET disabled_at = CASE WHEN %s THEN COALESCE(disabled_at, now()) END,"
                    " session_version = session_version + 1 WHERE id = %s", (disabled, account.id))
            except psycopg.errors.CheckViolation:
                raise Conflict(f"{account.email} has no directory user any more: it cannot be enabled") from None
        return await self.by_id(account.id)

    async def delete(self, account: Account) -> None:
        """The account and its API tokens go; the audit log keeps its entries (with the actor's name)."""
        async with self.db.pool.connection() as conn:
            await conn.execute("DELETE FROM accounts WHERE id = %s", (account.id,))

    async def issue_token(self, email: str, name: str) -> str:
        """A new API token for the account; shown this once, kept only as its hash."""
        account = await self.by_email(email)
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        async with self.db.pool.connection() as conn:
            await conn.execute("INSERT INTO api_tokens (account_id, name, token_sha256) VALUES (%s, %s, %s)",
                               (account.id, models.name(name, "token name"), token_hash(token)))
        return token

    async def revoke_tokens(self, email: str) -> int:
        account = await self.by_email(email)
        async with self.db.pool.connection() as conn:
            cursor = await conn.execute("UPDATE api_tokens SET revoked_at = now()"
                                        " WHERE account_id = %s AND revoked_at IS NULL", (account.id,))
            return cursor.rowcount

    async def by_token(self, token: str) -> Account:
        async with self.db.pool.connection() as conn:
            cursor = await conn.execute(
                "UPDATE api_tokens t SET last_used_at = now() FROM accounts a WHERE t.token_sha256 = %s"
                " AND t.revoked_at IS NULL AND a.id = t.account_id AND a.disabled_at IS NULL"
                " RETURNING t.account_id", (token_hash(token),))
            row = await cursor.fetchone()
        if row is None:
            raise Unauthenticated("unknown or revoked API token")
        return await self.by_id(row[0])

    async def accounts(self, organisation: str) -> list[Account]:
        org = await self.directory.organisation(organisation)
        async with self.db.pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            await cur.execute(f"SELECT {_COLUMNS} FROM accounts a JOIN organisations o ON o.id = a.organisation_id"
                              " WHERE a.organisation_id = %s ORDER BY a.email", (org.id,))
            return [_account(row) for row in await cur.fetchall()]

    async def session_secret(self) -> str:
        """The key that signs session cookies, made once and shared by every web process."""
        async with self.db.pool.connection() as conn:
            await conn.execute("INSERT INTO service_secrets (name, value) VALUES ('session', %s)"
                               " ON CONFLICT DO NOTHING", (secrets.token_urlsafe(48),))
            cursor = await conn.execute("SELECT value FROM service_secrets WHERE name = 'session'")
            row = await cursor.fetchone()
        assert row is not None
        return str(row[0])
