"""Password hashing (argon2: tens of milliseconds of CPU on several lanes) in a worker process of the
lowest CPU priority on one core, one hash at a time. A thread was not enough: measured (bench/feature_code_latency.py),
logins hammering the portal of ``serve`` took both cores from Asterisk and call control and pushed the
feature code's p95 from 15 ms to 700 ms at 100 calls. Idle-scheduled, the kernel gives a login only the
CPU that calls leave over: under load logins slow down, calls do not."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from functools import partial

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

# argon2id at OWASP's recommended minimum (19 MiB, 2 passes, 1 lane): measured here, 20 ms of CPU per check
# against 172 ms for the library's default (64 MiB, 3 passes, 4 lanes), whose memory also crowds the
# cache Asterisk shares. Hashes made with other parameters still verify, and are made anew at login.
_HASHER = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)
_pool: ProcessPoolExecutor | None = None


def _lowest_priority() -> None:
    """SCHED_IDLE (runs only when nothing else wants the CPU; nice 19 where it is refused), on one core:
    argon2's four lanes then never take both cores, nor their memory bandwidth, from Asterisk."""
    try:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    except (AttributeError, OSError):
        os.nice(19)
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) > 1:
        os.sched_setaffinity(0, {cores[-1]})


def _verify_in_worker(hashed: str, password: str) -> bool:
    try:
        return _HASHER.verify(hashed, password)
    except (VerificationError, InvalidHashError):
        return False


def _executor() -> ProcessPoolExecutor:
    global _pool
    if _pool is None:
        # spawn, not fork: the service is multi-threaded (asyncio's and anyio's worker threads).
        _pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                                    initializer=_lowest_priority)
    return _pool


async def hash_password(password: str) -> str:
    return await asyncio.get_running_loop().run_in_executor(_executor(), _HASHER.hash, password)


async def verify_password(hashed: str, password: str) -> bool:
    return await asyncio.get_running_loop().run_in_executor(_executor(), partial(_verify_in_worker, hashed, password))


def dummy_hash() -> str:
    """Checked when the e-mail is unknown, so a login takes as long either way."""
    return _HASHER.hash("not a password of anyone")


def needs_rehash(hashed: str) -> bool:
    try:
        return _HASHER.check_needs_rehash(hashed)
    except InvalidHashError:
        return True
