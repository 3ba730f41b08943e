"""An admin's work on the organisation's accounts, whichever way it is asked (portal, API, audited)."""

from __future__ import annotations

from asterisk_rec.accounts.access import only_admins
from asterisk_rec.accounts.audit import AuditLog
from asterisk_rec.accounts.store import Account, AccountStore
from asterisk_rec.errors import Conflict, NotFound


class AccountsService:
    """An admin's view of the organisation's accounts: list, disable (or enable) and delete them. An admin
    cannot disable or delete their own account (nobody would be left to undo it)."""

    def __init__(self, accounts: AccountStore, audit: AuditLog) -> None:
        self.accounts = accounts
        self.audit = audit

    async def list(self, account: Account) -> list[Account]:
        only_admins(account)
        return await self.accounts.accounts(account.organisation_name)

    async def _other(self, account: Account, account_id: int) -> Account:
        only_admins(account)
        try:
            target = await self.accounts.by_id(account_id)
        except NotFound:
            target = None
        if target is None or target.organisation_id != account.organisation_id:
            raise NotFound(f"no account {account_id}")
        if target.id == account.id:
            raise Conflict("you cannot disable or delete your own account")
        return target

    async def set_disabled(self, account: Account, account_id: int, disabled: bool, remote_address: str) -> Account:
        target = await self._other(account, account_id)
        changed = await self.accounts.set_disabled(target, disabled)
        await self.audit.write(account, account.organisation_id, "account_disabled" if disabled else "account_enabled",
                               f"account {target.email}", remote_address=remote_address)
        return changed

    async def delete(self, account: Account, account_id: int, remote_address: str) -> None:
        target = await self._other(account, account_id)
        await self.accounts.delete(target)
        await self.audit.write(account, account.organisation_id, "account_deleted", f"account {target.email}",
                               remote_address=remote_address)
