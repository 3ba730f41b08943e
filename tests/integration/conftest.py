"""Integration tests run against the lab (``asterisk-rec lab up``, as root). Without it they fail; they never
skip, so a CI run without a lab is red."""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from pathlib import Path

import anyio
import httpx
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import Envelope

from asterisk_rec.accounts.store import AccountStore
from asterisk_rec.adapters.ami import AmiConnection
from asterisk_rec.adapters.ari import AriRest
from asterisk_rec.adapters.db import Database
from asterisk_rec.config import Settings, load_settings
from asterisk_rec.directory.models import SCOPE_SWITCHES
from asterisk_rec.directory.store import DirectoryStore
from asterisk_rec.errors import Conflict
from asterisk_rec.lab import LabSettings
from asterisk_rec.lab.directory import LAB_ORGANISATION
from tests.integration.calls import Records, assert_nothing_left


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(pytest.mark.integration)
    # Restarting the lab comes last, so it disturbs no other test.
    items.sort(key=lambda item: item.get_closest_marker("restarts_lab") is not None)


PORTAL_PORT = 18080
MAX_EXPORTS = 3


@pytest.fixture(scope="session")
def lab_env_file() -> Path:
    path = Path(os.environ.get("ASTERISK_REC_ENV_FILE") or LabSettings.from_environment().env_file)
    if not path.is_file():
        pytest.fail(f"the lab is not up (no {path}): run `asterisk-rec lab up` as root, or `./run test`")
    return path


@pytest.fixture(scope="session")
def settings(lab_env_file: Path) -> Settings:
    settings = load_settings(config_file=None, env_file=lab_env_file, environ={})
    try:
        httpx.get(settings.ari.url + "ari/asterisk/ping", timeout=3,
                  auth=(settings.ari.user, settings.ari.password.reveal())).raise_for_status()
    except httpx.HTTPError as err:
        pytest.fail(f"the lab's Asterisk does not answer at {settings.ari.url} ({err}):"
                    " run `asterisk-rec lab up` as root")
    return settings


class ServiceProcess:
    """`asterisk-rec serve` on the lab, started and stopped by the tests (fail-mode tests stop it)."""

    def __init__(self, command: list[str], log: Path) -> None:
        self.command = command
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None
        self.offset = 0

    def start(self, *settings: str, ready: str = "asterisk-rec is running") -> None:
        """Starts it, with ``section.key=value`` settings beyond the fixture's, and waits until it logs
        ``ready``."""
        # In characters, as wait_for_log and the tests slice the log's text (a byte count is not one once
        # the log holds a character beyond ASCII).
        offset = len(self.log.read_text()) if self.log.exists() else 0
        # What this start writes: wait_for_log looks from here unless told where.
        self.offset = offset
        extra = [arg for setting in settings for arg in ("--set", setting)]
        command = [*self.command[:-1], *extra, self.command[-1]]
        with self.log.open("a") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while ready not in self.log.read_text()[offset:]:
            if self.process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the service did not start:\n{self.log.read_text()[offset:][-3000:]}")
            time.sleep(0.1)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(15)
        self.process = None

    def kill(self) -> None:
        """SIGKILL: no clean-up of any kind, as in a crash."""
        if self.process is not None:
            self.process.kill()
            self.process.wait(15)
        self.process = None

    def log_size(self) -> int:
        return len(self.log.read_text()) if self.log.exists() else 0

    def wait_for_log(self, text: str, within: float = 20, after: int | None = None) -> None:
        """Waits for ``text`` in what the service logged after ``after`` (by default: since it last
        started), so an earlier line cannot satisfy it."""
        start = self.offset if after is None else after
        deadline = time.monotonic() + within
        while text not in self.log.read_text()[start:]:
            if time.monotonic() > deadline:
                pytest.fail(f"the service never logged {text!r}:\n{self.log.read_text()[start:][-2000:]}")
            time.sleep(0.05)


@contextlib.asynccontextmanager
async def dutch_admin(settings: Settings) -> AsyncIterator[str]:
    """Another admin of the lab organisation, who reads Dutch, for the block's time."""
    email = f"beheer-{uuid.uuid4().hex[:8]}@portal.example"
    async with Database(settings.database, max_size=1) as db:
        await AccountStore(db).add(LAB_ORGANISATION, email, "Beheerder", "admin", PASSWORD, None, "nl")
        try:
            yield email
        finally:
            async with db.pool.connection() as conn:
                await conn.execute("DELETE FROM accounts WHERE email = %s", (email,))



SMTP_PORT = 10025


