"""Cells of CSV files people open in spreadsheets: a caller id from a trunk is the caller's to choose, so
a cell that a spreadsheet would take for a formula (``=``, ``@``, ``+`` or ``-`` not followed by a plain
number, a leading tab or carriage return) is prefixed with an apostrophe and shown as text. Pure."""

from __future__ import annotations

import re

_FORMULA_START = ("=", "@", "\t", "\r", "+", "-")
# A telephone number or a count: +31 6 1234 5678, -3; a spreadsheet reads these as numbers, not formulas.
_PLAIN_NUMBER = re.compile(r"[+-][0-9 ]*\.?[0-9 ]*")


def cell(value: object) -> str:
    text = "" if value is None else str(value)
    if text.startswith(_FORMULA_START) and not _PLAIN_NUMBER.fullmatch(text):
        return "'" + text
    return text
