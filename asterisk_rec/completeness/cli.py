"""``asterisk-rec completeness [--org NAME] [--from DAY] [--to DAY] [--json]``: whether every call that had to
be recorded was, per day, with every exception and its reason; exit status 1 when there is one."""

from __future__ import annotations

import argparse
import json
from typing import Any
from zoneinfo import ZoneInfo

from asterisk_rec.adapters.db import Database
from asterisk_rec.completeness.service import CompletenessService, Report, parse_day, rules_of
from asterisk_rec.completeness.store import CompletenessStore
from asterisk_rec.config import Settings
from asterisk_rec.directory.store import DirectoryStore
from asterisk_rec.store.migrate import migrate

COMMAND = "completeness"


def add_commands(commands: Any) -> None:
    p = commands.add_parser(COMMAND, help="whether every call that had to be recorded was; exit 1 on exceptions")
    p.add_argument("--org", help="only this organisation (default: every one)")
    p.add_argument("--from", dest="first", help="first day, YYYY-MM-DD (default: the week up to --to)")
    p.add_argument("--to", dest="last", help="last day, YYYY-MM-DD, included (default: today)")
    p.add_argument("--json", action="store_true", help="the report as JSON")


def report_json(report: Report) -> dict[str, Any]:
    return {
        "organisation": report.organisation.name, "from": report.first_day.isoformat(),
        "to": report.last_day.isoformat(), "complete": report.complete,
        "days": [{"day": d.day.isoformat(), "required": d.required, "complete": d.complete, "pending": d.pending,
                  "exceptions": d.exceptions, "percent_complete": d.percent_complete} for d in report.days],
        "exceptions": [{"call": e.facts.call_row_id, "linked_id": e.facts.linked_id,
                        "started_at": e.facts.started_at.isoformat(), "caller": e.facts.caller,
                        "callee": e.facts.callee, "reason": e.verdict.reason.value if e.verdict.reason else None,
                        "detail": e.verdict.detail, "required_seconds": e.verdict.required_seconds,
                        "recorded_seconds": e.verdict.recorded_seconds} for e in report.exceptions],
    }


def report_lines(report: Report) -> list[str]:
    zone = ZoneInfo(report.organisation.time_zone)
    lines = [f"{report.organisation.name}: {report.first_day} to {report.last_day}"]
    for d in report.days:
        if d.required:
            percent = f"{d.percent_complete:.1f} %" if d.percent_complete is not None else "-"
            lines.append(f"  {d.day}\t{d.required} to record\t{d.complete} complete\t{percent}"
                         + (f"\t{d.pending} pending" if d.pending else "")
                         + (f"\t{d.exceptions} EXCEPTIONS" if d.exceptions else ""))
    total = report.totals
    lines.append(f"  total\t{total.required} to record\t{total.complete} complete\t{total.pending} pending\t"
                 f"{total.exceptions} exceptions")
    for e in report.exceptions:
        reason = e.verdict.reason.value if e.verdict.reason else "-"
        call = e.facts.call_row_id or e.facts.linked_id
        call = e.facts.call_row_id or e.facts.linked_id
        lines.append(f"  EXCEPTION\t{e.facts.started_at.astimezone(zone):%Y-%m-%d %H:%M:%S}\t{e.facts.caller} ->"
                     f" {e.facts.callee}\t{reason}\t{e.verdict.detail}\tcall {call}")
    return lines


async def run(settings: Settings, args: argparse.Namespace) -> tuple[list[str], int]:
    async with Database(settings.database, settings.service.connect_timeout, max_size=2) as db:
        async with db.pool.connection() as connection:
            await migrate(connection)
        directory = DirectoryStore(db)
        names = [args.org] if args.org else [o.name for o in await directory.organisations()]
        service = CompletenessService(CompletenessStore(db), directory, rules_of(settings.completeness))
        first = parse_day(args.first, "--from")
        last = parse_day(args.last, "--to")
        reports = [await service.report_named(name, first, last) for name in names]
    status = 0 if all(r.complete for r in reports) else 1
    if args.json:
        return [json.dumps([report_json(r) for r in reports], indent=2)], status
    return [line for r in reports for line in report_lines(r)], status
