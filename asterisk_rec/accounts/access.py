"""Who may do what, for the services that act for an account (pure)."""

from __future__ import annotations

from asterisk_rec.accounts.store import Account
from asterisk_rec.errors import Forbidden


def only_admins(account: Account) -> None:
    if not account.is_admin:
        raise Forbidden("only the organisation's admins may do this")
