"""The one settings loader: ``chatlab.toml`` and the review page's ``data/review/overrides.toml``.

Every section and key is known, and its type with it: a section's keys are the fields of the
stage's own config dataclass (``[align]`` is ``AlignConfig``, ``[train]`` is ``TrainConfig`` with
the evaluation's and the guardrails' fields), so a field added there is a setting everywhere at
once. Unknown sections and keys, values of the wrong type, and the values a stage's own loader
refuses (a preset, a split name) are errors naming the file, the key path and what was expected,
raised when the files are read, before any stage runs. ``[vods.<id>.<section>]`` is laid over
``[<section>]`` key by key, tables inside tables too (``section``).

Pydantic checks the types: each section's model is built from its dataclasses' fields with the
scalars made strict (``"3"`` is not an integer, ``true`` is not a number, NaN is not a setting),
lists read as tuples and sets as the dataclasses want them.
"""

from __future__ import annotations

import copy
import functools
import re
import tomllib
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from chatlab.ingest.inbox import is_valid_vod_id


class SettingsError(ValueError):
    """A settings file says something chatlab cannot use (the message names the file and the key)."""


# Sections whose settings are read straight from the table by their stage (no config dataclass
# there): their keys and types, each default None meaning "the stage's own default".


@dataclass(frozen=True)
class ChatSettings:
    """``[chat]`` (``[chat.clean]`` is CleanConfig)."""

    start_time: str | datetime | None = None  # the VOD's wall-clock start (per VOD), ISO 8601 text or a TOML date-time
    max_bytes: int | None = None  # decompressed-size cap of an export (chatlab.chat.detect.DEFAULT_MAX_BYTES)
    max_reject_rate: float | None = None  # chat_sane fails above this share of rejected records (0.05)


@dataclass(frozen=True)
class OcrSettings:
    """``[ocr]`` beside ReadOptions: the engine (chatlab/defs/ocr/assets.py), the region, chat_ocr_readable's limits."""

    region: str | tuple[int, int, int, int] | None = None  # "x,y,w,h" or [x, y, w, h]; empty: found automatically
    backend: str | None = None  # rapidocr | paddleocr
    models: str | None = None  # rapidocr: v4 | v5
    threads: int | None = None
    det_model_dir: str | None = None
    rec_model_dir: str | None = None
    min_region_confidence: float | None = None
    min_line_confidence: float | None = None
    max_low_confidence: float | None = None
    max_bad_frames: float | None = None
    max_text_unread: float | None = None


@dataclass(frozen=True)
class IngestSettings:
    on_removed: str | None = None  # keep | forget (chatlab.forget.ON_REMOVED)


@dataclass(frozen=True)
class StorageSettings:
    catalog: str | None = None  # sqlite:<file> | postgres:<conninfo> | duckdb:<file>
    data_path: str | None = None


@dataclass(frozen=True)
class ReviewRecord:
    """``[vods.<id>.review]``, written by the review page (chatlab/review/overrides.py)."""

    source: str | None = None
    saved_at: str | None = None
    status: Literal["accepted", "rejected", ""] | None = None
    note: str | None = None


@dataclass(frozen=True)
class Section:
    sources: tuple[type, ...]  # dataclasses whose fields are the section's keys
    extra: dict[str, Any] = field(default_factory=dict)  # keys read beside them (or typed otherwise), with types
    check: Callable[[dict[str, Any]], Any] | None = None  # the stage's own loader: its value checks run on reading
    per_vod: bool = True  # may stand as [vods.<id>.<name>]
    top_level: bool = True  # may stand as [<name>]
    hints: dict[str, str] = field(default_factory=dict)  # what a key expects, where its type says it badly


def _check_chat(values: dict[str, Any]) -> None:
    t = values.get("start_time")
    if isinstance(t, str) and t:
        try:
            datetime.fromisoformat(t.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"start_time = {t!r}: expected an ISO 8601 time, e.g. 2024-05-01T18:00:00Z") from None


def _check_train(values: dict[str, Any]) -> None:
    from chatlab.train.evaluate import EvalConfig
    from chatlab.train.lora import TrainConfig

    TrainConfig.from_mapping(values)
    EvalConfig.from_mapping(values)
    for p in values.get("banned_patterns", ()):  # compiled only when generating: a bad one would fail there
        try:
            re.compile(p)
        except re.error as e:
            raise ValueError(f"banned_patterns: {p!r} is not a regular expression ({e})") from None


def _check_ocr(values: dict[str, Any]) -> None:
    from chatlab.ocr.reader import ReadOptions
    from chatlab.ocr.region import parse_region

    ReadOptions.from_mapping(values)
    if values.get("region"):
        parse_region(values["region"])


