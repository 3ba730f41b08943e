"""Asterisk's channel names (pure), below the call flow and the call rows, which both read them."""

from __future__ import annotations


def endpoint_of(channel_name: str) -> str | None:
    """The PJSIP endpoint of a channel name like ``PJSIP/alice-desk-0000001a``."""
    technology, _, rest = channel_name.partition("/")
    if technology != "PJSIP" or "-" not in rest:
        return None
    return rest.rsplit("-", 1)[0]
