"""Writing into a watched folder: a file appears complete or not at all."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from chatlab.files import replacing

__all__ = ["replacing", "write_json"]


def write_json(path: Path, obj: Any, *, indent: int | None = None) -> None:
    """Deterministic JSON: same object, same bytes."""
    separators = (",", ":") if indent is None else (",", ": ")
    text = json.dumps(obj, indent=indent, separators=separators, ensure_ascii=False)
    with replacing(path) as tmp:
        tmp.write_text(text + "\n", encoding="utf-8")
