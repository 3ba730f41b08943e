"""Settings, layered: defaults, then the commented TOML file, then an env file (the one provisioning
writes, holding the generated credentials), then the process environment, then ``--set`` flags.

Every setting is ``section.key`` in TOML and ``--set``, and ``ASTERISK_REC_<SECTION>_<KEY>`` in the
environment (section ``database`` is ``DB`` there, as in the provisioned env file).
"""

from __future__ import annotations

import dataclasses
import functools
import os
import re
import tomllib
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from asterisk_rec.errors import ConfigError
from asterisk_rec.logs import LOG_FORMATS
from asterisk_rec.trunks import Trunks

ENV_PREFIX = "ASTERISK_REC_"
ENV_FILE_VARIABLE = "ASTERISK_REC_ENV_FILE"
DEFAULT_CONFIG_FILE = Path("/etc/asterisk-rec/asterisk-rec.toml")
DEFAULT_ENV_FILE = Path("/etc/asterisk-rec/asterisk-rec.env")


class Secret:
    """A value that never shows itself in logs, reprs or tracebacks."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')" if self._value else "Secret('')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True)
class AriSettings:
    url: str = "http://127.0.0.1:8088/"
    user: str = "asterisk-rec"
    password: Secret = field(default_factory=lambda: Secret(""))
    app: str = "asterisk-rec"


@dataclass(frozen=True)
class AmiSettings:
    host: str = "127.0.0.1"
    port: int = 5038
    user: str = "asterisk-rec"
    password: Secret = field(default_factory=lambda: Secret(""))


@dataclass(frozen=True)
class DatabaseSettings:
    host: str = "127.0.0.1"
    port: int = 5432
    name: str = "asterisk_rec"
    user: str = "asterisk_rec"
    password: Secret = field(default_factory=lambda: Secret(""))


@dataclass(frozen=True)
class ServiceSettings:
    log_level: str = "INFO"
    # "text", or "json": one JSON object a line, for a log shipper (each line about a call with its ids).
    log_format: str = "text"
    # How long a start-up connection attempt to Asterisk or PostgreSQL may take before it is reported.
    connect_timeout: float = 5.0
    # The local journal (SQLite, synced): what the app writes down about calls goes here first, then into
    # PostgreSQL, so calls never wait on PostgreSQL. On the service's own disk.
    journal: str = "/var/lib/asterisk-rec/journal.sqlite3"
    # The directory is held in memory, loaded again on every change PostgreSQL announces and this often.
    directory_refresh_seconds: float = 60.0
    # A file to trace ARI into (every event and command, as JSON lines; it holds the parties' numbers):
    # for support and for recording the replay tests' fixtures. Empty: off.
    ari_trace: str = ""
    # The Asterisk node this instance serves (its calls, recordings and lease are the node's).
    node: str = "main"

    def __post_init__(self) -> None:
        if self.log_format not in LOG_FORMATS:
            raise ConfigError(f"service.log_format {self.log_format!r}: expected one of {', '.join(LOG_FORMATS)}")
        if not NODE_NAME.fullmatch(self.node):
            raise ConfigError(f"service.node {self.node!r}: 1 to 63 letters, digits, '.', '_' or '-'")


NODE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}")


@dataclass(frozen=True)
class StandbySettings:
    # Two instances of the service for one Asterisk node, on two machines: a lease in PostgreSQL makes one
    # active; the other waits and takes over when the active one dies or loses PostgreSQL.
    enabled: bool = False
    # How long PostgreSQL grants the lease (the takeover after a crash takes about this long).
    lease_seconds: float = 3.0
    renew_every_seconds: float = 0.5
    # How often a standby asks whether the lease is free.
    poll_every_seconds: float = 0.5

    def __post_init__(self) -> None:
        if not 1 <= self.lease_seconds <= 60:
            raise ConfigError(f"standby.lease_seconds {self.lease_seconds}: between 1 and 60")
        for name in ("renew_every_seconds", "poll_every_seconds"):
            value = getattr(self, name)
            if not 0.05 <= value <= self.lease_seconds / 3:
                raise ConfigError(f"standby.{name} {value}: between 0.05 and a third of standby.lease_seconds")


RECORDING_METHODS = ("snoop", "bridge")
# Who handles a party's REFER: the app (the call stays recorded through it) or Asterisk's core (which takes
# the transferred party out of the app's bridge: the recording ends there).
TRANSFER_HANDLING = ("app", "asterisk")
UNANSWERED_TRANSFERS = ("ring_back", "dialplan")


@dataclass(frozen=True)
class CallSettings:
    # The SIP trunks (PJSIP endpoints, comma-separated): carriers, a mobile operator, another site. Outside
    # numbers and users' mobiles are dialled through the first unless outgoing_trunks says otherwise.
    trunks: str = "trunk"
    # The trunks whose caller ids can be trusted to identify a user's mobile (a carrier that sets them
    # itself); a caller from any other trunk is an outside party, whatever number it shows.
    trusted_trunks: str = ""
    # The trunk an organisation's calls out (and to its users' mobiles) take: "organisation=trunk; ...".
    outgoing_trunks: str = ""
    # The organisations the trunks may send calls to (comma-separated names); empty: any the dialplan names.
    trunk_organisations: str = ""
    ring_seconds: int = 30
    # Below the carriers' usual 20-25 s, so a mobile's voicemail never takes the call.
    mobile_ring_seconds: int = 18
    notice_sound: str = "asterisk-rec/notice"
    recording_format: str = "wav"
    # snoop: record a snoop of the caller (the bridge stays a simple two-party bridge; measured cheaper);
    # bridge: record the bridge itself (Asterisk adds a recorder channel, making it a mixing bridge).
    recording_method: str = "snoop"
    # The time allowed between the digits of the feature code (each organisation sets its code).
    feature_code_digit_seconds: float = 2.0
    # Who handles a party's transfer (SIP REFER): app (the call stays recorded through it; Asterisk
    # 22.3 or later) or asterisk (Asterisk's own handling: the recording ends at the transfer).
    transfers: str = "app"
    # A blind transfer nobody took after the transferor left: ring_back (the transferor's devices ring
    # again) or dialplan (a transferee who called in goes back to the dialplan's fallback, as an
    # unanswered call does, with ASTERISK_REC_DIALSTATUS; any other transferee is rung back).
    unanswered_transfer: str = "ring_back"

    @functools.cached_property
    def trunk_organisation_names(self) -> frozenset[str]:
        return frozenset(name.strip() for name in self.trunk_organisations.split(",") if name.strip())

    @functools.cached_property
    def trunk_plan(self) -> Trunks:
        return Trunks.parse(self.trunks, self.trusted_trunks, self.outgoing_trunks)

    def __post_init__(self) -> None:
        self.trunk_plan  # noqa: B018 (checks the trunks once, when the settings are read)
        if self.transfers not in TRANSFER_HANDLING:
            raise ConfigError(f"calls.transfers {self.transfers!r}: expected one of {', '.join(TRANSFER_HANDLING)}")
        if self.unanswered_transfer not in UNANSWERED_TRANSFERS:
            raise ConfigError(f"calls.unanswered_transfer {self.unanswered_transfer!r}: expected one of "
                              f"{', '.join(UNANSWERED_TRANSFERS)}")
        if self.recording_method not in RECORDING_METHODS:
            raise ConfigError(f"calls.recording_method {self.recording_method!r}: expected one of "
                              f"{', '.join(RECORDING_METHODS)}")


@dataclass(frozen=True)
class ArchiveSettings:
    # Where archived recordings live: <root>/<organisation>/<YYYY>/<MM>/<DD>/<call id>.<format>.
    root: str = "/var/lib/asterisk-rec/archive"
    # Fetches and conversions at once (each conversion is an ffmpeg process: about one core).
    workers: int = 2
    # How often Asterisk's stored recordings are checked for any not archived yet (missed or failed).
    sweep_seconds: float = 10.0
    # A failed fetch or store is tried again after 1, 2, 4 ... seconds, at most this long apart.
    retry_max_seconds: float = 60.0
    # Asterisk's recording spool (astspooldir/recording) as this host sees it, when the service runs
    # beside Asterisk: recordings are copied from there, not fetched over ARI's HTTP. Empty: over HTTP.
    spool_dir: str = ""

    def __post_init__(self) -> None:
        if self.workers < 1:
            raise ConfigError(f"archive.workers {self.workers}: at least 1")


@dataclass(frozen=True)
class CdrSettings:
    # Asterisk's cdr_custom file (asterisk-rec.csv), if this host can read it: CDRs sent while the AMI
    # connection was down are recovered from it. Empty: no recovery from the file.
    csv_path: str = ""
    # Asterisk writes CDR times in its local time zone.
    time_zone: str = "UTC"
    # How often the file is read for CDRs beyond those received over AMI (also at every AMI login).
    csv_every_seconds: float = 60.0

    def __post_init__(self) -> None:
        try:
            ZoneInfo(self.time_zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError(f"cdr.time_zone {self.time_zone!r}: not a time zone like Europe/Amsterdam") from None


@dataclass(frozen=True)
class WebSettings:
    # The portal and the API. `asterisk-rec serve` runs them beside the call service unless enabled is
    # false; `asterisk-rec web` runs them alone (more of them behind a load balancer, if need be).
    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = 8080
    # Signs the session cookies. Empty: one is made at first start and kept in the database, so that
    # every web process shares it and sessions outlive restarts.
    secret_key: Secret = field(default_factory=lambda: Secret(""))
    # Send the session cookie over HTTPS only (set this behind a TLS proxy).
    secure_cookies: bool = False
    session_hours: float = 12.0
    # Rows per page in Reports > Calls (the API's page_size may ask for up to 200).
    page_size: int = 25
    # Logins are refused for a while after this many failures of one account, or from one address, within
    # login_window_minutes (counted per web process).
    login_failures_per_account: int = 5
    login_failures_per_address: int = 20
    login_window_minutes: float = 15.0
    # Asked as a bearer token by /metrics; empty: /metrics is open to whoever reaches the portal's address.
    metrics_token: Secret = field(default_factory=lambda: Secret(""))

    def __post_init__(self) -> None:
        if not 1 <= self.port <= 65535:
            raise ConfigError(f"web.port {self.port}: not a port number")
        if min(self.login_failures_per_account, self.login_failures_per_address) < 1 or self.login_window_minutes <= 0:
            raise ConfigError("web.login_failures_per_account, _per_address: at least 1; web.login_window_minutes:"
                              " more than 0")
        if not 1 <= self.page_size <= 200:
            raise ConfigError(f"web.page_size {self.page_size}: between 1 and 200")


@dataclass(frozen=True)
class RetentionSettings:
    # The periods an organisation may choose, in days, each with its price per recorded user per month:
    # "days:price, ..." (MiFID II firms keep 5 or 7 years: 1825 and 2555 days).
    periods: str = "30:1.50, 90:2.50, 180:3.50, 365:5.00, 1825:9.00, 2555:11.00"
    currency: str = "EUR"
    # How often the service purges recordings past their period; 0: never (`asterisk-rec purge`, run by
    # the systemd timer, does it).
    purge_every_hours: float = 24.0

    def __post_init__(self) -> None:
        self.offered  # noqa: B018 (checks the list once, when the settings are read)

    @property
    def offered(self) -> dict[int, float]:
        """Days -> price per recorded user per month."""
        offered: dict[int, float] = {}
        for item in self.periods.split(","):
            days, sep, price = item.strip().partition(":")
            try:
                if not sep or int(days) < 1 or float(price) < 0:
                    raise ValueError
                offered[int(days)] = float(price)
            except ValueError:
                raise ConfigError(f"retention.periods: {item.strip()!r} is not days:price, e.g. 90:2.50") from None
        return dict(sorted(offered.items()))


@dataclass(frozen=True)
class MailSettings:
    # The SMTP server the service sends its e-mail through (bulk download links).
    host: str = "127.0.0.1"
    port: int = 25
    starttls: bool = False
    user: str = ""
    password: Secret = field(default_factory=lambda: Secret(""))
    sender: str = "asterisk-rec@localhost"
    timeout_seconds: float = 30.0


@dataclass(frozen=True)
class ExportSettings:
    # Where bulk downloads (ZIP files) are built and kept until their links expire.
    root: str = "/var/lib/asterisk-rec/exports"
    # A ZIP file is closed when the next recording would take it past this size (bytes).
    split_bytes: int = 1024 * 1024 * 1024
    # How long a download link works; the files are removed when it expires.
    link_days: float = 7.0
    # The portal's address as the e-mail's reader reaches it (the links point there).
    portal_url: str = "http://127.0.0.1:8080"
    # How often the service looks for new export requests and expired exports.
    poll_seconds: float = 2.0
    # An organisation may have at most this many exports waiting, being built or kept (until they expire).
    max_per_organisation: int = 5
    # A build does not start if it would leave less than this free on the export disk (MiB), which the
    # archive may share: one organisation's export must not fill every organisation's disk.
    min_free_mb: int = 1024

    def __post_init__(self) -> None:
        if self.split_bytes < 1024:
            raise ConfigError(f"export.split_bytes {self.split_bytes}: at least 1024")
        if self.max_per_organisation < 1:
            raise ConfigError(f"export.max_per_organisation {self.max_per_organisation}: at least 1")
        if self.min_free_mb < 0:
            raise ConfigError(f"export.min_free_mb {self.min_free_mb}: not below 0")


@dataclass(frozen=True)
class CompletenessSettings:
    # A stored file may be this much shorter than the talk it had to hold (the recording starts a few
    # milliseconds after the parties meet and stops as the first of them hangs up).
    tolerance_seconds: float = 2.0
    # How long a finished call's file may take to reach the archive before it is an exception.
    store_within_seconds: float = 600.0
    # How often the service judges the calls that ended (0: never; the report still judges on demand).
    check_every_seconds: float = 30.0

    def __post_init__(self) -> None:
        for name in ("tolerance_seconds", "store_within_seconds", "check_every_seconds"):
            value = getattr(self, name)
            if not 0 <= value <= 86400 * 7:
                raise ConfigError(f"completeness.{name} {value}: between 0 and 604800")


@dataclass(frozen=True)
class AlarmSettings:
    # How often the service looks at its alarms' conditions (0: never).
    check_every_seconds: float = 5.0
    # ARI or AMI lost, the archive failing: an alarm once it lasts this long.
    lost_after_seconds: float = 10.0
    # Calls without the app, completeness exceptions: the incident lasts until none for this long.
    quiet_minutes: float = 15.0
    # While an incident lasts, its admins are reminded this often.
    remind_every_minutes: float = 60.0
    # The spool's or the archive's disk used beyond this (percent): an alarm.
    disk_percent: float = 90.0
    # The portal's address in the e-mails.
    portal_url: str = "http://127.0.0.1:8080"

    def __post_init__(self) -> None:
        for name, low, high in (("check_every_seconds", 0, 3600), ("lost_after_seconds", 0, 3600),
                                ("quiet_minutes", 0, 1440), ("remind_every_minutes", 1, 10080),
                                ("disk_percent", 1, 100)):
            value = getattr(self, name)
            if not low <= value <= high:
                raise ConfigError(f"alarms.{name} {value}: between {low} and {high}")


@dataclass(frozen=True)
class Settings:
    ari: AriSettings = field(default_factory=AriSettings)
    ami: AmiSettings = field(default_factory=AmiSettings)
    database: DatabaseSettings = field(default_factory=DatabaseSettings)
    service: ServiceSettings = field(default_factory=ServiceSettings)
    calls: CallSettings = field(default_factory=CallSettings)
    archive: ArchiveSettings = field(default_factory=ArchiveSettings)
    cdr: CdrSettings = field(default_factory=CdrSettings)
    web: WebSettings = field(default_factory=WebSettings)
    retention: RetentionSettings = field(default_factory=RetentionSettings)
    mail: MailSettings = field(default_factory=MailSettings)
    export: ExportSettings = field(default_factory=ExportSettings)
    completeness: CompletenessSettings = field(default_factory=CompletenessSettings)
    alarms: AlarmSettings = field(default_factory=AlarmSettings)
    standby: StandbySettings = field(default_factory=StandbySettings)


ENV_SECTION_NAMES = {"database": "DB"}


def env_name(section: str, key: str) -> str:
    return f"{ENV_PREFIX}{ENV_SECTION_NAMES.get(section, section.upper())}_{key.upper()}"


def _convert(value: Any, to: Any, where: str) -> Any:
    if to is Secret:
        return value if isinstance(value, Secret) else Secret(str(value))
    if to is bool:
        if isinstance(value, bool):
            return value
        if str(value).lower() in ("true", "yes", "1", "on"):
            return True
        if str(value).lower() in ("false", "no", "0", "off"):
            return False
        raise ConfigError(f"{where}: expected true or false, got {value!r}")
    if to is int:
        try:
            return int(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{where}: expected a whole number, got {value!r}") from None
    if to is float:
        try:
            return float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{where}: expected a number, got {value!r}") from None
    if not isinstance(value, str):
        raise ConfigError(f"{where}: expected text, got {value!r}")
    return value


SECTIONS: dict[str, type] = {
    "ari": AriSettings,
    "ami": AmiSettings,
    "database": DatabaseSettings,
    "service": ServiceSettings,
    "calls": CallSettings,
    "archive": ArchiveSettings,
    "cdr": CdrSettings,
    "web": WebSettings,
    "retention": RetentionSettings,
    "mail": MailSettings,
    "export": ExportSettings,
    "completeness": CompletenessSettings,
    "alarms": AlarmSettings,
    "standby": StandbySettings,
}


def _section_types(section: str) -> dict[str, Any]:
    cls = SECTIONS.get(section)
    if cls is None:
        raise ConfigError(f"unknown section {section!r} (known: {', '.join(SECTIONS)})")
    return typing.get_type_hints(cls)


def _apply(settings: Settings, section: str, key: str, value: Any, where: str) -> Settings:
    types = _section_types(section)
    if key not in types:
        raise ConfigError(f"{where}: unknown setting {section}.{key} (known: {', '.join(types)})")
    current = getattr(settings, section)
    updated = dataclasses.replace(current, **{key: _convert(value, types[key], where)})
    return dataclasses.replace(settings, **{section: updated})


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines, as systemd's EnvironmentFile reads them (comments and blank lines skipped)."""
    values: dict[str, str] = {}
    try:
        lines = path.read_text().splitlines()
    except OSError as err:
        raise ConfigError(f"cannot read env file {path}: {err.strerror}") from None
    for number, raw in enumerate(lines, 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise ConfigError(f"{path}:{number}: expected KEY=VALUE")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key.strip()] = value
    return values


