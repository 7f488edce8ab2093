"""Writing into a watched folder: a file appears complete or not at all."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


@contextmanager
def replacing(path: Path) -> Iterator[Path]:
    """Yields a hidden temporary path beside `path`; on success it is renamed onto `path` in one
    step (a sensor skips names starting with "."), on failure it is removed."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_json(path: Path, obj: Any, *, indent: int | None = None) -> None:
    """Deterministic JSON: same object, same bytes."""
    separators = (",", ":") if indent is None else (",", ": ")
    text = json.dumps(obj, indent=indent, separators=separators, ensure_ascii=False)
    with replacing(path) as tmp:
        tmp.write_text(text + "\n", encoding="utf-8")
