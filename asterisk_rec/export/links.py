"""Download links of a bulk download (pure): signed for one export's part and its requester, with an
expiry; anything altered fails the check."""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import urlencode

from asterisk_rec.errors import Forbidden


def _signature(secret: str, export_id: int, part: str, account_id: int, expires: int) -> str:
    message = f"export:{export_id}:{part}:{account_id}:{expires}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def link(base_url: str, secret: str, export_id: int, part: str, account_id: int, expires: int) -> str:
    query = urlencode({"expires": expires, "sig": _signature(secret, export_id, part, account_id, expires)})
    return f"{base_url.rstrip('/')}/exports/{export_id}/{part}?{query}"


def check(secret: str, export_id: int, part: str, account_id: int, expires: int, signature: str, now: float) -> None:
    """Raises ``Forbidden`` unless the link was made for this export, part and account, and is in time."""
    expected = _signature(secret, export_id, part, account_id, expires)
    if not hmac.compare_digest(expected, signature):
        raise Forbidden("this download link is not valid for you: it was made for someone else, or altered")
    if now > expires:
        raise Forbidden("this download link has expired: ask for the bulk download again")
