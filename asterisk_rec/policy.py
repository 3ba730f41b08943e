"""Who is recorded in a call, who hears the notice in which language, which devices ring, and what the
caller is told when none answers. Pure: decisions from directory records, no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from asterisk_rec.directory.models import DeviceKind, Direction, Reach, RecordingMode, User


class Side(StrEnum):
    CALLER = "caller"
    CALLEE = "callee"


class DialStatus(StrEnum):
    """What the dialplan gets back when the app does not connect a call (like Dial()'s DIALSTATUS)."""

    ANSWER = "ANSWER"
    BUSY = "BUSY"
    NOANSWER = "NOANSWER"
    CHANUNAVAIL = "CHANUNAVAIL"
    CANCEL = "CANCEL"
    # The app could not handle the call (its directory unreadable): the dialplan treats it as the app
    # being down and follows the organisation's fail mode.
    APPFAILED = "APPFAILED"


@dataclass(frozen=True)
class DialTarget:
    """One leg of a parallel ring: an Asterisk dial string and how long it may ring."""

    endpoint: str
    kind: DeviceKind | None  # None: a number outside, through the trunk
    ring_seconds: int


@dataclass(frozen=True)
class Notice:
    to: Side
    language: str


@dataclass(frozen=True)
class CallPlan:
    recorded: tuple[User, ...]  # users whose recording is always on: recorded from the start
    on_demand: tuple[User, ...]  # users who may switch recording on during the call
    notices: tuple[Notice, ...]  # who hears the notice before the conversation, in which language
    # The parties whose feature code means something: on-demand users (it switches recording) and
    # always-recorded users (it is refused). The other party's code is just digits.
    code_users: tuple[tuple[Side, User], ...] = ()

    @property
    def records(self) -> bool:
        return bool(self.recorded)

    @property
    def involves_recording(self) -> bool:
        """The app keeps the call: it records now or may record later."""
        return bool(self.recorded or self.on_demand)


def reach_of(caller: User | None, callee: User | None) -> Reach:
    """Internal when both parties are users of one organisation; anything else is external."""
    internal = caller is not None and callee is not None and caller.organisation.id == callee.organisation.id
    return Reach.INTERNAL if internal else Reach.EXTERNAL


def mode_in_call(user: User, direction: Direction, reach: Reach) -> RecordingMode:
    """The user's recording mode for this call: off when the user's recorded calls (by direction and
    reach) leave it out."""
    return user.recording_mode if user.recording_scope.covers(direction, reach) else RecordingMode.OFF


def plan_call(caller: User | None, callee: User | None,
              caller_direction: Direction = Direction.OUTGOING) -> CallPlan:
    """Everyone's mode applies (as far as their recorded calls include this one); the notice goes to the
    other party of each always-recorded user, in that user's language. Two recorded users in one call share
    one recording and both hear the notice. ``caller_direction``: the call as its caller side sees it
    (after a transfer, the party staying may be one who was called: incoming for them too)."""
    reach = reach_of(caller, callee)
    sides = ((Side.CALLER, caller, caller_direction), (Side.CALLEE, callee, Direction.INCOMING))
    parties = tuple((side, user, mode_in_call(user, direction, reach))
                    for side, user, direction in sides if user is not None)
    recorded = tuple(u for _, u, mode in parties if mode is RecordingMode.ALWAYS)
    on_demand = tuple(u for _, u, mode in parties if mode is RecordingMode.ON_DEMAND)
    notices = tuple(Notice(to=Side.CALLEE if side is Side.CALLER else Side.CALLER, language=user.language)
                    for side, user, mode in parties if mode is RecordingMode.ALWAYS)
    code_users = tuple((side, u) for side, u, mode in parties if mode is not RecordingMode.OFF)
    return CallPlan(recorded=recorded, on_demand=on_demand, notices=notices, code_users=code_users)


def plan_forwarded(caller: User | None, callee: User, target: User | None) -> CallPlan:
    """A call to ``callee`` forwarded to ``target`` (a colleague, or a number outside that may be a user's
    mobile): the two who talk are planned as a call, and the callee's own recording follows the call
    wherever it is answered (a recorded desk's calls stay recorded, with the notice to the caller)."""
    plan = plan_call(caller, target)
    if mode_in_call(callee, Direction.INCOMING, reach_of(caller, callee)) is not RecordingMode.ALWAYS or \
            callee in plan.recorded:
        return plan
    notices = plan.notices
    if not any(n.to is Side.CALLER for n in notices):
        notices = (*notices, Notice(to=Side.CALLER, language=callee.language))
    return CallPlan(recorded=(*plan.recorded, callee), on_demand=plan.on_demand, notices=notices,
                    code_users=plan.code_users)


@dataclass(frozen=True)
class Pickup:
    """A pickup code dialled: any ringing call of the picker's group, or (directed) one user's."""

    group: str | None = None
    extension: str | None = None


def pickup_of(number: str, picker: User) -> Pickup | None:
    """What a number a user dialled picks up, if it is one of the organisation's pickup codes."""
    organisation = picker.organisation
    if number == organisation.pickup_code:
        return Pickup(group=picker.pickup_group) if picker.pickup_group else None
    prefix = organisation.directed_pickup_prefix
    rest = number[len(prefix):]
    if number.startswith(prefix) and rest.isascii() and rest.isdigit() and 2 <= len(rest) <= 10:
        return Pickup(extension=rest)
    return None


def may_pick_up(pickup: Pickup, picker: User, callee: User | None) -> bool:
    """A ringing call is the picker's to take: the callee is another user of the picker's organisation, in
    the picker's group (group pickup) or with the extension dialled (directed)."""
    if callee is None or callee.id == picker.id or callee.organisation.id != picker.organisation.id:
        return False
    if pickup.extension is not None:
        return callee.extension == pickup.extension
    return pickup.group is not None and callee.pickup_group == pickup.group


class CodeAction(StrEnum):
    TOGGLE = "toggle"  # on demand: start the recording, or pause it, or resume it
    REFUSE = "refuse"  # someone in the call is always recorded: it cannot be stopped, a short tone says so


def feature_code_action(plan: CallPlan) -> CodeAction:
    return CodeAction.REFUSE if plan.records else CodeAction.TOGGLE


def recording_runs(started: bool, paused_by_user: bool, held: bool) -> bool:
    """Whether the recording runs: started, not paused with the code, and nobody on hold (unhold does not
    resume what the user paused)."""
    return started and not paused_by_user and not held


def dial_targets(user: User, trunk: str, ring_seconds: int, mobile_ring_seconds: int) -> tuple[DialTarget, ...]:
    """Every device of the user rings at once. A mobile rings through the trunk, for less time than the
    carrier waits before its voicemail answers."""
    targets = []
    for device in user.devices:
        if device.kind is DeviceKind.MOBILE:
            targets.append(DialTarget(f"PJSIP/{device.number}@{trunk}", device.kind,
                                      min(ring_seconds, mobile_ring_seconds)))
        else:
            targets.append(DialTarget(f"PJSIP/{device.endpoint}", device.kind, ring_seconds))
    return tuple(targets)


# Q.850 causes a leg can end with, as far as what the caller is told goes.
_BUSY_CAUSES = {17, 21}  # user busy; call rejected (a device that declines)
_NO_ANSWER_CAUSES = {18, 19}  # no user responding; no answer


def leg_status(cause: int, rang: bool) -> DialStatus:
    """How one leg of a parallel ring ended, from its hangup cause and whether it had rung."""
    if cause in _BUSY_CAUSES:
        return DialStatus.BUSY
    if cause in _NO_ANSWER_CAUSES or rang:
        return DialStatus.NOANSWER
    return DialStatus.CHANUNAVAIL


def external_target(number: str, trunk: str, ring_seconds: int) -> DialTarget:
    return DialTarget(f"PJSIP/{number}@{trunk}", None, ring_seconds)


def caller_status(leg_statuses: list[DialStatus]) -> DialStatus:
    """What the caller is told when no leg answered: a device that rang makes it 'no answer'; else any
    busy device makes it 'busy'; else (or with no devices at all) 'unavailable'."""
    if DialStatus.ANSWER in leg_statuses:
        return DialStatus.ANSWER
    if DialStatus.NOANSWER in leg_statuses:
        return DialStatus.NOANSWER
    if DialStatus.BUSY in leg_statuses:
        return DialStatus.BUSY
    return DialStatus.CHANUNAVAIL
