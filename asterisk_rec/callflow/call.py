"""One call through the app, from the caller entering Stasis to the last channel gone: the phases
ringing, joining, talking (``ringing``, ``joining``, ``talking``), as many transfers as the parties make
(``transferring``, each followed by talking again) and always ending (``ending``). What the phases share
lives here: the call's parties, channels and bridge, its events, its recording and the commands that
start, pause, resume and move it."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import anyio

from asterisk_rec.callflow.attended import AttendedTransferring
from asterisk_rec.callflow.control import CallControl
from asterisk_rec.callflow.ending import Ending
from asterisk_rec.callflow.events import GONE, Event, channel_id, event_time
from asterisk_rec.callflow.feature_code import CodeMatcher
from asterisk_rec.callflow.inbox import EventRouter, Inbox
from asterisk_rec.callflow.joining import Joining
from asterisk_rec.callflow.phases import CallPhase, EndReason, PartyGone, Phase
from asterisk_rec.callflow.recording import Change, Recording
from asterisk_rec.callflow.ringing import Leg, Ringing
from asterisk_rec.callflow.talking import Talking
from asterisk_rec.callflow.transfer import Destination, TransferStep, is_attended
from asterisk_rec.callflow.transferring import TransferFailed, Transferring
from asterisk_rec.config import CallSettings
from asterisk_rec.directory.models import User
from asterisk_rec.errors import AriError, NotFound
from asterisk_rec.health.durations import Durations
from asterisk_rec.policy import CallPlan, DialStatus, DialTarget, Notice, Side
from asterisk_rec.recording.naming import recording_name

if TYPE_CHECKING:
    from asterisk_rec.callflow.ledger import CallLedger

log = logging.getLogger(__name__)

# How long one step of setting up a call may take in Asterisk before the call is given up.
STEP_SECONDS = 10
# Kept on the caller's channel, so a restarted service can adopt the call: the recording's name.
RECORDING_VARIABLE = "ASTERISK_REC_RECORDING"

Clock = Callable[[], datetime]
# Where a transfer to a number goes, for the transferor (a user, or None): raises AsteriskRecError when
# the transferor may not send the call there.
TransferResolver = Callable[[str, User | None], Awaitable[Destination]]
# The call one of whose talking parties is on a channel (an attended transfer's consultation), if any.
CallFinder = Callable[[str], "CallFlow | None"]


async def no_transfers(number: str, transferor: User | None) -> Destination:
    raise NotFound(f"transfers are not taken in this call ({number})")


def no_calls(channel: str) -> CallFlow | None:
    return None


def now() -> datetime:
    return datetime.now(UTC)


@dataclass
class CallRecord:
    """What the call leaves for its call row: who, when the notice ended, when the parties met (both as
    Asterisk saw them), and its recording (with the parts it covers)."""

    call_id: str
    caller_channel: str
    recording: Recording | None = None
    outcome: DialStatus | None = None
    notice_finished_at: datetime | None = None
    joined_at: datetime | None = None
    ended_at: datetime | None = None
    transfers: list[TransferStep] = field(default_factory=list)


@dataclass
class CallTimings:
    """What the app's calls time, for /metrics (shared by the flows of one app)."""

    feature_code: Durations = field(default_factory=Durations)
    # Calls ended, by outcome.
    outcomes: Counter[str] = field(default_factory=Counter)


def outcome_of(record: CallRecord, ended_by: EndReason | None) -> str:
    """How a call ended, as /metrics counts it."""
    if record.joined_at is not None or record.outcome is DialStatus.ANSWER:
        return "answered"
    if ended_by is EndReason.FAULT:
        return "failed"
    return _OUTCOMES.get(record.outcome, "cancelled") if record.outcome else "cancelled"


_OUTCOMES = {DialStatus.BUSY: "busy", DialStatus.NOANSWER: "no_answer", DialStatus.CHANUNAVAIL: "unavailable",
             DialStatus.APPFAILED: "failed"}