def _check_ingest(values: dict[str, Any]) -> None:
    from chatlab.forget import on_removed_setting

    on_removed_setting(values)


def _check_storage(values: dict[str, Any]) -> None:
    from chatlab.storage.lake import check_catalog, check_data_path

    catalog, data = values.get("catalog"), values.get("data_path")
    checks = [("data_path", data, check_data_path)] if data else []
    if catalog and check_catalog(catalog) in ("sqlite", "duckdb"):
        checks.append(("catalog", catalog, lambda c: Path(c.split(":", 1)[1]).expanduser()))
    for key, value, check in checks:
        try:
            check(value)
        except RuntimeError as e:  # ~name of no such user
            raise ValueError(f"{key} = {value!r}: {e}") from None


@functools.cache
def sections() -> dict[str, Section]:
    """Every section chatlab reads, by its dotted name (``chat.clean`` is a table inside ``[chat]``)."""
    from chatlab.align.config import AlignConfig
    from chatlab.align.splits import SPLITS, SplitConfig
    from chatlab.asr.engine import EngineConfig
    from chatlab.asr.quality import Thresholds
    from chatlab.chat.clean import CleanConfig
    from chatlab.ocr.reader import ReadOptions
    from chatlab.train.evaluate import EvalConfig
    from chatlab.train.generate import Guardrails
    from chatlab.train.lora import TrainConfig

    return {
        "align": Section((AlignConfig,), check=AlignConfig.from_mapping, hints={"anchors": "[[t_chat, t_speech], ...]"}),
        "splits": Section((SplitConfig,), extra={"split": Literal[SPLITS]}, check=SplitConfig.from_mapping),
        # window_s: the transcription windows (chatlab/defs/asr/resources.py); vocabulary may be "a, b" text
        "asr": Section((EngineConfig, Thresholds), extra={"window_s": float, "vocabulary": tuple[str, ...] | str},
                       check=EngineConfig.from_mapping),
        "chat": Section((ChatSettings,), check=_check_chat),
        "chat.clean": Section((CleanConfig,), extra={"bots_extra": tuple[str, ...], "blocklist_extra": tuple[str, ...]},
                              check=CleanConfig.from_settings),
        "ocr": Section((ReadOptions, OcrSettings), check=_check_ocr),
        "train": Section((TrainConfig, EvalConfig, Guardrails), extra={"preset": str}, check=_check_train, per_vod=False),
        "ingest": Section((IngestSettings,), check=_check_ingest, per_vod=False),
        "storage": Section((StorageSettings,), check=_check_storage, per_vod=False),
        "review": Section((ReviewRecord,), top_level=False),
    }


# --- types --------------------------------------------------------------------------------------


def _strict(tp: Any) -> Any:
    """``tp`` with strict scalars (TOML has no null: ``X | None`` is ``X``)."""
    from pydantic import AllowInfNan, Strict, StrictBool, StrictInt, StringConstraints

    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is bool:
        return StrictBool
    if tp is int:
        return StrictInt
    if tp is float:
        return typing.Annotated[float, Strict(), AllowInfNan(False)]
    if tp is str:  # no NUL: every string may become a path or a C string
        return typing.Annotated[str, Strict(), StringConstraints(pattern=r"^[^\x00]*$")]
    if tp is datetime:
        return typing.Annotated[datetime, Strict()]
    if origin is Literal:
        return tp
    if origin in (typing.Union, types.UnionType):
        kept = [_strict(a) for a in args if a is not type(None)]
        return kept[0] if len(kept) == 1 else typing.Union[tuple(kept)]
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple[_strict(args[0]), ...]
        return tuple[tuple(_strict(a) for a in args)]
    if origin in (list, frozenset, set):
        return origin[_strict(args[0])]
    if origin is dict:
        return dict[_strict(args[0]), _strict(args[1])]
    raise TypeError(f"settings: no TOML type for {tp!r}; give the field a bool, int, float, str, list or table type")


def _describe(tp: Any) -> str:
    """What a value of ``tp`` looks like, in words."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    names = {bool: "true or false", int: "an integer", float: "a finite number", str: "a string", datetime: "a date-time"}
    if tp in names:
        return names[tp]
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in args)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_describe(a) for a in args if a is not type(None))
    if origin is tuple and not (len(args) == 2 and args[1] is Ellipsis):
        return "[" + ", ".join(_describe(a) for a in args) + "]"
    if origin in (tuple, list, frozenset, set):
        return f"a list, each {_describe(args[0])}"
    if origin is dict:
        return f"a table, each value {_describe(args[1])}"
    return repr(tp)


def _types(name: str) -> dict[str, Any]:
    """The section's keys and their types (as the dataclasses declare them)."""
    spec = sections()[name]
    out: dict[str, Any] = {}
    for cls in spec.sources:
        hints = typing.get_type_hints(cls)
        for f in fields(cls):
            out.setdefault(f.name, hints[f.name])
    return out | spec.extra


