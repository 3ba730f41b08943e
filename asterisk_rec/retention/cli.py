"""``asterisk-rec retention ...`` and ``asterisk-rec purge``: periods, cost, statements, the bulk
download switch and the purge, from the command line (audited as ``cli``)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from asterisk_rec.accounts.audit import AuditLog
from asterisk_rec.adapters.db import Database
from asterisk_rec.config import Settings
from asterisk_rec.errors import InvalidInput
from asterisk_rec.retention.policy import parse_month
from asterisk_rec.retention.service import RetentionService
from asterisk_rec.store.migrate import migrate

COMMANDS = ("retention", "purge")


def add_commands(commands: Any) -> None:
    retention = commands.add_parser("retention", help="retention periods, cost, statements, bulk download") \
        .add_subparsers(dest="action", required=True)
    p = retention.add_parser("show", help="the period, its cost and the bulk download switch")
    p.add_argument("org")
    p = retention.add_parser("set", help="choose the period in days (one of retention.periods)")
    p.add_argument("org")
    p.add_argument("days", type=int)
    p.add_argument("--yes", action="store_true", help="confirm a shorter period (recordings will go)")
    p = retention.add_parser("bulk-download", help="switch bulk download on or off (180 days or more)")
    p.add_argument("org")
    p.add_argument("switch", choices=["on", "off"])
    p = retention.add_parser("statement", help="a month's recorded users and the total")
    p.add_argument("org")
    p.add_argument("--month", required=True, help="YYYY-MM")
    p = commands.add_parser("purge", help="delete the recordings past their retention period")
    p.add_argument("--dry-run", action="store_true", help="list what would go; change nothing")
    p.add_argument("--org", help="only this organisation's recordings")


def _show(r: Any) -> list[str]:
    return [f"{r.organisation}: {r.days} days, {r.price_per_user:.2f} {r.currency} per recorded user per month, "
            f"{r.recorded_users} recorded users: {r.monthly_cost:.2f} {r.currency} a month; bulk download "
            f"{'on' if r.bulk_download else 'off'}"]


async def run(settings: Settings, args: argparse.Namespace) -> list[str]:
    async with Database(settings.database, settings.service.connect_timeout, max_size=2) as db:
        async with db.pool.connection() as connection:
            await migrate(connection)
        service = RetentionService(db, AuditLog(db), settings.retention)
        if args.command == "purge":
            gone = await service.purge(Path(settings.archive.root), dry_run=args.dry_run, organisation=args.org)
            lines = [f"{'would delete' if args.dry_run else 'deleted'}\t{r.started_at:%Y-%m-%d %H:%M}\t{r.name}"
                     f"\t{r.path}" for r in gone]
            return [*lines, f"{len(gone)} recordings {'would be ' if args.dry_run else ''}deleted"]
        if args.action == "show":
            return _show(await service.retention(args.org))
        if args.action == "set":
            return _show(await service.set_period(None, args.org, args.days, args.yes))
        if args.action == "bulk-download":
            return _show(await service.set_bulk_download(None, args.org, args.switch == "on"))
        if args.action == "statement":
            found = await service.statement(args.org, parse_month(args.month))
            return [*(f"{line.extension}\t{line.name}\t{found.price_per_user:.2f} {found.currency}"
                      for line in found.lines),
                    f"{found.month:%Y-%m}: {len(found.lines)} recorded users, total {found.total:.2f} {found.currency}"]
        raise InvalidInput(f"unknown action {args.action!r}")
