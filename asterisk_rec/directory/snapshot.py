"""The whole directory as the service holds it in memory, so a call is attributed without asking
PostgreSQL (which may be away): organisations by name and id, users by extension, by PJSIP endpoint and
by mobile number. Immutable: a change in PostgreSQL makes a new snapshot. Pure: no I/O."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from asterisk_rec.directory.models import Organisation, User
from asterisk_rec.errors import NotFound


@dataclass(frozen=True)
class DirectorySnapshot:
    organisations: dict[str, Organisation] = field(default_factory=dict)
    by_extension: dict[tuple[int, str], User] = field(default_factory=dict)
    by_endpoint: dict[str, User] = field(default_factory=dict)
    by_number: dict[str, User] = field(default_factory=dict)
    by_id: dict[int, Organisation] = field(default_factory=dict)

    @classmethod
    def of(cls, organisations: Iterable[Organisation], users: Iterable[User]) -> DirectorySnapshot:
        organisations = list(organisations)
        snapshot = cls({o.name: o for o in organisations}, by_id={o.id: o for o in organisations})
        for user in users:
            snapshot.by_extension[(user.organisation.id, user.extension)] = user
            for device in user.devices:
                if device.endpoint is not None:
                    snapshot.by_endpoint[device.endpoint] = user
                if device.number is not None:
                    snapshot.by_number[device.number] = user
        return snapshot

    def organisation(self, name: str) -> Organisation:
        found = self.organisations.get(name)
        if found is None:
            raise NotFound(f"no organisation {name!r}")
        return found

    def organisation_by_id(self, organisation_id: int) -> Organisation | None:
        return self.by_id.get(organisation_id)

    def user_by_device(self, *, endpoint: str | None = None, number: str | None = None) -> User | None:
        return self.by_endpoint.get(endpoint) if endpoint is not None else self.by_number.get(number or "")

    def user_by_extension(self, organisation_id: int, extension: str) -> User | None:
        return self.by_extension.get((organisation_id, extension))

    def __len__(self) -> int:
        return len(self.by_extension)
