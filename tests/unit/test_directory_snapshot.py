"""The directory in memory (pure): how calls are attributed while PostgreSQL may be away."""

from __future__ import annotations

import pytest

from asterisk_rec.directory.models import Device, DeviceKind, FailMode, Organisation, RecordingMode, User
from asterisk_rec.directory.snapshot import DirectorySnapshot
from asterisk_rec.errors import NotFound

ACME = Organisation(1, "acme", "Europe/Amsterdam", "nl", FailMode.OPEN)
OTHER = Organisation(2, "other", "Europe/Amsterdam", "en", FailMode.CLOSED)
ALICE = User(11, ACME, "201", "Alice", None, "en", RecordingMode.ALWAYS,
             (Device(1, DeviceKind.DESK, "alice-desk", None), Device(2, DeviceKind.MOBILE, None, "+31600000201")))
OTHER_201 = User(21, OTHER, "201", "Olga", None, "en", RecordingMode.OFF, ())


def test_users_are_found_by_device_number_and_extension_within_their_organisation() -> None:
    """Each lookup a call makes: by endpoint, by mobile number, by extension in one organisation only."""
    snapshot = DirectorySnapshot.of([ACME, OTHER], [ALICE, OTHER_201])
    assert snapshot.user_by_device(endpoint="alice-desk") is ALICE
    assert snapshot.user_by_device(number="+31600000201") is ALICE
    assert snapshot.user_by_device(endpoint="bob-desk") is None
    assert snapshot.user_by_device(number="+31600000999") is None
    assert snapshot.user_by_extension(1, "201") is ALICE and snapshot.user_by_extension(2, "201") is OTHER_201
    assert snapshot.user_by_extension(1, "202") is None
    assert snapshot.organisation("other") is OTHER and len(snapshot) == 2
    assert snapshot.organisation_by_id(2) is OTHER and snapshot.organisation_by_id(3) is None


def test_an_unknown_organisation_is_not_found() -> None:
    """As the store says it: NotFound, naming it."""
    with pytest.raises(NotFound, match="no organisation 'ghost'"):
        DirectorySnapshot.of([ACME], []).organisation("ghost")