@functools.cache
def _model(name: str):
    from pydantic import ConfigDict, create_model

    fields_ = {k: (_strict(tp), None) for k, tp in _types(name).items()}
    return create_model(f"settings_{name.replace('.', '_')}", __config__=ConfigDict(extra="forbid"), **fields_)


def _subtables(name: str) -> set[str]:
    """The tables inside a section (``clean`` inside ``chat``)."""
    return {n[len(name) + 1:] for n in sections() if n.startswith(name + ".") and "." not in n[len(name) + 1:]}


def _short(v: Any) -> str:
    s = repr(v)
    return s if len(s) <= 80 else s[:77] + "..."


def values(name: str, table: dict[str, Any], where: str | None = None) -> dict[str, Any]:
    """The keys set in one section's table, their types checked and converted (lists as tuples
    where the dataclass says so). ``where`` names the file and table in errors (default ``[name]``)."""
    from pydantic import ValidationError

    where = where or f"[{name}]"
    types_ = _types(name)
    unknown = sorted(set(table) - set(types_))
    if unknown:
        known = sorted(set(types_) | _subtables(name))
        raise SettingsError(f"{where}: unknown settings {unknown}; known: {known}")
    try:
        m = _model(name).model_validate(table)
    except ValidationError as e:
        spec, seen, problems = sections()[name], set(), []
        for err in e.errors():
            key = str(err["loc"][0]) if err["loc"] else ""
            if key in seen:
                continue
            seen.add(key)
            expected = spec.hints.get(key) or _describe(types_[key])
            if err["type"] == "string_pattern_mismatch":
                expected = "text without NUL characters"
            problems.append(f"{where} {key}: expected {expected}, got {_short(table.get(key))}")
        raise SettingsError("; ".join(problems)) from None
    return {k: getattr(m, k) for k in table}


def build(cls: type, name: str, table: dict[str, Any]):
    """``cls`` (a stage's config dataclass) from its section's table: every key checked against
    the whole section (the keys other dataclasses of the section read are allowed), then ``cls``'s
    own fields taken."""
    own = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in values(name, table).items() if k in own})


# --- files --------------------------------------------------------------------------------------


def read(path: Path) -> dict[str, Any]:
    """A TOML file as a dict ({} when there is none); a broken one is an error that names it."""
    if not path.exists():
        return {}
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as e:
        raise SettingsError(f"{path}: not UTF-8 text (byte {e.start}: {e.reason}); TOML files are UTF-8") from None
    except tomllib.TOMLDecodeError as e:
        raise SettingsError(f"{path}: not valid TOML ({e})") from None
    except OSError as e:
        raise SettingsError(f"{path}: cannot be read ({e.strerror or e})") from None


_PREFIX = re.compile(r"^\[[\w.<>]+\](:?) ?")  # a stage's own "[splits]: ..." prefix: the caller names the table


def _check_table(name: str, table: Any, path: str, file: Path, later: list) -> None:
    """Keys and types of one table (and the tables inside it); its stage's value checks are put
    on ``later``, so a typo anywhere in the file is reported before any value is judged."""
    where = f"{file} [{path}]"
    if not isinstance(table, dict):
        raise SettingsError(f"{where}: expected a table of settings, got {_short(table)}")
    subs = _subtables(name)
    own = {k: v for k, v in table.items() if k not in subs}
    values(name, own, where)
    later.append((name, own, where))
    for s in sorted(subs & set(table)):
        _check_table(f"{name}.{s}", table[s], f"{path}.{s}", file, later)


def _run_check(name: str, table: dict[str, Any], where: str) -> None:
    """The stage's own loader on the table (types already checked): its refusals name ``where``."""
    check = sections()[name].check
    if check is None:
        return
    try:
        check(table)
    except SettingsError:
        raise
    except ValueError as e:
        m = _PREFIX.match(str(e))
        rest = str(e)[m.end():] if m else str(e)
        raise SettingsError(f"{where}{' ' if m and not m.group(1) else ': '}{rest}") from None


