"""The ``asterisk-rec`` command."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Coroutine, Sequence
from pathlib import Path
from typing import Any

from asterisk_rec import __version__
from asterisk_rec.archive import cli as archive_cli
from asterisk_rec.completeness import cli as completeness_cli
from asterisk_rec.config import Settings, load_settings
from asterisk_rec.directory import cli as directory_cli
from asterisk_rec.errors import AsteriskRecError
from asterisk_rec.lab.directory import seed_lab
from asterisk_rec.logs import LOG_FORMATS, setup_logging
from asterisk_rec.retention import cli as retention_cli
from asterisk_rec.web import cli as web_cli

log = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="asterisk-rec", description="Call recording for Asterisk.")
    parser.add_argument("--version", action="version", version=f"asterisk-rec {__version__}")
    parser.add_argument("--config", type=Path, help="TOML config file (default /etc/asterisk-rec/asterisk-rec.toml)")
    parser.add_argument("--env-file", type=Path,
                        help="KEY=VALUE file with credentials (default $ASTERISK_REC_ENV_FILE, "
                             "then /etc/asterisk-rec/asterisk-rec.env)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE",
                        help="override one setting, e.g. --set ari.url=http://127.0.0.1:8088/")
    parser.add_argument("--log-level", help="DEBUG, INFO, WARNING or ERROR (default from service.log_level)")
    parser.add_argument("--log-format", choices=LOG_FORMATS, help="text or json (default from service.log_format)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser("serve", help="run the service: the Stasis app, the archive, the CDR listener, the portal")
    commands.add_parser("check", help="connect to ARI, AMI and PostgreSQL once and report")
    lab = commands.add_parser("lab", help="the Asterisk + PostgreSQL lab (needs root)")
    lab.add_argument("action", choices=["up", "down", "status", "shell", "seed"],
                     help="seed: put the lab's organisation and users in the directory (no root needed)")
    directory_cli.add_commands(commands)
    archive_cli.add_commands(commands)
    web_cli.add_commands(commands)
    retention_cli.add_commands(commands)
    completeness_cli.add_commands(commands)
    return parser




def _run_async(coroutine: Coroutine[Any, Any, Any]) -> Any:
    """Runs until done, or until SIGTERM/SIGINT, which cancel it cleanly."""

    async def main() -> Any:
        task = asyncio.create_task(coroutine)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, task.cancel)
        try:
            return await task
        except asyncio.CancelledError:
            log.info("stopped")
            return None

    return asyncio.run(main())


def _lab(action: str) -> int:
    from asterisk_rec.lab import Lab, LabSettings

    settings = LabSettings.from_environment()
    lab = Lab(settings)
    if action == "up":
        lab.up()
    elif action == "down":
        lab.down()
        print("lab stopped")
        return 0
    elif action == "shell":
        lab.shell()
    status = lab.status()
    for name, pid in status.items():
        print(f"{name}: {'running, pid ' + str(pid) if pid else 'stopped'}")
    if all(status.values()):
        print(f"ARI:        http://127.0.0.1:{settings.http_port}/ari/")
        print(f"AMI:        127.0.0.1:{settings.ami_port}")
        print(f"SIP (UDP):  127.0.0.1:{settings.sip_port}")
        print(f"PostgreSQL: 127.0.0.1:{settings.pg_port}")
        print(f"env file:   {settings.env_file}  (credentials; use with --env-file)")
        return 0
    return 3


def _check(settings: Settings) -> int:
    from asterisk_rec.service import check

    health = _run_async(check(settings))
    print(f"ARI:        Asterisk {health.asterisk_version} at {settings.ari.url}")
    print(f"AMI:        logged in at {settings.ami.host}:{settings.ami.port} as {settings.ami.user}")
    database = settings.database
    print(f"PostgreSQL: {health.database_version.split(' on ')[0]} at {database.host}:{database.port}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "lab" and args.action != "seed":
            setup_logging(args.log_level or "INFO")
            return _lab(args.action)
        settings = load_settings(args.config, args.env_file, args.overrides)
        # Only the service logs at its configured level; one-shot commands speak through their output.
        serving = args.command in ("serve", "web")
        setup_logging(args.log_level or (settings.service.log_level if serving else "WARNING"),
                      args.log_format or settings.service.log_format)
        if args.command == "check":
            return _check(settings)
        if args.command == "lab":
            _run_async(seed_lab(settings))
            print("the lab's organisation 'lab' and its users are in the directory")
            return 0
        if args.command == "verify":
            lines, status = _run_async(archive_cli.run_verify(settings, args))
            print("\n".join(lines))
            return int(status)
        if args.command == completeness_cli.COMMAND:
            lines, status = _run_async(completeness_cli.run(settings, args))
            print("\n".join(lines))
            return int(status)
        if args.command in retention_cli.COMMANDS:
            for line in _run_async(retention_cli.run(settings, args)):
                print(line)
            return 0
        if args.command in web_cli.COMMANDS:
            for line in _run_async(web_cli.run(settings, args)) or []:
                print(line)
            return 0
        if args.command in directory_cli.HANDLERS:
            for line in _run_async(directory_cli.run(settings, args)):
                print(line)
            return 0
        from asterisk_rec.service import serve

        _run_async(serve(settings))
        return 0
    except AsteriskRecError as err:
        print(f"asterisk-rec: error: {err}", file=sys.stderr)
        return 2
