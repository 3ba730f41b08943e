"""What a transfer's ending tells the transferor's phone, which REFERs are attended transfers, and which
Asterisk versions a REFER with Refer-Sub: false crashes while the app handles transfers (pure)."""

from __future__ import annotations

import pytest

from asterisk_rec.callflow.transfer import (
    PROGRESS_STATES,
    TransferOutcome,
    is_attended,
    outcome_of,
    refer_sub_false_crashes,
    replaced_channel,
)
from asterisk_rec.config import CallSettings
from asterisk_rec.errors import ConfigError
from asterisk_rec.policy import DialStatus


def test_every_outcome_tells_the_phone_something_final() -> None:
    """Answered is a 200 (channel_answered); busy and refused are declined (603); the rest unavailable."""
    assert set(PROGRESS_STATES) == set(TransferOutcome)
    assert PROGRESS_STATES[TransferOutcome.ANSWERED] == "channel_answered"
    assert {PROGRESS_STATES[o] for o in (TransferOutcome.BUSY, TransferOutcome.REFUSED)} == {"channel_declined"}


@pytest.mark.parametrize(("status", "outcome"), [
    (DialStatus.ANSWER, TransferOutcome.ANSWERED), (DialStatus.BUSY, TransferOutcome.BUSY),
    (DialStatus.NOANSWER, TransferOutcome.NO_ANSWER), (DialStatus.CHANUNAVAIL, TransferOutcome.UNAVAILABLE),
    (DialStatus.CANCEL, TransferOutcome.UNAVAILABLE)])
def test_the_targets_ringing_gives_the_transfers_outcome(status: DialStatus, outcome: TransferOutcome) -> None:
    """As a caller would be told: busy, no answer, else unavailable."""
    assert outcome_of(status) is outcome


# As Asterisk 22.10 raises them (the lab's): a blind REFER, one with Replaces it resolved, one whose
# Replaces names a dialog it does not know, and one naming nothing.
BLIND = {"refer_to": {"requested_destination": {"destination": "203"}}}
RESOLVED = {"refer_to": {"requested_destination": {"destination": "203", "protocol_id": "consult///a1"},
                         "destination_channel": {"id": "1796.3"}, "connected_channel": {"id": "ar-x-leg0"}}}
UNRESOLVED = {"refer_to": {"requested_destination": {"destination": "203", "protocol_id": "consult///a1"}}}
EMPTY: dict[str, object] = {"refer_to": {"requested_destination": {}}}


@pytest.mark.parametrize(("request_", "attended", "replaced"), [
    (BLIND, False, None), (RESOLVED, True, "1796.3"), (UNRESOLVED, True, None), (EMPTY, True, None), ({}, True, None)])
def test_a_refer_with_replaces_is_an_attended_transfer(request_: dict[str, object], attended: bool,
                                                      replaced: str | None) -> None:
    """Replaces is told by the protocol id (the dialog's Call-ID) or the consultation's channel, not by the
    number, which Asterisk gives for both kinds; a REFER naming no number is refused as attended."""
    assert is_attended(request_) is attended
    assert replaced_channel(request_) == replaced


@pytest.mark.parametrize(("version", "crashes"), [
    ("22.10.1+dfsg+~cs6.17.60671434-1", True), ("22.3.0", True), ("22.2.0", False), ("22.11.0", False),
    ("21.8.0", False), ("", False), ("GIT-master-abc", False), ("\uff12\uff12.\uff11\uff10", False)])
def test_the_versions_refer_sub_false_crashes(version: str, crashes: bool) -> None:
    """22.3 to 22.10 (the lab's 22.10.1 crashed); anything unparsable is not claimed to crash."""
    assert refer_sub_false_crashes(version) is crashes


def test_transfer_handling_is_the_app_or_asterisk() -> None:
    """calls.transfers: app (default) or asterisk; anything else is refused naming the setting."""
    assert CallSettings().transfers == "app"
    with pytest.raises(ConfigError, match=r"calls\.transfers 'core'"):
        CallSettings(transfers="core")


def test_the_unanswered_transfer_setting_is_ring_back_or_dialplan() -> None:
    """calls.unanswered_transfer: ring_back (default) or dialplan; anything else is refused naming it."""
    assert CallSettings().unanswered_transfer == "ring_back"
    assert CallSettings(unanswered_transfer="dialplan").unanswered_transfer == "dialplan"
    with pytest.raises(ConfigError, match=r"calls\.unanswered_transfer 'voicemail'"):
        CallSettings(unanswered_transfer="voicemail")
