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
