"""The directory's records and the rules for what may go into them (pure: no I/O)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from asterisk_rec.errors import InvalidInput


class RecordingMode(StrEnum):
    OFF = "off"
    ALWAYS = "always"
    ON_DEMAND = "on_demand"


class DeviceKind(StrEnum):
    DESK = "desk"
    APP = "app"
    MOBILE = "mobile"


class ArchiveFormat(StrEnum):
    """The archive's file formats; bench/archive_formats.py compares them (size, CPU, tone coverage)."""

    WAV = "wav"
    FLAC = "flac"
    OPUS = "opus"
    MP3 = "mp3"


class FailMode(StrEnum):
    OPEN = "open"  # the app is down: connect the call unrecorded and raise an alarm
    CLOSED = "closed"  # the app is down: refuse the call with a message (MiFID II desks)


LANGUAGES = ("nl", "en")
_E = TypeVar("_E", bound=StrEnum)


@dataclass(frozen=True)
class Organisation:
    id: int
    name: str
    time_zone: str
    language: str
    fail_mode: FailMode
    archive_format: ArchiveFormat = ArchiveFormat.MP3
    feature_code: str = "*1"
    # Dialled to answer a ringing call of one's pickup group; the prefix and an extension: that user's.
    pickup_code: str = "*8"
    directed_pickup_prefix: str = "**"


@dataclass(frozen=True)
class Device:
    id: int
    kind: DeviceKind
    endpoint: str | None
    number: str | None

    @property
    def address(self) -> str:
        return self.number if self.kind is DeviceKind.MOBILE else self.endpoint  # type: ignore[return-value]


class Direction(StrEnum):
    """A call as one of its users sees it."""

    INCOMING = "incoming"
    OUTGOING = "outgoing"


class Reach(StrEnum):
    INTERNAL = "internal"  # the other party is a user of the same organisation
    EXTERNAL = "external"  # anyone else: an outside number, a caller from a trunk, another organisation


@dataclass(frozen=True)
class RecordingScope:
    """Which of a recorded user's calls are recorded: by direction and by reach, each switch on by default.
    A call is recorded when both its direction and its reach are switched on."""

    incoming: bool = True
    outgoing: bool = True
    internal: bool = True
    external: bool = True

    def covers(self, direction: Direction, reach: Reach) -> bool:
        return getattr(self, direction.value) and getattr(self, reach.value)  # type: ignore[no-any-return]

    def changed(self, **switches: bool | None) -> RecordingScope:
        """This scope with the switches given (None: as it is), refused when it would record no call."""
        unknown = set(switches) - set(SCOPE_SWITCHES)
        if unknown:
            raise InvalidInput(f"recorded calls: unknown switch {', '.join(sorted(unknown))}")
        values = {name: getattr(self, name) if switches.get(name) is None else bool(switches[name])
                  for name in SCOPE_SWITCHES}
        scope = RecordingScope(**values)
        if not (scope.incoming or scope.outgoing) or not (scope.internal or scope.external):
            raise InvalidInput("recorded calls: switch on incoming or outgoing, and internal or external"
                               " (else no call is recorded: set the recording off instead)")
        return scope

    @property
    def switched_on(self) -> tuple[str, ...]:
        return tuple(name for name in SCOPE_SWITCHES if getattr(self, name))


SCOPE_SWITCHES = ("incoming", "outgoing", "internal", "external")
ALL_CALLS = RecordingScope()


class ForwardWhen(StrEnum):
    ALWAYS = "always"  # every call goes to the destination; the user's devices do not ring
    BUSY = "busy"  # every device of the user busy
    NO_ANSWER = "no_answer"  # ringing for ``no_answer_seconds`` unanswered


FORWARD_SECONDS = (5, 120)


@dataclass(frozen=True)
class Forwarding:
    """Where a user's calls go instead: each condition's destination (an extension of the organisation or
    an outside number in E.164), None when off."""

    always: str | None = None
    busy: str | None = None
    no_answer: str | None = None
    no_answer_seconds: int = 20

    def to(self, when: ForwardWhen) -> str | None:
        return {ForwardWhen.ALWAYS: self.always, ForwardWhen.BUSY: self.busy,
                ForwardWhen.NO_ANSWER: self.no_answer}[when]

    @property
    def is_on(self) -> bool:
        return any((self.always, self.busy, self.no_answer))


