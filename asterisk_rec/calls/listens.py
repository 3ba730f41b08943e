"""What counts as one listen: whatever an account is served of a recording (any Range, from any byte),
the first time within ``window_seconds`` is one listen; the player's further requests while it plays or
seeks are part of it. Decided from what is served, never from the Range header's text. Pure (the clock
is given); per web process, so several processes audit more often, never less."""

from __future__ import annotations

from dataclasses import dataclass, field

LISTEN_WINDOW_SECONDS = 1800.0


@dataclass
class ListenWindow:
    window_seconds: float = LISTEN_WINDOW_SECONDS
    _since: dict[tuple[int, int], float] = field(default_factory=dict)

    def starts_a_listen(self, account_id: int, recording_id: int, now: float) -> bool:
        key = (account_id, recording_id)
        began = self._since.get(key)
        if began is not None and now - began < self.window_seconds:
            return False
        self._since[key] = now
        if len(self._since) > 10_000:
            self._since = {k: t for k, t in self._since.items() if now - t < self.window_seconds}
        return True
