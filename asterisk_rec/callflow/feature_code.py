"""The feature code in one party's DTMF (pure). The party's digits are absorbed by the bridge and passed
on by the app: digits that may begin the code are held back until the code is complete, a digit shows
they are not the code, or the time allowed between digits runs out; everything else goes on at once, so
IVR menus at the far end keep working and never hear the code."""

from __future__ import annotations

from dataclasses import dataclass

from asterisk_rec.directory.models import valid_code


@dataclass(frozen=True)
class PassOn:
    """Digits for the other party, in order."""

    digits: str


@dataclass(frozen=True)
class CodeDialled:
    pass


Action = PassOn | CodeDialled


class CodeMatcher:
    def __init__(self, code: str, digit_seconds: float) -> None:
        if not valid_code(code):
            raise ValueError(f"not a feature code: {code!r}")
        self.code = code
        self.digit_seconds = digit_seconds
        self.held = ""
        self.deadline: float | None = None

    def press(self, digit: str, at: float) -> list[Action]:
        """The party pressed ``digit`` at time ``at`` (seconds, any monotonic clock)."""
        actions = self.expire(at)
        typed = self.held + digit
        # The longest end of what was typed that can still become the code is held; the rest goes on.
        start = next(i for i in range(len(typed) + 1) if self.code.startswith(typed[i:]))
        if typed[:start]:
            actions.append(PassOn(typed[:start]))
        self.held = typed[start:]
        if self.held == self.code:
            self.held, self.deadline = "", None
            actions.append(CodeDialled())
        else:
            self.deadline = at + self.digit_seconds if self.held else None
        return actions

    def expire(self, at: float) -> list[Action]:
        """Passes on held digits whose time ran out."""
        if self.deadline is None or at < self.deadline:
            return []
        held, self.held, self.deadline = self.held, "", None
        return [PassOn(held)]


class KeyPresses:
    """Tells a new key press from a further end of one already reported. Asterisk may report one press
    ending more than once (seen here: at 120 ms and again at 150 ms, or every 20 ms while a bridge thread
    was busy passing a digit on), each time with the press's duration so far. A further end of the same
    press reports a longer duration about as much later as it grew; a new press of the same key comes
    after a release and its own duration, clearly later than its duration grew."""

    def __init__(self) -> None:
        self.last: tuple[str, int, float] | None = None

    def is_new(self, digit: str, duration_ms: int, ended: float) -> bool:
        same = False
        if self.last is not None and self.last[0] == digit and duration_ms > self.last[1]:
            grew = (duration_ms - self.last[1]) / 1000
            same = ended - self.last[2] - grew < SAME_PRESS_SLACK_SECONDS
        self.last = (digit, duration_ms, ended)
        return not same


# A new press comes at least a release (about 40 ms) plus the last press's duration after it ended.
SAME_PRESS_SLACK_SECONDS = 0.075
