"""One call through the app, from the caller entering Stasis to the last channel gone.

Ring: the callee's devices ring at once; if the callee is recorded, the caller hears the notice as early
media meanwhile (not answered: no charge, and busy or no answer can still be signalled), then ringing.
Join: a device that answers during the notice waits for its end; the others stop with "answered
elsewhere"; if the caller is recorded, the callee hears the notice before joining. The recording (a
snoop on the caller, which hears both directions) runs before the second party enters the bridge.
Talk: hold pauses the recording, unhold resumes it. Nobody answers: back to the dialplan with
ASTERISK_REC_DIALSTATUS. Whatever happens, nothing is left behind in Asterisk."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import anyio

from asterisk_rec.callflow.control import CallControl
from asterisk_rec.callflow.events import GONE, Event, channel_id, event_time
from asterisk_rec.callflow.feature_code import CodeMatcher, KeyPresses, PassOn
from asterisk_rec.callflow.inbox import EventRouter, Inbox
from asterisk_rec.config import CallSettings
from asterisk_rec.directory.models import User
from asterisk_rec.errors import AriError
from asterisk_rec.policy import (
    CallPlan,
    CodeAction,
    DialStatus,
    DialTarget,
    Notice,
    Side,
    caller_status,
    feature_code_action,
    leg_status,
    recording_runs,
)
from asterisk_rec.recording.naming import parse_recording_name, recording_name

if TYPE_CHECKING:
    from asterisk_rec.callflow.ledger import CallLedger

log = logging.getLogger(__name__)

# How long cleanup waits for Asterisk to confirm a recording closed.
RECORDING_CLOSE_SECONDS = 5
# How long one step of setting up a call may take in Asterisk before the call is given up.
STEP_SECONDS = 10
# The longest prompt the app plays.
PROMPT_SECONDS = 60
# Two short beeps, once: the feature code cannot stop a recording that is always on.
REFUSAL_TONE = "tone:!425/150,!0/100,!425/150"
# Kept on the caller's channel, so a restarted service can adopt the call: the recording's name, and
# whether the user paused it with the code.
RECORDING_VARIABLE = "ASTERISK_REC_RECORDING"
PAUSED_VARIABLE = "ASTERISK_REC_PAUSED"


class PartyGone(Exception):
    def __init__(self, side: Side) -> None:
        super().__init__(side.value)
        self.side = side


@dataclass
class Leg:
    id: str
    target: DialTarget
    deadline: float
    rang: bool = False
    status: DialStatus | None = None
    destroyed: bool = False


@dataclass
class CallRecord:
    """What the call leaves for its call row: who, when the notice ended, when the parties met, and
    which parts the recording covers."""

    call_id: str
    caller_channel: str
    # The recording kept of the call; ``recording_started`` is also set for one that was then discarded.
    recording: str | None = None
    recording_started: str | None = None
    outcome: DialStatus | None = None
    notice_finished_at: datetime | None = None
    joined_at: datetime | None = None
    ended_at: datetime | None = None
    parts: list[list[datetime | None]] = field(default_factory=list)


@dataclass(frozen=True)
class AdoptedRecording:
    """The recording of a call found in Asterisk, as its caller's channel tells."""

    name: str | None
    paused_by_user: bool = False


def now() -> datetime:
    return datetime.now(UTC)