NO_FORWARDING = Forwarding()


def forward_destination(value: str, own_extension: str) -> str | None:
    """An extension or an E.164 number; empty: off. Not the user's own extension (a loop)."""
    value = value.strip()
    if not value:
        return None
    if value.isascii() and value.isdigit():
        if extension(value) == own_extension:
            raise InvalidInput(f"forwarding to {value}: that is the user's own extension")
        return value
    return e164(value)


def forward_seconds(value: int) -> int:
    low, high = FORWARD_SECONDS
    if not low <= value <= high:
        raise InvalidInput(f"forwarding after {value} s: expected {low} to {high} seconds")
    return value


@dataclass(frozen=True)
class User:
    id: int
    organisation: Organisation
    extension: str
    name: str
    email: str | None
    language: str
    recording_mode: RecordingMode
    devices: tuple[Device, ...] = field(default=())
    recording_scope: RecordingScope = ALL_CALLS
    forwarding: Forwarding = NO_FORWARDING
    pickup_group: str | None = None


_EXTENSION = re.compile(r"[0-9]{2,10}")
_E164 = re.compile(r"\+[1-9][0-9]{6,14}")
_ENDPOINT = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,79}")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def extension(value: str) -> str:
    if not _EXTENSION.fullmatch(value):
        raise InvalidInput(f"extension {value!r}: expected 2 to 10 digits")
    return value


def e164(value: str) -> str:
    compact = re.sub(r"[\s()-]", "", value)
    if not _E164.fullmatch(compact):
        raise InvalidInput(f"number {value!r}: expected an E.164 number, e.g. +31612345678")
    return compact


def endpoint(value: str) -> str:
    if not _ENDPOINT.fullmatch(value):
        raise InvalidInput(f"endpoint {value!r}: expected a PJSIP endpoint name (letters, digits, _ . -)")
    return value


def email(value: str | None) -> str | None:
    if value is not None and not _EMAIL.fullmatch(value):
        raise InvalidInput(f"e-mail {value!r}: expected an address like name@example.org")
    return value


def language(value: str) -> str:
    if value not in LANGUAGES:
        raise InvalidInput(f"language {value!r}: expected one of {', '.join(LANGUAGES)}")
    return value


def time_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(f"time zone {value!r}: expected an IANA name, e.g. Europe/Amsterdam") from None
    return value


def name(value: str, what: str = "name") -> str:
    value = value.strip()
    if not value or len(value) > 200:
        raise InvalidInput(f"{what} {value!r}: expected 1 to 200 characters")
    return value


def _choice(enum: type[_E], value: str, what: str) -> _E:
    normal = value.strip().lower().replace("-", "_").replace(" ", "_")
    try:
        return enum(normal)
    except ValueError:
        choices = ", ".join(m.value.replace("_", " ") for m in enum)
        raise InvalidInput(f"{what} {value!r}: expected one of {choices}") from None


def recording_mode(value: str) -> RecordingMode:
    """Accepts the portal's words too: 'always', 'on demand', 'off'."""
    return _choice(RecordingMode, value, "recording mode")


def device_kind(value: str) -> DeviceKind:
    return _choice(DeviceKind, value, "device kind")


def fail_mode(value: str) -> FailMode:
    return _choice(FailMode, value, "fail mode")


FEATURE_CODE_DIGITS = frozenset("0123456789*#ABCD")


def valid_code(code: str) -> bool:
    """A DTMF sequence of 1 to 8 keys."""
    return 1 <= len(code) <= 8 and all(c in FEATURE_CODE_DIGITS for c in code)


def feature_code(value: str) -> str:
    code = value.strip().upper()
    if not valid_code(code):
        raise InvalidInput(f"feature code {value!r}: 1 to 8 of 0-9, *, # and A-D, e.g. *1")
    return code


def archive_format(value: str) -> ArchiveFormat:
    return _choice(ArchiveFormat, value, "archive format")
