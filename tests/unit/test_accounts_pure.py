"""Accounts' pure parts: the login limits, what counts as a listen, and the password hasher (its worker
process for real)."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher

from asterisk_rec.accounts import hashing
from asterisk_rec.accounts.login_limits import LoginLimiter
from asterisk_rec.calls.listens import ListenWindow
from asterisk_rec.errors import TooManyLogins

pytestmark = pytest.mark.anyio


def test_failed_logins_are_limited_per_account_and_per_address() -> None:
    """Five failures of one account within 15 minutes refuse it (whatever address), twenty from one address
    refuse that address; a success clears the account's count; old failures age out."""
    limits = LoginLimiter()
    for n in range(5):
        limits.check("Ann@x.example", f"10.0.0.{n}", now=n)
        limits.failed("Ann@x.example", f"10.0.0.{n}", now=n)
    with pytest.raises(TooManyLogins, match="try again in 15 minutes"):
        limits.check("ann@x.example", "192.0.2.1", now=10)
    limits.check("ann@x.example", "192.0.2.1", now=901)  # the first failure aged out
    limits.succeeded("ann@x.example")
    for n in range(20):
        limits.failed(f"user{n}@x.example", "192.0.2.9", now=1000)
    with pytest.raises(TooManyLogins):
        limits.check("bob@x.example", "192.0.2.9", now=1001)
    limits.check("bob@x.example", "192.0.2.10", now=1001)


def test_one_listen_per_account_and_recording_in_its_window() -> None:
    """The first bytes served start a listen; more within the window (seeking) do not; after it, or for
    another account or recording, a new one starts."""
    window = ListenWindow(window_seconds=60)
    assert window.starts_a_listen(1, 7, now=0)
    assert not window.starts_a_listen(1, 7, now=59)
    assert window.starts_a_listen(2, 7, now=59) and window.starts_a_listen(1, 8, now=59)
    assert window.starts_a_listen(1, 7, now=61)


async def test_passwords_are_hashed_apart_and_old_hashes_are_made_anew() -> None:
    """A hash made in the low-priority worker verifies there, a wrong password does not; a hash with the
    library's older default parameters still verifies and is marked to be made anew."""

    made = await hashing.hash_password("correct horse")
    assert await hashing.verify_password(made, "correct horse")
    assert not await hashing.verify_password(made, "wrong horse")
    assert not hashing.needs_rehash(made)
    old = PasswordHasher(time_cost=3, memory_cost=65536, parallelism=4).hash("correct horse")
    assert await hashing.verify_password(old, "correct horse") and hashing.needs_rehash(old)
    assert not await hashing.verify_password("not a hash", "x") and hashing.needs_rehash("not a hash")
