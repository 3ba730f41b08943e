"""Runs a background job for as long as the service runs. Whatever the job raises, an exception group
from a task group inside it included, is logged, noted on the job's row and the job started again after
a growing delay; nothing reaches the task group that also runs call control."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Protocol

import anyio

log = logging.getLogger(__name__)

FIRST_DELAY_SECONDS = 1.0
MAX_DELAY_SECONDS = 60.0


class JobLog(Protocol):
    async def failed(self, job: str, error: str) -> None: ...


def describe(err: BaseException) -> str:
    """One line for a person: the first leaf of an exception group, with its type."""
    while isinstance(err, BaseExceptionGroup) and err.exceptions:
        err = err.exceptions[0]
    return f"{type(err).__name__}: {err}" if str(err) else type(err).__name__


async def supervised(name: str, job: Callable[[], Awaitable[None]], job_log: JobLog | None = None, *,
                     first_delay: float = FIRST_DELAY_SECONDS, max_delay: float = MAX_DELAY_SECONDS) -> None:
    """Runs ``job`` again and again; returns only when cancelled. A job that ran longer than ``max_delay``
    before failing starts again after ``first_delay``: the delay grows only while it keeps failing."""
    delay = first_delay
    while True:
        started = anyio.current_time()
        try:
            await job()
            reason = "it returned"  # a background job is meant to run for the service's lifetime
        except Exception as err:  # an ExceptionGroup of Exceptions is one too
            reason = describe(err)
            log.debug("background job %s failed", name, exc_info=True)
        if anyio.current_time() - started > max_delay:
            delay = first_delay
        log.error("background job %s stopped (%s): starting it again in %g s", name, reason, delay)
        if job_log is not None:
            try:
                await job_log.failed(name, reason)
            except Exception as err:  # PostgreSQL may be why the job failed
                log.debug("cannot note the failure of job %s: %s", name, err)
        await anyio.sleep(delay)
        delay = min(delay * 2, max_delay)
