"""Compare every table of two data directories (or lakes): the check behind `make cluster-test`
and `chatlab bench faults`. Two runs on the same inbox must give the same rows; only the columns
that name a moment (``probed_at``) or the data directory itself may differ."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import polars as pl

from chatlab.storage.lake import SCHEMA, LakeConfig, connect, table_names

# Columns that say when a row was made, not what it holds.
VOLATILE = {"probed_at"}


@dataclass(frozen=True)
class TableDigest:
    rows: int
    sha256: str
    duplicates: int  # rows that appear more than once (a replace that inserted twice)


def _normalise(df: pl.DataFrame, roots: list[str]) -> pl.DataFrame:
    df = df.drop([c for c in df.columns if c in VOLATILE])
    for c, t in df.schema.items():
        if t == pl.String:
            for root in roots:
                df = df.with_columns(pl.col(c).str.replace_all(root, "<data>", literal=True))
    return df


def digest_tables(lake: LakeConfig, roots: list[str]) -> dict[str, TableDigest]:
    """{table: rows, sha256 of the sorted rows, duplicate rows} for every table in the lake, with
    the data directories in ``roots`` written as ``<data>`` (a path is where, not what)."""
    out = {}
    with connect(read_only=True, lake=lake) as con:
        for table in sorted(table_names(con)):
            df = _normalise(con.execute(f'SELECT * FROM {SCHEMA}."{table}"').pl(), roots)
            lines = sorted(df.write_ndjson().splitlines()) if df.columns else []  # row order is not content
            text = "\n".join(lines)
            out[table] = TableDigest(df.height, hashlib.sha256(text.encode()).hexdigest(), len(lines) - len(set(lines)))
    return out


def differences(a: dict[str, TableDigest], b: dict[str, TableDigest]) -> list[str]:
    """One line per table that differs (missing, row count, content) or holds duplicate rows."""
    lines = []
    for table in sorted(set(a) | set(b)):
        x, y = a.get(table), b.get(table)
        if x is None or y is None:
            lines.append(f"{table}: only in {'the first' if y is None else 'the second'}")
        elif x.rows != y.rows:
            lines.append(f"{table}: {x.rows} rows vs {y.rows}")
        elif x.sha256 != y.sha256:
            lines.append(f"{table}: same {x.rows} rows count, different content")
        for name, d in (("first", x), ("second", y)):
            if d is not None and d.duplicates:
                lines.append(f"{table}: {d.duplicates} duplicate rows in the {name}")
    return lines