def _check_merged(conf: dict[str, Any], files: Callable[[str, str], str]) -> None:
    """Each VOD's tables laid over the global ones pass their stage's checks too (two valid
    halves can make an invalid whole: ratios that sum to 0)."""
    for vod_id, stages in conf.get("vods", {}).items():
        for name in stages:
            if name not in conf:
                continue  # nothing laid under it: checked as it is
            merged = section(conf, name, vod_id)
            for sub in [name, *sorted(f"{name}.{s}" for s in _subtables(name))]:
                table = merged
                for part in sub.split(".")[1:]:
                    table = table.get(part, {})
                own = {k: v for k, v in table.items() if k not in _subtables(sub)}
                _run_check(sub, own, f"{files(vod_id, name)} [vods.{vod_id}.{sub}] laid over [{sub}]")


def check(doc: dict[str, Any], file: Path, per_vod_only: bool = False, later: list | None = None) -> None:
    """Every section and key of one settings file known, of the right type and accepted by its
    stage. ``per_vod_only``: the file holds only ``[vods.<id>.<section>]`` (the review overrides).
    With ``later``, the stages' value checks are appended to it instead of run."""
    top = sorted(n for n, s in sections().items() if "." not in n and s.top_level)
    per_vod = sorted(n for n, s in sections().items() if "." not in n and s.per_vod)
    run_now = later is None
    later = [] if later is None else later
    for name, table in doc.items():
        if name == "vods":
            continue
        if per_vod_only:
            raise SettingsError(f"{file}: [{name}] is not read from this file; it holds only [vods.<id>.<section>] tables")
        if name not in top:
            raise SettingsError(f"{file}: unknown section [{name}]; known: {top + ['vods']}")
        _check_table(name, table, name, file, later)
    vods = doc.get("vods", {})
    if not isinstance(vods, dict):
        raise SettingsError(f"{file} [vods]: expected tables [vods.<vod_id>.<section>], got {_short(vods)}")
    for vod_id, stages in vods.items():
        if not is_valid_vod_id(vod_id):
            raise SettingsError(f"{file} [vods.{vod_id}]: {vod_id!r} is not a VOD id (expected 1-64 of a-z, 0-9, _ and -)")
        if not isinstance(stages, dict):
            raise SettingsError(f"{file} [vods.{vod_id}]: expected tables [vods.{vod_id}.<section>], got {_short(stages)}")
        for name, table in stages.items():
            if name not in per_vod:
                why = ("its settings apply to all VODs: set them in [" + name + "]") if name in top else f"known: {per_vod}"
                raise SettingsError(f"{file} [vods.{vod_id}.{name}]: not a per-VOD section ({why})")
            _check_table(name, table, f"vods.{vod_id}.{name}", file, later)
    if run_now:
        for name, own, where in later:
            _run_check(name, own, where)


# A manual offset is one choice: a review override with anchors replaces an offset_s from the file.
MANUAL_ALIGN_KEYS = ("offset_s", "drift_s_per_h", "anchors")


def load(settings_file: Path, overrides_file: Path) -> dict[str, Any]:
    """The settings file, checked, with the review overrides (checked) laid over its ``[vods.<id>]``
    sections; {} when neither file exists."""
    doc, review, later = read(settings_file), read(overrides_file), []
    check(doc, settings_file, later=later)  # keys and types of both files first: a typo is said before any value
    check(review, overrides_file, per_vod_only=True, later=later)
    for name, own, where in later:
        _run_check(name, own, where)
    out = copy.deepcopy(doc)
    for vod_id, stages in review.get("vods", {}).items():
        vod = out.setdefault("vods", {}).setdefault(vod_id, {})
        for stage, over in stages.items():
            base = dict(vod.get(stage, {}))
            if stage == "align" and any(k in over for k in MANUAL_ALIGN_KEYS):
                base = {k: v for k, v in base.items() if k not in MANUAL_ALIGN_KEYS}
            vod[stage] = _merged(base, over)

    def files(vod_id: str, name: str) -> str:
        mine = [str(f) for f, d in ((settings_file, doc), (overrides_file, review)) if name in d.get("vods", {}).get(vod_id, {})]
        return " and ".join(mine)

    _check_merged(out, files)
    return out


def section(config: dict[str, Any], name: str, vod_id: str | None = None) -> dict[str, Any]:
    """One stage's settings, with ``[vods.<vod_id>.<name>]`` laid over them for that VOD."""
    out = dict(config.get(name, {}))
    if vod_id:
        out = _merged(out, config.get("vods", {}).get(vod_id, {}).get(name, {}))
    return out


def _merged(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """``over`` laid over ``base`` key by key, tables inside tables too: a per-VOD
    ``[vods.x.chat.clean]`` with one key keeps every other key of ``[chat.clean]``."""
    out = dict(base)
    for k, v in over.items():
        out[k] = _merged(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out
