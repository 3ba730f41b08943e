"""The service's log lines (pure): JSON or text, each line about a call with the call's ids from the
context its work runs in, whatever the message holds."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import anyio
import anyio.lowlevel
import pytest

from asterisk_rec.logs import (
    TEXT_FORMAT,
    CallContextFilter,
    JsonFormatter,
    TextFormatter,
    about_call,
    current_call,
    logging_about_call,
    setup_logging,
)

# Every plane of Unicode, the edges of the BMP, a lone surrogate, controls, quotes and a JSON look-alike.
MESSAGES = ["plain", "Jürgen\u2019s call to +31 20 123 4567", "\x00\x1b[31m\r\n\t", '"}{\\', "\ud800 alone",
            "\uffff\U0001f4de\U0010ffff", "日本語の通話", "\u202eevil", "{\"call_id\": \"forged\"}", ""]


Lines = tuple[logging.Logger, io.StringIO, "logging.StreamHandler[io.StringIO]"]


@pytest.fixture
def lines() -> Iterator[Lines]:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.addFilter(CallContextFilter())
    logger = logging.getLogger("asterisk_rec.test_logs")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    try:
        yield logger, out, handler
    finally:
        logger.removeHandler(handler)


@pytest.mark.parametrize("message", MESSAGES)
def test_a_json_line_is_one_object_that_gives_back_the_message(lines: Lines, message: str) -> None:
    """Whatever the message holds, the line is one JSON object on one line, with the message as it was
    and the call's ids beside it (a message cannot forge them)."""
    logger, out, handler = lines
    handler.setFormatter(JsonFormatter())
    with logging_about_call("c0ffee", 7):
        logger.warning("%s", message)
    text = out.getvalue()
    assert text.count("\n") == 1
    line = json.loads(text)
    assert line["message"] == message and line["call_id"] == "c0ffee" and line["organisation_id"] == 7
    assert line["level"] == "WARNING" and line["logger"] == "asterisk_rec.test_logs"
    assert line["time"].endswith("+00:00")


def test_a_line_about_no_call_has_no_ids_and_an_exception_keeps_its_traceback(lines: Lines) -> None:
    """Outside a call no ids; an exception's traceback is in the object, still one line."""
    logger, out, handler = lines
    handler.setFormatter(JsonFormatter())
    try:
        raise ValueError("bad\nthing")
    except ValueError:
        logger.exception("failed")
    line = json.loads(out.getvalue())
    assert "call_id" not in line and "organisation_id" not in line
    assert "ValueError: bad\nthing" in line["exception"] and out.getvalue().count("\n") == 1


def test_a_text_line_names_its_call_unless_the_message_does(lines: Lines) -> None:
    """Text lines end with the call and organisation, but a message that names the call is left as it is."""
    logger, out, handler = lines
    handler.setFormatter(TextFormatter(TEXT_FORMAT))
    with logging_about_call("c0ffee", 7):
        logger.info("recording stored")
        logger.info("call c0ffee: the caller hung up")
    with logging_about_call("beef"):
        logger.info("ringing")
    first, second, third = out.getvalue().splitlines()
    assert first.endswith("recording stored [call c0ffee, organisation 7]")
    assert second.endswith("call c0ffee: the caller hung up")
    assert third.endswith("ringing [call beef]")


@pytest.mark.anyio
async def test_each_task_logs_about_its_own_call() -> None:
    """A call's ids set in its task reach neither the task that started it nor the other calls' tasks;
    a block's ids end with the block."""
    seen: dict[str, str | None] = {}

    async def call(call_id: str, go: anyio.Event) -> None:
        about_call(call_id, 1)
        await go.wait()
        context = current_call()
        seen[call_id] = context.call_id if context else None

    go = anyio.Event()
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(call, "a", go)
        tasks.start_soon(call, "b", go)
        await anyio.lowlevel.checkpoint()
        go.set()
    assert seen == {"a": "a", "b": "b"} and current_call() is None
    with logging_about_call("c"):
        assert current_call() is not None
    assert current_call() is None


def test_an_unknown_log_format_is_refused() -> None:
    """Only text or json, named in the error."""
    with pytest.raises(ValueError, match="'xml'"):
        setup_logging("INFO", "xml")
