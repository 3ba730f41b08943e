"""The feature code matched in a party's DTMF: the code is taken out, every other digit passed on in order."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from asterisk_rec.callflow.feature_code import CodeDialled, CodeMatcher, KeyPresses, PassOn
from asterisk_rec.callflow.talking import Talking


def typed(matcher: CodeMatcher, keys: str, start: float = 0.0, gap: float = 0.2) -> list[object]:
    actions: list[object] = []
    for index, key in enumerate(keys):
        actions += matcher.press(key, start + index * gap)
    return actions


def test_the_code_is_recognised_and_not_passed_on() -> None:
    """*1 dialled is the code, and none of it is passed on to the far end."""
    assert typed(CodeMatcher("*1", 2.0), "*1") == [CodeDialled()]


def test_other_digits_pass_at_once() -> None:
    """An IVR choice: 1, then 2, each passed on when pressed."""
    assert typed(CodeMatcher("*1", 2.0), "12") == [PassOn("1"), PassOn("2")]


def test_a_prefix_not_followed_by_the_rest_is_passed_on_with_the_next_digit() -> None:
    """* then 2: not the code, so both go on, in order, with the 2."""
    assert typed(CodeMatcher("*1", 2.0), "*2") == [PassOn("*2")]


def test_a_repeated_first_digit_keeps_the_code_possible() -> None:
    """'**1': the first star goes on, the second begins the code."""
    assert typed(CodeMatcher("*1", 2.0), "**1") == [PassOn("*"), CodeDialled()]


def test_overlapping_code() -> None:
    """Code '*1*2' typed as '*1*1*2': the first '*1' goes on once the second '*1' shows where the code starts."""
    assert typed(CodeMatcher("*1*2", 2.0), "*1*1*2") == [PassOn("*1"), CodeDialled()]


def test_held_digits_go_on_when_the_time_between_digits_runs_out() -> None:
    """A held * goes on when the time between digits runs out, not before."""
    matcher = CodeMatcher("*1", 2.0)
    assert matcher.press("*", 0.0) == []
    assert matcher.expire(1.9) == []
    assert matcher.expire(2.0) == [PassOn("*")]
    assert matcher.deadline is None


def test_a_slow_code_is_not_the_code() -> None:
    """'*' then '1' three seconds later: both go on, in order; no code."""
    matcher = CodeMatcher("*1", 2.0)
    assert matcher.press("*", 0.0) == []
    assert matcher.press("1", 3.0) == [PassOn("*"), PassOn("1")]


def test_the_code_twice_is_two_toggles() -> None:
    """*1*1 is the code twice: two toggles."""
    assert typed(CodeMatcher("*1", 2.0), "*1*1") == [CodeDialled(), CodeDialled()]


@pytest.mark.parametrize("code", ["", "1x", "123456789", "* 1"])
def test_bad_codes_are_refused(code: str) -> None:
    """Empty, non-digit, too long or spaced codes are refused."""
    with pytest.raises(ValueError, match="not a feature code"):
        CodeMatcher(code, 2.0)


def test_further_ends_of_one_press_count_once() -> None:
    """Ends reported at 120 and 150 ms, 45 ms apart, are one press; so are ends every 90 ms with durations
    growing by 20-40 ms (a bridge thread busy meanwhile). The same key pressed again after a release is
    a new press, and so is another key."""
    presses = KeyPresses()
    assert presses.is_new("1", 120, 10.000)
    assert not presses.is_new("1", 150, 10.045)
    assert presses.is_new("1", 100, 10.300)
    presses = KeyPresses()
    assert presses.is_new("2", 0, 20.0)
    assert not any(presses.is_new("2", d, 20.0 + 0.09 * i) for i, d in enumerate((40, 60, 80, 100, 150), 1))
    assert presses.is_new("2", 160, 20.45 + 0.16 + 0.05)
    assert presses.is_new("3", 20, 20.70)


class _Control:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    async def send_dtmf(self, channel: str, digits: str) -> None:
        self.sent.append((channel, digits))


@pytest.mark.anyio
async def test_a_digit_absorbed_for_a_code_that_no_longer_counts_goes_on_to_the_other_party() -> None:
    """A party bridged absorbing its digits (its code meant something) whose code means nothing since a
    transfer: each digit (once, however often Asterisk reports its end) reaches the other party."""
    control = _Control()
    flow = SimpleNamespace(caller="alice", answered="carol", codes={}, absorbing={"alice"}, control=control)
    talking = Talking(flow)  # type: ignore[arg-type]
    # The 5 reported twice, its duration grown by as long as passed between the reports.
    for digit, duration_ms, at in (("5", 100, "01.000"), ("5", 160, "01.060"), ("7", 100, "03.000")):
        await talking.on_ChannelDtmfReceived({"type": "ChannelDtmfReceived", "channel": {"id": "alice"},
                                              "digit": digit, "duration_ms": duration_ms,
                                              "timestamp": f"2026-12-02T10:00:{at}+0000"})
    assert control.sent == [("carol", "5"), ("carol", "7")]
    await talking.on_ChannelDtmfReceived({"type": "ChannelDtmfReceived", "channel": {"id": "carol"}, "digit": "1",
                                          "duration_ms": 100, "timestamp": "2026-12-02T10:00:05.000+0000"})
    assert len(control.sent) == 2  # Carol's digits pass through the bridge by themselves