class Mailbox:
    """What a real SMTP server on loopback (aiosmtpd) received."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: object, session: object, envelope: Envelope) -> str:
        content = envelope.content if isinstance(envelope.content, bytes) else str(envelope.content).encode()
        self.messages.append(message_from_bytes(content, policy=default))
        return "250 OK"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if m["To"] == address]

    def subjects(self, address: str) -> list[str]:
        """As a mail client shows them (a long one is folded onto its own line, after a space)."""
        return [str(m["Subject"]).strip() for m in self.to(address)]


@pytest.fixture(scope="session")
def mailbox() -> Iterator[Mailbox]:
    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=SMTP_PORT)
    controller.start()
    try:
        yield box
    finally:
        controller.stop()


EXPORTS_DISK_BYTES = 16 * 1024 * 1024


@pytest.fixture(scope="session")
def exports_root(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Where the service builds bulk downloads: a small filesystem of its own (tmpfs), so a test can fill it."""
    root = tmp_path_factory.mktemp("exports")
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={EXPORTS_DISK_BYTES},mode=0755", "asterisk-rec-exports",
                    str(root)], check=True, timeout=10)
    try:
        yield root
    finally:
        subprocess.run(["umount", "--lazy", str(root)], check=False, timeout=10)


@pytest.fixture(scope="session")
def service(settings: Settings, lab_env_file: Path, mailbox: Mailbox, exports_root: Path,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    """The service itself on the lab, with the lab's directory seeded and short ring times so no-answer
    cases stay quick. (`./run test` stops the demo's service first: one app instance at a time.)"""
    command = [sys.executable, "-m", "asterisk_rec", "--env-file", str(lab_env_file)]
    workdir = tmp_path_factory.mktemp("service")
    seeded = subprocess.run([*command, "lab", "seed"], capture_output=True, text=True, timeout=60, check=False)
    assert seeded.returncode == 0, seeded.stderr
    process = ServiceProcess(
        [*command, "--set", "calls.ring_seconds=8", "--set", "calls.mobile_ring_seconds=6",
         # Faults are retried sooner than in production, so the fault tests stay short.
         "--set", "archive.sweep_seconds=2", "--set", "archive.retry_max_seconds=5",
         "--set", f"web.port={PORTAL_PORT}", "--set", f"mail.port={SMTP_PORT}",
         # Bulk downloads: built quickly, split small (so several ZIPs), and purged only when a test asks.
         "--set", f"export.root={exports_root}", "--set", "export.split_bytes=150000",
         "--set", "export.poll_seconds=0.5", "--set", f"export.portal_url=http://127.0.0.1:{PORTAL_PORT}",
         # The export disk is a small tmpfs: the tests fill it themselves, and bound exports per organisation.
         "--set", "export.min_free_mb=0", "--set", f"export.max_per_organisation={MAX_EXPORTS}",
         # Every test's client is 127.0.0.1, and the fuzz fails logins by the hundred: per address is unit-tested.
         "--set", "web.login_failures_per_address=100000",
         "--set", "retention.purge_every_hours=0", "--set", f"service.journal={workdir / 'journal.sqlite3'}",
         # The completeness tests find their exceptions in the log soon after the call.
         "--set", "completeness.check_every_seconds=2", "--set", "alarms.quiet_minutes=0.5",
         "serve"],
        workdir / "service.log")
    process.start()
    if "while the app was away" in process.log.read_text():
        # An earlier run left calls in the lab, which the service just ended: Asterisk retransmits their
        # BYEs for up to 32 s, and a phone started now would take one for its own call.
        time.sleep(35)
    try:
        yield process
    finally:
        process.stop()


SetModes = Callable[..., Awaitable[None]]
OTHER_ORGANISATION = "portal-other"
PASSWORD = "correct horse battery staple"


@dataclass(frozen=True)
class Login:
    email: str
    password: str
    token: str


@dataclass(frozen=True)
class Portal:
    """The running service's portal, and accounts on it: the lab organisation's admin, a plain user (Bob,
    202) and the admin of another organisation."""

    url: str
    admin: Login
    bob: Login
    other_admin: Login

    def api(self, login: Login) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.url, headers={"Authorization": f"Bearer {login.token}"}, timeout=10)

    @contextlib.asynccontextmanager
    async def session(self, login: Login) -> AsyncIterator[httpx.AsyncClient]:
        """A client logged in to the portal through its form (session cookie, CSRF token)."""
        async with httpx.AsyncClient(base_url=self.url, timeout=30) as client:
            form = await client.get("/login")
            token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
            assert token is not None, form.text
            answer = await client.post("/login", data={"csrf_token": token[1], "email": login.email,
                                                       "password": login.password})
            assert answer.status_code == 303, answer.text
            yield client


