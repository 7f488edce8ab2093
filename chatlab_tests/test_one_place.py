"""Facts spelled in one place (issue 16, item 11): the tables' schema name is chatlab.storage.lake.SCHEMA,
and no SQL in the package spells it; the slur list is chatlab.slurs.SLURS, and no other module
spells a word of it. Read from the package's source: string constants, docstrings left out."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import chatlab
from chatlab.slurs import SLURS
from chatlab.storage.lake import SCHEMA

PACKAGE = Path(chatlab.__file__).parent
SQL_NAMING_SCHEMA = re.compile(rf"\b(from|join|into|table|update|describe|exists)\s+\"?{SCHEMA}\"?\.", re.I)


def _strings(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                docstrings.add(id(first.value))
    return [(n.lineno, n.value) for n in ast.walk(tree)
            if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in docstrings]


def _sources() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_no_sql_spells_the_schema_name():
    hits = [f"{p.relative_to(PACKAGE.parent)}:{line}: {s[:80]!r}" for p in _sources()
            for line, s in _strings(p) if SQL_NAMING_SCHEMA.search(s)]
    assert hits == [], "use chatlab.storage.lake.SCHEMA:\n" + "\n".join(hits)


def test_no_other_module_spells_a_slur():
    words = re.compile(r"(?<![a-z])(" + "|".join(re.escape(w) for w in SLURS) + r")(?![a-z])", re.I)
    hits = [f"{p.relative_to(PACKAGE.parent)}:{line}" for p in _sources() if p.name != "slurs.py"
            for line, s in _strings(p) if words.search(s)]
    assert hits == [], "the slur list lives in chatlab/slurs.py:\n" + "\n".join(hits)
