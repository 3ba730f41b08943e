"""Whom the app lets a caller reach, from what the dialplan and the trunk tell it (pure). The dialplan
names an organisation and a number; neither is taken on trust:
- a device of a directory user calls as its user, within its user's organisation: a named organisation
  must be that one (an empty name means it), so nobody reaches another tenant's extensions by dialling;
- a call from a trunk goes to the organisation the integrator's dialplan names for its number, one of
  ``calls.trunk_organisations`` when that is set; its caller id names a user's mobile only when the trunk
  is in ``calls.trusted_trunks``;
- an outside number is dialled through a trunk only for a user of the organisation (a device, or a
  mobile from a trusted trunk): anything else calling out is refused (toll fraud).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Refusal(StrEnum):
    WRONG_ORGANISATION = "the dialplan names another organisation than the caller's"
    NO_ORGANISATION = "no organisation: the dialplan names none and the caller is not a user's device"
    TRUNK_ORGANISATION = "the trunk may not send calls to that organisation (calls.trunk_organisations)"
    NOT_A_USER_CALLING_OUT = "only the organisation's users may call outside numbers (toll fraud)"


@dataclass(frozen=True)
class Caller:
    """What the app knows of the caller: from the trunk or not, and the organisation of the user it is (a
    device's, or a mobile's over a trusted trunk), if any."""

    from_trunk: bool
    user_organisation: str | None


def organisation_for(caller: Caller, named: str, trunk_organisations: frozenset[str]) -> str | Refusal:
    """The organisation the call is made in, or why it is refused."""
    if caller.user_organisation is not None and not caller.from_trunk:
        if named and named != caller.user_organisation:
            return Refusal.WRONG_ORGANISATION
        return caller.user_organisation
    if not named:
        return caller.user_organisation or Refusal.NO_ORGANISATION
    if caller.from_trunk and trunk_organisations and named not in trunk_organisations:
        return Refusal.TRUNK_ORGANISATION
    return named


def may_call_outside(caller: Caller) -> bool:
    return caller.user_organisation is not None