@dataclass
class Party:
    """Someone in the call, as its row names them (an extension or a number), the user they are (if
    any), and whether they heard the notice (nobody hears it twice)."""

    label: str
    user: User | None
    heard_notice: bool = False


class CallFlow:
    def __init__(self, control: CallControl, router: EventRouter, settings: CallSettings, ledger: CallLedger,
                 caller: Event, plan: CallPlan, targets: tuple[DialTarget, ...], record: CallRecord,
                 owners: tuple[int, ...] = (), clock: Clock = now,
                 parties: tuple[Party, Party] | None = None, resolve_transfer: TransferResolver = no_transfers,
                 find_call: CallFinder = no_calls, timings: CallTimings | None = None) -> None:
        self.control = control
        self.timings = timings or CallTimings()
        self.ledger = ledger
        self.owners = owners
        self.router = router
        self.settings = settings
        self.clock = clock
        # The two talking: the caller (or, after a transfer, the party that stayed) and the device that
        # answered (the transfer's target once it answers; None while it rings).
        self.caller = caller["id"]
        self.caller_answered = caller.get("state") == "Up"
        caller_party, self.callee = parties or (Party("", None), Party("", None))
        self.party: dict[str, Party] = {self.caller: caller_party}
        self.resolve_transfer = resolve_transfer
        self.find_call = find_call
        # Parties an attended transfer took into another call: no longer this call's to hang up.
        self.handed_over: set[str] = set()
        # Transferors who left the bridge; hung up at the end if still there.
        self.departing: list[str] = []
        # A picking user's channel came in through the dialplan: it is answered when it joins.
        self.to_answer: set[str] = set()
        self.gone: set[str] = set()
        # The call's channels whose phones hold the call now (kept across phases: a transferor may hold
        # before a REFER and still hold when a failed transfer brings them back).
        self.on_hold: set[str] = set()
        self.plan = plan
        self.targets = targets
        self.record = record
        self.inbox = Inbox()
        self.phase: Phase = Ringing(self)
        self.ended_by: EndReason | None = None
        self.legs: dict[str, Leg] = {}
        self.answered: str | None = None
        self.bridge: str | None = None
        self.snoop: str | None = None
        self.playbacks: list[str] = []
        # On demand: the feature code's matcher per channel of a party whose code means something.
        self.codes: dict[str, tuple[CodeMatcher, User]] = {}
        # Channels the bridge took in absorbing their digits (for their code): the app passes the rest on.
        self.absorbing: set[str] = set()

    @classmethod
    def adopted(cls, control: CallControl, router: EventRouter, settings: CallSettings, ledger: CallLedger,
                call_id: str, caller: str, answered: str, bridge: str, snoop: str | None,
                recording: Recording | None, plan: CallPlan, owners: tuple[int, ...],
                clock: Clock = now, timings: CallTimings | None = None) -> CallFlow:
        """A connected call found in Asterisk that this process did not start. ``plan``: the parties'
        policy as the directory says now (the code keeps working); empty if they could not be told."""
        record = CallRecord(call_id=call_id, caller_channel=caller, recording=recording,
                            outcome=DialStatus.ANSWER)
        flow = cls(control, router, settings, ledger, {"id": caller, "state": "Up"}, plan, (), record, owners,
                   clock, timings=timings)
        if recording is not None:
            ledger.hold(recording.name)
        flow.answered, flow.bridge, flow.snoop = answered, bridge, snoop
        flow.party[answered] = flow.callee
        flow.legs[answered] = Leg(answered, DialTarget(answered, None, 0), 0.0, status=DialStatus.ANSWER)
        flow.phase = Talking(flow)
        flow.watch_codes()
        # The previous process bridged them so.
        flow.absorbing = set(flow.codes)
        return flow

    @property
    def recording(self) -> Recording | None:
        return self.record.recording

    def when(self, event: Event) -> datetime:
        """When Asterisk raised ``event`` (what the parties lived, however late the app took it in); the
        app's clock for an event without a time."""
        at = event_time(event)
        return self.clock() if at is None else datetime.fromtimestamp(at, UTC)

    def held_now(self) -> bool:
        """Whether one of the two talking holds the call (nobody is recorded on hold)."""
        return bool(self.on_hold & {self.caller, self.answered})

    def object_id(self, suffix: str) -> str:
        """The id of something the app creates for this call (a restarted service finds its calls by them)."""
        return f"ar-{self.record.call_id}-{suffix}"

    def claim(self, kind: str, key: str) -> None:
        self.router.claim(f"{kind}:{key}", self.inbox)

    # Events

    async def next_event(self, within: float | None = None) -> Event | None:
        """The next event of this call, or None after ``within`` seconds. A party hanging up raises
        ``PartyGone`` (but not once the call is ending)."""
        event: Event | None = None
        with anyio.move_on_after(within):
            event = await self.inbox.next()
        if event is None:
            return None
        recording = self.recording
        if event["type"] in ("RecordingFinished", "RecordingFailed") and recording is not None and \
                event["recording"]["name"] == recording.name:
            # Asterisk cannot open the file (its spool unwritable): RecordingStarted, then at once a
            # RecordingFinished of no duration (seen on Asterisk 22), or a RecordingFailed.
            was_broken = recording.broken
            recording.finished(self.clock(), failed=event["type"] == "RecordingFailed"
                               or event["recording"].get("duration") == 0)
            if recording.broken and not was_broken:
                log.error("call %s: Asterisk could not write recording %s (%s): the call goes on unrecorded",
                          self.record.call_id, recording.name, event["recording"].get("cause") or event["type"])
        if event["type"] in GONE:
            self.gone.add(channel_id(event) or "")
        if event["type"] == "ChannelHold":
            self.on_hold.add(channel_id(event) or "")
        elif event["type"] == "ChannelUnhold":
            self.on_hold.discard(channel_id(event) or "")
        if event["type"] in GONE and self.phase.kind is not CallPhase.ENDING and \
                channel_id(event) not in self.handed_over:
            gone = channel_id(event)
            if gone == self.caller:
                raise PartyGone(Side.CALLER)
            if gone is not None and gone == self.answered:
                raise PartyGone(Side.CALLEE)
        return event

    async def wait_for(self, kind: str, object_id: str, field: str = "channel",
                       within: float = STEP_SECONDS) -> Event:
        """The event ``kind`` about ``object_id``; other events of the call meanwhile are passed over."""
        deadline = anyio.current_time() + within
        while (remaining := deadline - anyio.current_time()) > 0:
            event = await self.next_event(remaining)
            if event is not None and event["type"] == kind and event.get(field, {}).get("id") == object_id:
                return event
        raise AriError(f"no {kind} for {object_id} within {within:g} s")

    # The whole call

    async def run(self) -> CallRecord:
        """The whole call, from ringing on."""
        self.claim("channel", self.caller)
        return await self._conduct(self._ring_join_talk)

    async def resume(self) -> CallRecord:
        """A call already connected in Asterisk (adopted after a restart): talk on, then end it properly."""
        for channel in (self.caller, self.answered, self.snoop):
            if channel is not None:
                self.claim("channel", channel)
        if self.bridge is not None:
            self.claim("bridge", self.bridge)
        if self.recording is not None:
            self.claim("recording", self.recording.name)
        return await self._conduct(self._talk)

    async def _through(self, phase: Phase) -> None:
        self.phase = phase
        log.debug("call %s: %s", self.record.call_id, phase.kind.value)
        await phase.run()

    async def _ring_join_talk(self) -> None:
        await self._through(self.phase)
        if self.answered is not None:
            await self._through(Joining(self))
            await self._talk_and_transfer(Talking(self))

    async def _talk(self) -> None:
        assert isinstance(self.phase, Talking)
        await self._talk_and_transfer(self.phase)

    async def _talk_and_transfer(self, talking: Talking) -> None:
        """Talking until a party hangs up; a transfer meanwhile, then talking again."""
        while True:
            await self._through(talking)
            if talking.transfer is None:
                return
            transferring = AttendedTransferring if is_attended(talking.transfer) else Transferring
            await self._through(transferring(self, talking.transfer, len(self.record.transfers) + 1))
            talking = Talking(self)

    def pick_up(self, channel: Event, picker: User) -> None:
        """Another user dialled a pickup code for this ringing call: their channel is this call's from now
        on; Ringing connects it (or hands it back, if someone answered first)."""
        self.claim("channel", channel["id"])
        self.inbox.deliver({"type": "PickupRequested", "channel": channel, "picker": picker})

    def hand_over(self, replaced: str, into: str) -> tuple[str, Party, str | None] | None:
        """An attended transfer in call ``into`` replaces this call's ``replaced`` channel (the transferor,
        consulting): the party talking to it moves to that call. Returns its channel, the party (who may
        have heard the notice) and the bridge it is in; None unless this call is talking. This call lets
        go of the party at once and ends (its recording is kept: it was a call of its own)."""
        if not isinstance(self.phase, Talking) or self.answered is None or replaced not in (self.caller,
                                                                                           self.answered):
            return None
        moving = self.answered if replaced == self.caller else self.caller
        self.handed_over.add(moving)
        self.legs.pop(moving, None)
        self.codes.pop(moving, None)
        self.ended_by = EndReason.MERGED
        log.info("call %s: an attended transfer takes %s into call %s", self.record.call_id,
                 self.party[moving].label, into)
        self.inbox.deliver({"type": "HandedOver", "channel": {"id": moving}, "into": into})
        return moving, self.party[moving], self.bridge

    def planned_recording(self) -> Recording | None:
        """The call's recording, made now if the plan records and it has none yet (the plan changed: a
        forwarding, a pickup, a transfer brought a recorded user in)."""
        if self.record.recording is None and self.plan.records:
            organisation_id = self.plan.recorded[0].organisation.id
            self.record.recording = Recording(recording_name(organisation_id, self.record.call_id, self.clock()),
                                              organisation_id, self.record.call_id)
        return self.record.recording

    def forwarded_to(self, label: str, user: User | None) -> None:
        """The callee's forwarding: whoever answers now is the forwarding's destination."""
        self.callee = Party(label, user)

    def new_party(self, channel: str, label: str, user: User | None) -> Party:
        party = self.party[channel] = Party(label, user)
        return party

    async def _conduct(self, steps: Callable[[], Awaitable[None]]) -> CallRecord:
        try:
            await steps()
        except PartyGone as gone:
            self.ended_by = EndReason.CALLER_HUNG_UP if gone.side is Side.CALLER else EndReason.CALLEE_HUNG_UP
            log.info("call %s: the %s hung up", self.record.call_id, gone.side.value)
        except TransferFailed as failed:
            self.ended_by = failed.reason
        except AriError as err:
            self.ended_by = EndReason.FAULT
            log.error("call %s: %s", self.record.call_id, err)
        except Exception:
            # A fault in one call must not end the others: log it, and end this call properly.
            self.ended_by = EndReason.FAULT
            log.exception("call %s: unexpected error", self.record.call_id)
        finally:
            with anyio.CancelScope(shield=True):
                await self._through(Ending(self, after=self.phase.kind))
                self.router.release(self.inbox)
                self.record.ended_at = self.clock()
                self.ledger.call_ended(self.record)
                self.timings.outcomes[outcome_of(self.record, self.ended_by)] += 1
        return self.record

    def live_channels(self) -> list[str]:
        """The call's channels that should still exist in Asterisk."""
        channels = [leg.id for leg in self.legs.values() if not leg.destroyed]
        if self.ended_by not in (EndReason.CALLER_HUNG_UP, EndReason.UNANSWERED) and \
                self.caller not in self.handed_over:
            channels.append(self.caller)
        if self.snoop is not None:
            channels.append(self.snoop)
        channels += [channel for channel in self.departing if channel not in self.gone]
        return channels

    # What the phases share

    def notice_to(self, to: Side) -> Notice | None:
        return next((n for n in self.plan.notices if n.to is to), None)

    async def play(self, channel: str, media: str, name: str, language: str | None = None) -> str:
        playback = self.object_id(name)
        self.claim("playback", playback)
        self.playbacks.append(playback)
        await self.control.play(channel, media, playback, language)
        return playback

    async def back_to_dialplan(self, status: DialStatus) -> None:
        self.record.outcome = status
        for playback in self.playbacks:
            await self.control.stop_playback(playback)
        await self.control.set_variable(self.caller, "ASTERISK_REC_DIALSTATUS", status.value)
        await self.control.continue_in_dialplan(self.caller)
        self.ended_by = EndReason.UNANSWERED
        log.info("call %s: nobody answered (%s): back to the dialplan", self.record.call_id, status.value)

    async def join_bridge(self, channel: str) -> None:
        """Into the call's bridge; a party whose code means something has its digits absorbed (the app
        passes on what is not the code)."""
        assert self.bridge is not None
        absorb = channel in self.codes
        if absorb:
            self.absorbing.add(channel)
        else:
            self.absorbing.discard(channel)
        await self.control.add_to_bridge(self.bridge, channel, absorb_dtmf=absorb)

    def watch_codes(self) -> None:
        """A code matcher for the channel of each party whose code means something."""
        assert self.answered is not None
        channels = {Side.CALLER: self.caller, Side.CALLEE: self.answered}
        for side, user in self.plan.code_users:
            matcher = CodeMatcher(user.organisation.feature_code, self.settings.feature_code_digit_seconds)
            self.codes[channels[side]] = (matcher, user)

    # The recording

    async def start_recording(self, recording: Recording, append: bool = False) -> None:
        """Snoops the caller (both directions) and records the snoop, or records the bridge; returns once
        the recording runs (or did not start: the call goes on unrecorded). ``append``: after a transfer,
        the same file goes on."""
        self.record.recording = recording
        self.claim("recording", recording.name)
        recording.start(self.clock())
        if not append:
            await self.ledger.recording_starting(recording.name, recording.call_id, recording.organisation_id,
                                                 self.owners, self.clock())
        if self.settings.recording_method == "bridge":
            assert self.bridge is not None
            await self.control.record_bridge(self.bridge, recording.name, self.settings.recording_format, append)
        else:
            self.snoop = self.object_id(f"snoop{len(self.record.transfers) or ''}")
            self.claim("channel", self.snoop)
            await self.control.snoop(self.caller, self.snoop)
            # Like a leg, the snoop takes commands once it is in the app.
            await self.wait_for("StasisStart", self.snoop)
            await self.control.record(self.snoop, recording.name, self.settings.recording_format, append)
        deadline = anyio.current_time() + STEP_SECONDS
        while (remaining := deadline - anyio.current_time()) > 0:
            event = await self.next_event(remaining)
            if event is None or event.get("recording", {}).get("name") != recording.name:
                continue
            if event["type"] == "RecordingStarted":
                await self.control.set_variable(self.caller, RECORDING_VARIABLE, recording.name)
                recording.started(self.clock())
                self.ledger.parts_changed(recording)
                return
            if event["type"] == "RecordingFailed":
                break
        recording.failed()
        # The call goes on unrecorded rather than not at all; this is an alarm for the operator.
        log.error("call %s: recording %s did not start: the call is not recorded", self.record.call_id,
                  recording.name)

    async def suspend_recording(self) -> None:
        """A transfer begins: the recording so far is closed (its snoop taps a party that may leave); it
        goes on, appended to, once the parties after the transfer meet."""
        recording = self.recording
        if recording is None or not recording.suspend(self.clock()):
            return
        self.ledger.parts_changed(recording)
        await self.control.stop_recording(recording.name)
        if self.snoop is not None:
            await self.control.hangup(self.snoop)
            self.snoop = None

    async def apply(self, change: Change | None) -> None:
        """Gives Asterisk the command for a transition of the recording."""
        recording = self.recording
        if change is None or recording is None:
            return
        if change is Change.PAUSE:
            await self.control.pause_recording(recording.name)
        else:
            await self.control.unpause_recording(recording.name)
        self.ledger.parts_changed(recording)