@pytest.fixture(scope="session")
async def portal(settings: Settings, service: ServiceProcess) -> AsyncIterator[Portal]:
    run = uuid.uuid4().hex[:8]
    async with Database(settings.database, max_size=2) as db:
        directory, accounts = DirectoryStore(db), AccountStore(db)
        with contextlib.suppress(Conflict):
            await directory.add_organisation(OTHER_ORGANISATION, language="en")

        async def login(org: str, name: str, role: str, extension: str | None = None) -> Login:
            email = f"{name}-{run}@portal.example"
            await accounts.add(org, email, name, role, PASSWORD, extension, "en")
            return Login(email, PASSWORD, await accounts.issue_token(email, "tests"))

        made = Portal(f"http://127.0.0.1:{PORTAL_PORT}", await login(LAB_ORGANISATION, "admin", "admin"),
                      await login(LAB_ORGANISATION, "bob", "user", "202"),
                      await login(OTHER_ORGANISATION, "other", "admin"))
    try:
        yield made
    finally:
        # A connection of its own: the lab (PostgreSQL with it) may have been restarted meanwhile.
        async with Database(settings.database, max_size=1) as db, db.pool.connection() as conn:
            await conn.execute("DELETE FROM accounts WHERE email LIKE %s", (f"%-{run}@portal.example",))


@pytest.fixture
async def set_modes(settings: Settings, service: ServiceProcess) -> AsyncIterator[SetModes]:
    """Sets the lab users' recording modes for one test, e.g. ``await set_modes(alice="always")``, every
    call of theirs recorded unless ``scopes`` switches some off, e.g. ``scopes={"alice": {"internal":
    False}}``. After the test, all off and every call recorded again."""
    extensions = {"alice": "201", "bob": "202", "carol": "203", "dave": "204"}

    async def apply(scopes: dict[str, dict[str, bool]] | None = None, **modes: str) -> None:
        # A connection of its own each time: the lab (PostgreSQL with it) may have been restarted meanwhile.
        async with Database(settings.database, max_size=1) as db:
            store = DirectoryStore(db)
            for name, extension in extensions.items():
                switches = dict.fromkeys(SCOPE_SWITCHES, True) | (scopes or {}).get(name, {})
                await store.set_recording(LAB_ORGANISATION, extension, modes.get(name, "off"), **switches)

    yield apply
    await apply()


@pytest.fixture
async def records(settings: Settings, service: ServiceProcess) -> AsyncIterator[Records]:
    """Call rows and archived recordings, as the running service wrote them."""
    async with Database(settings.database, max_size=2) as db:
        yield Records(db, Path(settings.archive.root))


class AmiEvents:
    """UserEvents raised by the dialplan (the lab's fallback, the app-down alarm), as AMI delivers them."""

    def __init__(self) -> None:
        self.events: list[dict[str, str]] = []

    def __call__(self, _manager: object, event: dict[str, str]) -> None:
        self.events.append(dict(event))

    def named(self, name: str) -> list[dict[str, str]]:
        return [event for event in self.events if event.get("UserEvent") == name]

    async def wait_for(self, name: str, within: float = 10) -> dict[str, str]:
        with anyio.fail_after(within):
            while not (events := self.named(name)):  # noqa: ASYNC110 (filled by panoramisk's callback)
                await anyio.sleep(0.1)
        return events[0]


@pytest.fixture
async def ami_events(settings: Settings) -> AsyncIterator[AmiEvents]:
    events = AmiEvents()
    async with AmiConnection(settings.ami) as ami:
        ami.on_event("UserEvent", events)
        yield events


@pytest.fixture
async def ari(settings: Settings, service: ServiceProcess) -> AsyncIterator[AriRest]:
    """ARI's REST API, with nothing left in Asterisk before the test and after it."""
    async with AriRest(settings.ari) as rest:
        await assert_nothing_left(rest)
        yield rest
        await assert_nothing_left(rest)


DirectoryChange = Callable[[Callable[[DirectoryStore], Awaitable[object]]], Awaitable[None]]


@pytest.fixture
def directory_change(settings: Settings, service: ServiceProcess) -> DirectoryChange:
    """Makes a change to the directory and waits until the service has loaded it."""
    async def change(make: Callable[[DirectoryStore], Awaitable[object]]) -> None:
        offset = service.log_size()
        async with Database(settings.database, max_size=1) as db:
            await make(DirectoryStore(db))
        service.wait_for_log("directory loaded", within=10, after=offset)

    return change