def _from_environment(settings: Settings, environ: Mapping[str, str], where: str) -> Settings:
    for section in SECTIONS:
        for key in _section_types(section):
            name = env_name(section, key)
            if name in environ:
                settings = _apply(settings, section, key, environ[name], f"{where} {name}")
    return settings


def _from_toml(settings: Settings, path: Path) -> Settings:
    try:
        with path.open("rb") as f:
            data = tomllib.load(f)
    except OSError as err:
        raise ConfigError(f"cannot read config file {path}: {err.strerror}") from None
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"config file {path} is not valid TOML: {err}") from None
    for section, values in data.items():
        if not isinstance(values, dict):
            raise ConfigError(f"{path}: {section!r} must be a [section]")
        for key, value in values.items():
            settings = _apply(settings, section, key, value, str(path))
    return settings


def parse_assignment(text: str) -> tuple[str, str, str]:
    name, sep, value = text.partition("=")
    section, dot, key = name.strip().partition(".")
    if not sep or not dot:
        raise ConfigError(f"--set {text!r}: expected section.key=value, e.g. ari.url=http://127.0.0.1:8088/")
    return section, key, value


def load_settings(
    config_file: Path | None = None,
    env_file: Path | None = None,
    overrides: Iterable[str] = (),
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Build the settings from every layer. A file named explicitly must exist; the default ones may not."""
    environ = os.environ if environ is None else environ
    settings = Settings()
    if config_file is not None:
        settings = _from_toml(settings, config_file)
    elif DEFAULT_CONFIG_FILE.exists():
        settings = _from_toml(settings, DEFAULT_CONFIG_FILE)

    if env_file is None and environ.get(ENV_FILE_VARIABLE):
        env_file = Path(environ[ENV_FILE_VARIABLE])
    if env_file is not None:
        settings = _from_environment(settings, read_env_file(env_file), str(env_file))
    elif DEFAULT_ENV_FILE.exists() and os.access(DEFAULT_ENV_FILE, os.R_OK):
        settings = _from_environment(settings, read_env_file(DEFAULT_ENV_FILE), str(DEFAULT_ENV_FILE))

    settings = _from_environment(settings, environ, "environment")
    for text in overrides:
        section, key, value = parse_assignment(text)
        settings = _apply(settings, section, key, value, f"--set {section}.{key}")
    return settings