class CallFlow:
    def __init__(self, control: CallControl, router: EventRouter, settings: CallSettings, ledger: CallLedger,
                 caller: Event, plan: CallPlan, targets: tuple[DialTarget, ...], record: CallRecord,
                 recording_name: str | None, owners: tuple[int, ...] = ()) -> None:
        self.control = control
        self.ledger = ledger
        self.owners = owners
        self.router = router
        self.settings = settings
        self.caller = caller["id"]
        self.caller_up = caller.get("state") == "Up"
        self.plan = plan
        self.targets = targets
        self.record = record
        self.recording_name = recording_name
        self.inbox = Inbox()
        self.legs: dict[str, Leg] = {}
        self.answered: str | None = None
        self.bridge: str | None = None
        self.snoop: str | None = None
        self.recording_running = False
        self.recording_closed = False
        self.playbacks: set[str] = set()
        self.continued = False
        self.joined = False
        self.caller_gone = False
        # On demand: the feature code's matcher per channel of a party whose code means something.
        self.codes: dict[str, tuple[CodeMatcher, User]] = {}
        self.presses: dict[str, KeyPresses] = {}
        self.paused_by_user = False
        self.recording_paused = False
        self.held: set[str] = set()

    @classmethod
    def adopted(cls, control: CallControl, router: EventRouter, settings: CallSettings, ledger: CallLedger,
                call_id: str, caller: str, answered: str, bridge: str, snoop: str | None,
                recording: AdoptedRecording, plan: CallPlan, owners: tuple[int, ...]) -> CallFlow:
        """A connected call found in Asterisk that this process did not start. ``plan``: the parties'
        policy as the directory says now (the code keeps working); empty if they could not be told."""
        record = CallRecord(call_id=call_id, caller_channel=caller, recording=recording.name,
                            recording_started=recording.name, outcome=DialStatus.ANSWER)
        flow = cls(control, router, settings, ledger, {"id": caller, "state": "Up"}, plan, (), record,
                   recording.name, owners)
        if recording.name is not None:
            ledger.hold(recording.name)
        flow.answered, flow.bridge, flow.snoop = answered, bridge, snoop
        flow.legs[answered] = Leg(answered, DialTarget(answered, None, 0), 0.0, status=DialStatus.ANSWER)
        flow.recording_running = recording.name is not None
        flow.paused_by_user = flow.recording_paused = recording.paused_by_user
        flow.joined = True
        flow._watch_codes()
        return flow

    def _id(self, suffix: str) -> str:
        return f"ar-{self.record.call_id}-{suffix}"

    def _claim(self, kind: str, key: str) -> None:
        self.router.claim(f"{kind}:{key}", self.inbox)

    async def _next(self, within: float | None = None) -> Event | None:
        """The next event of this call, or None after ``within`` seconds. A party hanging up raises."""
        event: Event | None = None
        with anyio.move_on_after(within):
            event = await self.inbox.next()
        if event is not None and event["type"] in ("RecordingFinished", "RecordingFailed") and \
                event["recording"]["name"] == self.recording_name:
            self.recording_closed = True
        if event is not None and event["type"] in GONE:
            gone = channel_id(event)
            if gone == self.caller:
                self.caller_gone = True
                raise PartyGone(Side.CALLER)
            if gone is not None and gone == self.answered:
                raise PartyGone(Side.CALLEE)
        return event

    async def _wait_for(self, kind: str, object_id: str, field: str = "channel",
                        within: float = STEP_SECONDS) -> Event:
        """The event ``kind`` about ``object_id``; other events of the call meanwhile are passed over."""
        deadline = time.monotonic() + within
        while (remaining := deadline - time.monotonic()) > 0:
            event = await self._next(remaining)
            if event is not None and event["type"] == kind and event.get(field, {}).get("id") == object_id:
                return event
        raise AriError(f"no {kind} for {object_id} within {within:g} s")

    async def run(self) -> CallRecord:
        """The whole call, from ringing on."""
        self._claim("channel", self.caller)
        return await self._conduct(self._ring_join_talk)

    async def resume(self) -> CallRecord:
        """A call already connected in Asterisk (adopted after a restart): talk on, then end it properly."""
        for channel in (self.caller, self.answered, self.snoop):
            if channel is not None:
                self._claim("channel", channel)
        if self.bridge is not None:
            self._claim("bridge", self.bridge)
        if self.recording_name is not None:
            self._claim("recording", self.recording_name)
        return await self._conduct(self._talk)

    async def _ring_join_talk(self) -> None:
        if await self._ring():
            await self._join()
            await self._talk()

    async def _conduct(self, steps: Callable[[], Awaitable[None]]) -> CallRecord:
        try:
            await steps()
        except PartyGone as gone:
            log.info("call %s: the %s hung up", self.record.call_id, gone.side.value)
        except AriError as err:
            log.error("call %s: %s", self.record.call_id, err)
        except Exception:
            # A fault in one call must not end the others: log it, and end this call properly.
            log.exception("call %s: unexpected error", self.record.call_id)
        finally:
            with anyio.CancelScope(shield=True):
                await self._clean_up()
                self.router.release(self.inbox)
                self.record.ended_at = now()
                self.ledger.call_ended(self.record)
        return self.record

    def live_channels(self) -> list[str]:
        """The call's channels that should still exist in Asterisk."""
        channels = [leg.id for leg in self.legs.values() if not leg.destroyed]
        if not self.caller_gone and not self.continued:
            channels.append(self.caller)
        if self.snoop is not None:
            channels.append(self.snoop)
        return channels

    # Ring

    def _notice(self, to: Side) -> Notice | None:
        return next((n for n in self.plan.notices if n.to is to), None)

    async def _play(self, channel: str, media: str, name: str, language: str | None = None) -> str:
        playback = self._id(name)
        self._claim("playback", playback)
        self.playbacks.add(playback)
        await self.control.play(channel, media, playback, language)
        return playback

    async def _ring(self) -> bool:
        """Rings every target until one answers (and the caller's notice has ended). Returns whether a
        device answered; if none did, the caller has gone back to the dialplan."""
        notice = self._notice(Side.CALLER)
        notice_playing = ringing = None
        if notice is not None:
            notice_playing = await self._play(self.caller, f"sound:{self.settings.notice_sound}", "notice-caller",
                                              notice.language)
        else:
            await self.control.ring(self.caller)
        for index, target in enumerate(self.targets):
            leg = Leg(self._id(f"leg{index}"), target, time.monotonic() + target.ring_seconds)
            self._claim("channel", leg.id)
            self.legs[leg.id] = leg
            try:
                # It is dialled once it is in the app (its StasisStart): a dial before that gets 409.
                await self.control.create_leg(leg.id, target.endpoint, self.caller, self.record.call_id)
            except AriError as err:
                log.warning("call %s: cannot ring %s: %s", self.record.call_id, target.endpoint, err)
                leg.status = DialStatus.CHANUNAVAIL
                await self.control.hangup(leg.id)

        while self.answered is None or notice_playing is not None:
            pending = [leg for leg in self.legs.values() if leg.status is None]
            if self.answered is None and not pending:
                await self._back_to_dialplan(caller_status([leg.status for leg in self.legs.values()
                                                            if leg.status is not None]))
                return False
            within = None
            if self.answered is None:
                within = max(0.0, min(leg.deadline for leg in pending) - time.monotonic())
            event = await self._next(within)
            if event is None:
                await self._expire(pending)
                continue
            kind, channel = event["type"], channel_id(event)
            if kind == "PlaybackFinished" and event["playback"]["id"] == notice_playing:
                notice_playing = None
                self.record.notice_finished_at = now()
                if self.answered is None:
                    ringing = await self._play(self.caller, "tone:ring", "ringing")
            elif channel in self.legs:
                await self._on_leg_event(self.legs[channel], kind, event)
        if ringing is not None:
            await self.control.stop_playback(ringing)
        return True

    async def _expire(self, pending: list[Leg]) -> None:
        for leg in pending:
            if leg.deadline <= time.monotonic():
                leg.status = DialStatus.NOANSWER
                await self.control.hangup(leg.id, "no_answer")

    async def _on_leg_event(self, leg: Leg, kind: str, event: Event) -> None:
        if kind == "StasisStart" and leg.status is None:
            try:
                await self.control.tag_call(leg.id, self.record.call_id)
                await self.control.dial(leg.id, self.caller)
            except AriError as err:
                log.warning("call %s: cannot ring %s: %s", self.record.call_id, leg.target.endpoint, err)
                leg.status = DialStatus.CHANUNAVAIL
                await self.control.hangup(leg.id)
        elif kind == "ChannelStateChange":
            state = event["channel"]["state"]
            if state == "Ringing":
                leg.rang = True
            elif state == "Up" and self.answered is None and leg.status is None:
                self.answered = leg.id
                leg.status = DialStatus.ANSWER
                for other in self.legs.values():
                    if other.status is None:
                        other.status = DialStatus.CANCEL
                        await self.control.hangup(other.id, "answered_elsewhere")
        elif kind == "ChannelDestroyed":
            leg.destroyed = True
            if leg.status is None:
                leg.status = leg_status(int(event.get("cause", 0)), leg.rang)

    async def _back_to_dialplan(self, status: DialStatus) -> None:
        self.record.outcome = status
        for playback in self.playbacks:
            await self.control.stop_playback(playback)
        await self.control.set_variable(self.caller, "ASTERISK_REC_DIALSTATUS", status.value)
        await self.control.continue_in_dialplan(self.caller)
        self.continued = True
        log.info("call %s: nobody answered (%s): back to the dialplan", self.record.call_id, status.value)

    # Join

    async def _join(self) -> None:
        assert self.answered is not None
        self.record.outcome = DialStatus.ANSWER
        notice = self._notice(Side.CALLEE)
        if notice is not None:
            playback = await self._play(self.answered, f"sound:{self.settings.notice_sound}", "notice-callee",
                                        notice.language)
            await self._wait_for("PlaybackFinished", playback, field="playback", within=PROMPT_SECONDS)
            self.record.notice_finished_at = now()
        if not self.caller_up:
            await self.control.answer(self.caller)
        self.bridge = self._id("bridge")
        self._claim("bridge", self.bridge)
        await self.control.create_bridge(self.bridge)
        self._watch_codes()
        await self.control.add_to_bridge(self.bridge, self.caller, absorb_dtmf=self.caller in self.codes)
        if self.recording_name is not None:
            await self._start_recording(self.recording_name)
        await self.control.add_to_bridge(self.bridge, self.answered, absorb_dtmf=self.answered in self.codes)
        await self._wait_for("ChannelEnteredBridge", self.answered)
        self.record.joined_at = now()
        self.joined = True
        log.info("call %s: connected%s", self.record.call_id, ", recording" if self.recording_running else "")

    def _watch_codes(self) -> None:
        """A code matcher for the channel of each party whose code means something."""
        assert self.answered is not None
        channels = {Side.CALLER: self.caller, Side.CALLEE: self.answered}
        for side, user in self.plan.code_users:
            matcher = CodeMatcher(user.organisation.feature_code, self.settings.feature_code_digit_seconds)
            self.codes[channels[side]] = (matcher, user)

    async def _start_recording(self, name: str) -> None:
        """Snoops the caller (both directions) and records the snoop, or records the bridge; returns once
        the recording runs."""
        self._claim("recording", name)
        parsed = parse_recording_name(name)
        assert parsed is not None
        await self.ledger.recording_starting(name, self.record.call_id, parsed.organisation_id, self.owners, now())
        self.record.recording_started = name
        if self.settings.recording_method == "bridge":
            assert self.bridge is not None
            await self.control.record_bridge(self.bridge, name, self.settings.recording_format)
        else:
            self.snoop = self._id("snoop")
            self._claim("channel", self.snoop)
            await self.control.snoop(self.caller, self.snoop)
            # Like a leg, the snoop takes commands once it is in the app.
            await self._wait_for("StasisStart", self.snoop)
            await self.control.record(self.snoop, name, self.settings.recording_format)
        deadline = time.monotonic() + STEP_SECONDS
        while (remaining := deadline - time.monotonic()) > 0:
            event = await self._next(remaining)
            if event is None or event.get("recording", {}).get("name") != name:
                continue
            if event["type"] == "RecordingStarted":
                await self.control.set_variable(self.caller, RECORDING_VARIABLE, name)
                self.recording_running = True
                self.record.recording = name
                self.record.parts.append([now(), None])
                self.ledger.parts_changed(self.record)
                return
            if event["type"] == "RecordingFailed":
                break
        # The call goes on unrecorded rather than not at all; this is an alarm for the operator.
        log.error("call %s: recording %s did not start: the call is not recorded", self.record.call_id, name)

    # Talk

    async def _talk(self) -> None:
        while True:
            event = await self._next(self._code_wait())
            if event is None:
                await self._expire_codes()
                continue
            kind, channel = event["type"], channel_id(event)
            if kind == "PlaybackFinished" and event["playback"]["id"] == self._id("notice-bridge"):
                self.record.notice_finished_at = now()
            if channel is None or channel not in (self.caller, self.answered):
                continue
            # Nobody is recorded while on hold (the Dutch regulator's rule).
            if kind == "ChannelHold":
                self.held.add(channel)
                await self._apply_recording_state()
            elif kind == "ChannelUnhold":
                self.held.discard(channel)
                await self._apply_recording_state()
            elif kind == "ChannelDtmfReceived":
                await self._on_digit(channel, event["digit"], int(event.get("duration_ms", 0)), event_time(event))

    async def _apply_recording_state(self) -> None:
        """Pauses or resumes the recording as hold and the user's code say."""
        if not (self.recording_running and self.record.recording):
            return
        runs = recording_runs(True, self.paused_by_user, bool(self.held))
        if runs and self.recording_paused:
            await self.control.unpause_recording(self.record.recording)
            self.record.parts.append([now(), None])
            self.recording_paused = False
            self.ledger.parts_changed(self.record)
        elif not runs and not self.recording_paused:
            await self.control.pause_recording(self.record.recording)
            if self.record.parts:
                self.record.parts[-1][1] = now()
            self.recording_paused = True
            self.ledger.parts_changed(self.record)

    # The feature code

    def _code_wait(self) -> float | None:
        deadlines = [matcher.deadline for matcher, _ in self.codes.values() if matcher.deadline is not None]
        return max(0.0, min(deadlines) - time.monotonic()) if deadlines else None

    def _other(self, channel: str) -> str | None:
        return self.answered if channel == self.caller else self.caller

    async def _expire_codes(self) -> None:
        for channel, (matcher, _) in self.codes.items():
            for action in matcher.expire(time.monotonic()):
                if isinstance(action, PassOn):
                    await self._pass_on(channel, action)

    async def _pass_on(self, channel: str, action: PassOn) -> None:
        other = self._other(channel)
        if other is not None:
            await self.control.send_dtmf(other, action.digits)

    async def _on_digit(self, channel: str, digit: str, duration_ms: int, ended: float | None) -> None:
        """A digit of a party whose code means something (the bridge absorbed it): the code acts, anything
        else goes on to the other party. Other parties' digits pass through the bridge by themselves.
        ``ended``: when Asterisk saw the digit end (the event's time)."""
        entry = self.codes.get(channel)
        at = time.monotonic()
        presses = self.presses.setdefault(channel, KeyPresses())
        if entry is None or not presses.is_new(digit, duration_ms, time.time() if ended is None else ended):
            return
        matcher, user = entry
        for action in matcher.press(digit, at):
            if isinstance(action, PassOn):
                await self._pass_on(channel, action)
            else:
                await self._on_code(user)

    async def _on_code(self, user: User) -> None:
        assert self.bridge is not None
        log.info("call %s: %s dialled the feature code", self.record.call_id, user.name)
        if feature_code_action(self.plan) is CodeAction.REFUSE:
            await self.control.play_on_bridge(self.bridge, REFUSAL_TONE, self._id(f"refused-{now():%H%M%S%f}"))
            return
        if self.record.recording_started is None:
            self.recording_name = recording_name(user.organisation.id, self.record.call_id, now())
            await self._start_recording(self.recording_name)
            if self.recording_running:
                # Both parties hear it, and the file begins with it.
                playback = self._id("notice-bridge")
                self._claim("playback", playback)
                await self.control.play_on_bridge(self.bridge, f"sound:{self.settings.notice_sound}", playback,
                                                  user.language)
            return
        self.paused_by_user = not self.paused_by_user
        await self._apply_recording_state()
        # For a restarted service adopting the call.
        await self.control.set_variable(self.caller, PAUSED_VARIABLE, "1" if self.paused_by_user else "")

    # Clean up

    async def _clean_up(self) -> None:
        """Hangs up every channel of the call still there, closes the recording and removes the bridge.
        Each step may fail on its own (a party may be gone already); none stops the others."""
        for channel in self.live_channels():
            try:
                await self.control.hangup(channel)
            except AriError as err:
                log.warning("call %s: hanging up %s: %s", self.record.call_id, channel, err)
        if self.recording_running and self.record.recording:
            try:
                await self._close_recording(self.record.recording)
            except AriError as err:
                log.warning("call %s: closing the recording: %s", self.record.call_id, err)
        if self.record.recording_started is not None:
            # To the archive; one that was to be discarded but could not be deleted is kept after all.
            self.ledger.recording_finished(self.record.recording_started, keep=self.joined)
        if self.bridge is not None:
            try:
                await self.control.destroy_bridge(self.bridge)
            except AriError as err:
                log.warning("call %s: removing bridge: %s", self.record.call_id, err)

    async def _close_recording(self, name: str) -> None:
        if self.record.parts and self.record.parts[-1][1] is None:
            self.record.parts[-1][1] = now()
        if not self.recording_closed:
            # A snoop's recording ends with the snoop; a bridge's must be stopped.
            await self.control.stop_recording(name)
        with anyio.move_on_after(RECORDING_CLOSE_SECONDS):
            while not self.recording_closed:
                with contextlib.suppress(PartyGone):
                    await self._next()
        if not self.joined:
            # The caller left before the parties met: a recording of nobody talking is not kept.
            self.record.recording = None
            await self.control.delete_stored_recording(name)
