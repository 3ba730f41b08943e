"""The PBX's SIP trunks, as the configuration names them (pure): which endpoints are trunks, whose caller
ids may identify a user's mobile, and which trunk an organisation's calls out (and to its users' mobiles)
take. Read from ``calls.trunks``, ``calls.trusted_trunks`` and ``calls.outgoing_trunks``."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from asterisk_rec.errors import ConfigError

# A PJSIP endpoint's name, as the directory accepts it for devices.
_ENDPOINT = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,79}")


@dataclass(frozen=True)
class Trunk:
    endpoint: str
    # A carrier that sets the caller id itself: a call from it with a user's mobile number is that user's.
    # Anyone can put any number in a call from an untrusted trunk.
    caller_id_trusted: bool = False


@dataclass(frozen=True)
class Trunks:
    all: tuple[Trunk, ...]
    outgoing_by_organisation: dict[str, Trunk] = field(default_factory=dict)

    @classmethod
    def parse(cls, trunks: str, trusted: str = "", outgoing: str = "") -> Trunks:
        """``trunks``: endpoints, comma-separated, the first the default for calls out; ``trusted``: those
        among them whose caller ids are trusted; ``outgoing``: ``organisation=trunk`` pairs separated by
        ``;`` (an organisation's name may hold commas and ``=``, not ``;``)."""
        names = _names(trunks, "calls.trunks")
        if not names:
            raise ConfigError("calls.trunks: name at least one trunk (a PJSIP endpoint)")
        if len(set(names)) != len(names):
            raise ConfigError(f"calls.trunks {trunks!r}: a trunk is named twice")
        trusted_names = set(_names(trusted, "calls.trusted_trunks"))
        unknown = trusted_names - set(names)
        if unknown:
            raise ConfigError(f"calls.trusted_trunks: {', '.join(sorted(unknown))} not in calls.trunks")
        by_name = {name: Trunk(name, name in trusted_names) for name in names}
        chosen: dict[str, Trunk] = {}
        for pair in (p.strip() for p in outgoing.split(";")):
            if not pair:
                continue
            organisation, sep, trunk = pair.rpartition("=")
            organisation, trunk = organisation.strip(), trunk.strip()
            if not sep or not organisation:
                raise ConfigError(f"calls.outgoing_trunks: {pair!r} is not organisation=trunk")
            if trunk not in by_name:
                raise ConfigError(f"calls.outgoing_trunks: {trunk!r} (for {organisation!r}) not in calls.trunks")
            if organisation in chosen:
                raise ConfigError(f"calls.outgoing_trunks: {organisation!r} given twice")
            chosen[organisation] = by_name[trunk]
        return cls(tuple(by_name.values()), chosen)

    def named(self, endpoint: str | None) -> Trunk | None:
        """The trunk a channel's endpoint is, if it is one."""
        return next((t for t in self.all if t.endpoint == endpoint), None)

    def outgoing(self, organisation: str) -> Trunk:
        """The trunk the organisation's calls out take: its own if configured, else the first."""
        return self.outgoing_by_organisation.get(organisation, self.all[0])

    @property
    def endpoints(self) -> frozenset[str]:
        return frozenset(t.endpoint for t in self.all)


def _names(value: str, where: str) -> list[str]:
    names = [name.strip() for name in value.split(",") if name.strip()]
    for name in names:
        if not _ENDPOINT.fullmatch(name):
            raise ConfigError(f"{where}: {name!r} is not a PJSIP endpoint name (letters, digits, _ . -)")
    return names
