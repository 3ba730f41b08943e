"""The packages of asterisk_rec depend one way: a test that fails on any cycle between them (read from the
imports, type-checking ones included), so the web layer stays on top of the domains and none of them
reaches back."""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2] / "asterisk_rec"


def node(module: str) -> str:
    """A package of asterisk_rec (``web``, ``calls``, ...) or a top-level module (``policy``, ``errors``)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "asterisk_rec"


def package_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = defaultdict(set)
    for path in ROOT.rglob("*.py"):
        module = ".".join(path.relative_to(ROOT.parent).with_suffix("").parts).removesuffix(".__init__")
        for statement in ast.walk(ast.parse(path.read_text())):
            if isinstance(statement, ast.ImportFrom) and statement.module and statement.level == 0:
                targets = [statement.module]
            elif isinstance(statement, ast.Import):
                targets = [alias.name for alias in statement.names]
            else:
                continue
            for target in targets:
                if target.startswith("asterisk_rec.") and node(target) != node(module):
                    graph[node(module)].add(node(target))
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(name: str) -> None:
        index[name] = low[name] = len(index)
        stack.append(name)
        for after in graph.get(name, ()):
            if after not in index:
                visit(after)
                low[name] = min(low[name], low[after])
            elif after in stack:
                low[name] = min(low[name], index[after])
        if low[name] == index[name]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == name:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for name in list(graph):
        if name not in index:
            visit(name)
    return found


def test_no_package_reaches_back() -> None:
    """No cycle between asterisk_rec's packages; and the check sees one when there is one."""
    assert cycles(package_graph()) == []
    assert cycles({"web": {"calls"}, "calls": {"accounts"}, "accounts": {"web"}}) == [["accounts", "calls", "web"]]


def test_the_web_layer_is_on_top() -> None:
    """Nothing but the command line and the service imports the web layer."""
    users = {name for name, after in package_graph().items() if "web" in after}
    assert users <= {"cli", "service"}, users


WRITES = re.compile(r"\b(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+([a-z_]+)", re.IGNORECASE)
MIGRATIONS = ROOT / "store" / "migrations"


def table_writers() -> dict[str, set[str]]:
    """Per table made by the migrations, the modules whose SQL (string literals) writes it."""
    tables = {m.lower() for path in MIGRATIONS.glob("*.sql")
              for m in re.findall(r"CREATE TABLE (?:IF NOT EXISTS )?([a-z_]+)", path.read_text(), re.IGNORECASE)}
    writers: dict[str, set[str]] = defaultdict(set)
    for path in ROOT.rglob("*.py"):
        for constant in ast.walk(ast.parse(path.read_text())):
            if isinstance(constant, ast.Constant) and isinstance(constant.value, str):
                for table in WRITES.findall(constant.value):
                    if table.lower() in tables:
                        writers[table.lower()].add(str(path.relative_to(ROOT)))
    return writers


def test_each_table_has_one_writer() -> None:
    """Every table is written from one module (its repository), as the README's layout says."""
    shared = {table: sorted(modules) for table, modules in table_writers().items() if len(modules) > 1}
    assert shared == {}, shared
    assert table_writers()["recordings"] == {"archive/records.py"}
