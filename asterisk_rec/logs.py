"""The service's log lines, as text or as one JSON object a line (``service.log_format``). A line about a
call carries the call's id and its organisation's, taken from the context the call's work runs in (set
once where that work begins: the call's task, an archive worker's recording) rather than passed by hand,
so one call is followed from its first event to its archived file with one grep or one query."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime

LOG_FORMATS = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


@dataclass(frozen=True)
class CallContext:
    call_id: str
    organisation_id: int | None = None


_current: ContextVar[CallContext | None] = ContextVar("asterisk_rec_call", default=None)


def about_call(call_id: str, organisation_id: int | None = None) -> None:
    """What the current task logs from now on is about this call. Each task runs in its own copy of the
    context (anyio and asyncio copy it when a task starts), so this reaches neither the task that started
    it nor the other calls."""
    _current.set(CallContext(call_id, organisation_id))


@contextmanager
def logging_about_call(call_id: str, organisation_id: int | None = None) -> Iterator[None]:
    """Within the block only (a worker that takes one call's work after another)."""
    token = _current.set(CallContext(call_id, organisation_id))
    try:
        yield
    finally:
        _current.reset(token)


def current_call() -> CallContext | None:
    return _current.get()


class CallContextFilter(logging.Filter):
    """Puts the current call's ids on each record (``call_id``, ``organisation_id``), unless the record
    brings its own (``extra=``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        call = _current.get()
        if call is not None:
            if getattr(record, "call_id", None) is None:
                record.call_id = call.call_id
            if getattr(record, "organisation_id", None) is None:
                record.organisation_id = call.organisation_id
        return True


class TextFormatter(logging.Formatter):
    """The usual line, and the call it is about at its end (``... [call 1f2e..., organisation 3]``) when
    the message does not name it already."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        line = super().formatMessage(record)
        call_id = getattr(record, "call_id", None)
        if call_id is None or call_id in record.message:
            return line
        organisation_id = getattr(record, "organisation_id", None)
        return f"{line} [call {call_id}" + (f", organisation {organisation_id}]" if organisation_id else "]")


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time (UTC, ms), level, logger, message, the call's ids when it is about a
    call, and the exception's traceback when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname, "logger": record.name, "message": record.getMessage()}
        for key in ("call_id", "organisation_id"):
            value = getattr(record, key, None)
            if value is not None:
                line[key] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        # Non-ASCII as it is (names, numbers); stderr escapes what it cannot write (a lone surrogate).
        return json.dumps(line, ensure_ascii=False, default=str)


def setup_logging(level: str, log_format: str = "text") -> None:
    if log_format not in LOG_FORMATS:
        raise ValueError(f"log format {log_format!r}: expected one of {', '.join(LOG_FORMATS)}")
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(CallContextFilter())
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter(TEXT_FORMAT))
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)
