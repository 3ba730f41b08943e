"""``asterisk-rec org|user|device|recording ...``: the directory from the command line."""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from asterisk_rec.adapters.db import Database
from asterisk_rec.config import Settings
from asterisk_rec.directory.models import ALL_CALLS, SCOPE_SWITCHES, ForwardWhen, Organisation, User
from asterisk_rec.directory.store import DirectoryStore
from asterisk_rec.errors import InvalidInput
from asterisk_rec.store.migrate import migrate

Handler = Callable[[DirectoryStore, argparse.Namespace], Awaitable[list[str]]]


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    org = commands.add_parser("org", help="organisations").add_subparsers(dest="action", required=True)
    p = org.add_parser("add", help="add an organisation")
    p.add_argument("name")
    p.add_argument("--time-zone", default="Europe/Amsterdam")
    p.add_argument("--language", default="nl", help="nl or en: the notice's language for its users")
    p.add_argument("--fail-mode", default="open",
                   help="when the app is down: open (connect unrecorded, alarm) or closed (refuse the call)")
    p = org.add_parser("set", help="change an organisation's settings")
    p.add_argument("name")
    p.add_argument("--time-zone")
    p.add_argument("--language")
    p.add_argument("--fail-mode")
    p.add_argument("--archive-format", help="wav, flac, opus or mp3: the format of new archived recordings")
    p.add_argument("--feature-code", help="what on-demand users dial during a call to switch recording (*1)")
    p.add_argument("--pickup-code", help="what a user dials to answer a ringing call of their pickup group (*8)")
    p.add_argument("--directed-pickup-prefix",
                   help="dialled before an extension to answer that user's ringing call (**)")
    org.add_parser("list", help="list organisations")

    user = commands.add_parser("user", help="users").add_subparsers(dest="action", required=True)
    p = user.add_parser("add", help="add a user")
    p.add_argument("org")
    p.add_argument("extension")
    p.add_argument("name")
    p.add_argument("--email")
    p.add_argument("--language", help="nl or en (default: the organisation's)")
    p = user.add_parser("remove", help="remove a user (and so their recording)")
    p.add_argument("org")
    p.add_argument("extension")
    p = user.add_parser("list", help="list an organisation's users with devices and recording mode")
    p.add_argument("org")

    device = commands.add_parser("device", help="users' devices").add_subparsers(dest="action", required=True)
    p = device.add_parser("add", help="add a desk phone or app (PJSIP endpoint) or a mobile (E.164 number)")
    p.add_argument("org")
    p.add_argument("extension")
    p.add_argument("kind", help="desk, app or mobile")
    p.add_argument("address", help="the PJSIP endpoint, or the mobile's number (+31612345678)")
    p = device.add_parser("remove", help="remove a device")
    p.add_argument("org")
    p.add_argument("extension")
    p.add_argument("address")

    recording = commands.add_parser("recording", help="who is recorded").add_subparsers(dest="action", required=True)
    p = recording.add_parser("set", help="set a user's recording: always, on demand or off, and which calls")
    p.add_argument("org")
    p.add_argument("extension")
    p.add_argument("mode", nargs="?", help="always, on demand or off (default: as it is)")
    for switch, calls in (("incoming", "calls to the user"), ("outgoing", "calls by the user"),
                          ("internal", "calls with a colleague of the organisation"),
                          ("external", "calls with anyone else")):
        p.add_argument(f"--{switch}", action=argparse.BooleanOptionalAction,
                       help=f"record {calls} (default: as it is; a new user: all calls)")
    p = recording.add_parser("list", help="the users with recording on")
    p.add_argument("org")

    forward = commands.add_parser("forward", help="users' call forwarding").add_subparsers(dest="action",
                                                                                          required=True)
    p = forward.add_parser("set", help="forward a user's calls always, when busy, or when unanswered")
    p.add_argument("org")
    p.add_argument("extension")
    for switch, when in (("always", "every call (the user's devices do not ring)"),
                         ("busy", "calls while every device of the user is busy"),
                         ("no-answer", "calls unanswered for --after seconds")):
        p.add_argument(f"--{switch}", metavar="DESTINATION",
                       help=f"an extension or +E.164 number for {when}; \"\" switches it off")
    p.add_argument("--after", type=int, metavar="SECONDS", help="how long the devices ring first (5 to 120)")
    p = forward.add_parser("list", help="the users whose calls are forwarded")
    p.add_argument("org")

    pickup = commands.add_parser("pickup", help="call pickup groups").add_subparsers(dest="action", required=True)
    p = pickup.add_parser("set", help="put a user in a pickup group (\"\": in none)")
    p.add_argument("org")
    p.add_argument("extension")
    p.add_argument("group")
    p = pickup.add_parser("list", help="the users in pickup groups")
    p.add_argument("org")


