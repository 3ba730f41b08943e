"""ARI: the Stasis app's WebSocket (events, and commands as REST requests over it) and plain REST over
HTTP (the ping, the stored recordings' bytes)."""

from asterisk_rec.adapters.ari.connection import AriClient, AriConnection
from asterisk_rec.adapters.ari.rest import AriRest, AsteriskInfo, host_port

__all__ = ["AriClient", "AriConnection", "AriRest", "AsteriskInfo", "host_port"]