def describe_user(user: User) -> str:
    devices = ", ".join(f"{d.kind.value} {d.address}" for d in user.devices) or "no devices"
    mode = user.recording_mode.value.replace("_", " ")
    scope = user.recording_scope
    calls = "all calls" if scope == ALL_CALLS else "+".join(scope.switched_on)
    return f"{user.extension}\t{user.name}\t{mode}\t{calls}\t{devices}"


def describe_forwarding(user: User) -> str:
    forwarding = user.forwarding
    rules = [f"{when.value.replace('_', ' ')} -> {forwarding.to(when)}" for when in ForwardWhen
             if forwarding.to(when)]
    if forwarding.no_answer:
        rules[-1] += f" after {forwarding.no_answer_seconds} s"
    return f"{user.extension}\t{user.name}\t{', '.join(rules) or 'off'}"


def describe_organisation(org: Organisation) -> str:
    return (f"{org.name}\t{org.time_zone}\t{org.language}\tfail {org.fail_mode.value}"
            f"\tarchive {org.archive_format.value}\tcode {org.feature_code}"
            f"\tpickup {org.pickup_code} {org.directed_pickup_prefix}<ext>")


async def _org(store: DirectoryStore, a: argparse.Namespace) -> list[str]:
    if a.action == "add":
        return [describe_organisation(await store.add_organisation(a.name, a.time_zone, a.language, a.fail_mode))]
    if a.action == "set":
        org = await store.update_organisation(a.name, time_zone=a.time_zone, language=a.language,
                                              fail_mode=a.fail_mode, archive_format=a.archive_format,
                                              feature_code=a.feature_code, pickup_code=a.pickup_code,
                                              directed_pickup_prefix=a.directed_pickup_prefix)
        return [describe_organisation(org)]
    return [describe_organisation(o) for o in await store.organisations()]


async def _user(store: DirectoryStore, a: argparse.Namespace) -> list[str]:
    if a.action == "add":
        return [describe_user(await store.add_user(a.org, a.extension, a.name, a.email, a.language))]
    if a.action == "remove":
        await store.remove_user(a.org, a.extension)
        return [f"removed {a.extension} from {a.org}"]
    return [describe_user(u) for u in await store.users(a.org)]


async def _device(store: DirectoryStore, a: argparse.Namespace) -> list[str]:
    if a.action == "add":
        return [describe_user(await store.add_device(a.org, a.extension, a.kind, a.address))]
    return [describe_user(await store.remove_device(a.org, a.extension, a.address))]


async def _recording(store: DirectoryStore, a: argparse.Namespace) -> list[str]:
    if a.action == "set":
        switches = {switch: getattr(a, switch) for switch in SCOPE_SWITCHES}
        if a.mode is None and all(value is None for value in switches.values()):
            raise InvalidInput("recording set: give a mode (always, on demand, off) or a switch (--internal, ...)")
        return [describe_user(await store.set_recording(a.org, a.extension, a.mode, **switches))]
    return [describe_user(u) for u in await store.users(a.org) if u.recording_mode.value != "off"]


async def _forward(store: DirectoryStore, a: argparse.Namespace) -> list[str]:
    if a.action == "set":
        if a.always is None and a.busy is None and a.no_answer is None and a.after is None:
            raise InvalidInput("forward set: give --always, --busy, --no-answer or --after")
        return [describe_forwarding(await store.set_forwarding(
            a.org, a.extension, always=a.always, busy=a.busy, no_answer=a.no_answer, no_answer_seconds=a.after))]
    return [describe_forwarding(u) for u in await store.users(a.org) if u.forwarding.is_on]


async def _pickup(store: DirectoryStore, a: argparse.Namespace) -> list[str]:
    if a.action == "set":
        users = [await store.set_pickup_group(a.org, a.extension, a.group)]
    else:
        users = [u for u in await store.users(a.org) if u.pickup_group]
    return [f"{u.extension}\t{u.name}\t{u.pickup_group or 'no group'}" for u in users]


HANDLERS: dict[str, Handler] = {"org": _org, "user": _user, "device": _device, "recording": _recording,
                                "forward": _forward, "pickup": _pickup}


async def run(settings: Settings, args: argparse.Namespace) -> list[str]:
    async with _store(settings) as store:
        return await HANDLERS[args.command](store, args)


@asynccontextmanager
async def _store(settings: Settings) -> AsyncIterator[DirectoryStore]:
    async with Database(settings.database, settings.service.connect_timeout, max_size=2) as db:
        async with db.pool.connection() as connection:
            await migrate(connection)
        yield DirectoryStore(db)
