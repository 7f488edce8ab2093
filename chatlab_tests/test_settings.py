"""The one strict settings loader (chatlab/settings.py): every section and key known, types checked,
errors naming the file (chatlab.toml or data/review/overrides.toml), the key and what was expected.

The cases are drawn from the loader's own registry and the stages' dataclasses, so a field added to
a stage is checked here without a line changed: its default loads, a value of the wrong type is
refused by name, a typo beside it is refused."""

from __future__ import annotations

import dataclasses
import re
import typing
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import pytest

from chatlab import settings
from chatlab.config import Layout, load_config, section

REPO = Path(__file__).resolve().parents[1]


def _toml(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, datetime):
        return v.isoformat()
    if isinstance(v, (list, tuple, set, frozenset)):
        return "[" + ", ".join(_toml(x) for x in (sorted(v) if isinstance(v, (set, frozenset)) else v)) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f'"{k}" = {_toml(x)}' for k, x in v.items()) + " }"
    raise TypeError(v)


def _table(name: str, vod: str | None = None) -> str:
    return f"vods.{vod}.{name}" if vod else name


def _where(name: str) -> str | None:
    """A VOD id when the section may only stand per VOD, else None (the top level)."""
    return None if settings.sections()[name.split(".")[0]].top_level else "v1"


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "chatlab.toml"
    p.write_text(text, encoding="utf-8")
    return p


def _load(tmp_path: Path, text: str) -> dict:
    return load_config(_write(tmp_path, text), tmp_path / "data")


SECTIONS = sorted(settings.sections())


def _keys() -> list[tuple[str, str, Any]]:
    out = []
    for name in SECTIONS:
        for key, tp in settings._types(name).items():
            out.append((name, key, tp))
    return out


KEYS = _keys()


def _wrong(tp: Any) -> Any:
    """A TOML value that is not of type ``tp``."""
    origin = typing.get_origin(tp)
    args = [a for a in typing.get_args(tp) if a is not type(None)]
    if origin in (typing.Union, __import__("types").UnionType):
        if any(a is str for a in args) and any(typing.get_origin(a) is tuple for a in args):
            return 3  # neither a string nor a list
        if any(a is str for a in args):
            return [1]
        return "x"
    if tp is str or origin is Literal:
        return 3 if tp is str else "no such choice"
    if tp in (int, float):
        return "3"  # a number as text is not a number
    if tp is bool:
        return 1
    if origin in (tuple, list, frozenset, set):
        return 3
    if origin is dict:
        return [1, 2]
    raise AssertionError(tp)


def test_the_repository_settings_file_loads():
    conf = load_config(REPO / "chatlab.toml", REPO / "no-data")
    assert section(conf, "splits")["overrides"]["demo_04"] == "test"


def test_every_section_has_keys_and_every_key_a_toml_type():
    for name in SECTIONS:
        assert settings._types(name), name
        settings._model(name)  # a field of a type TOML cannot give fails here, not at a user's run
        seen: dict[str, Any] = {}
        for cls in settings.sections()[name].sources:  # a key two dataclasses read ([train] seed) has one type
            for key, tp in typing.get_type_hints(cls).items():
                assert seen.setdefault(key, tp) == tp, (name, key, seen[key], tp)


@pytest.mark.parametrize("name", SECTIONS)
def test_each_dataclass_default_loads_as_a_setting(name, tmp_path):
    """Every field of every stage dataclass, written with its default, is accepted: the keys are
    the dataclasses' own (one source of truth)."""
    spec = settings.sections()[name]
    vod = _where(name)
    lines, written, shared = [], {}, set()
    for cls in spec.sources:
        for f in dataclasses.fields(cls):
            if f.name in spec.extra:
                continue
            default = f.default if f.default is not dataclasses.MISSING else (
                f.default_factory() if f.default_factory is not dataclasses.MISSING else None)
            if default is None or default == {}:
                continue
            if f.name in written:  # one key read by two dataclasses of the section ([train] seed)
                shared.add(f.name)
                continue
            written[f.name] = default
            lines.append(f"{f.name} = {_toml(default)}")
    conf = _load(tmp_path, f"[{_table(name, vod)}]\n" + "\n".join(lines) + "\n")
    got = section(conf, name.split(".")[0], vod)
    for part in name.split(".")[1:]:
        got = got[part]
    assert len(got) == len(lines)
    for cls in spec.sources:
        own = {f.name for f in dataclasses.fields(cls)}
        if not own & shared:
            assert settings.build(cls, name, got) == cls(), cls


@pytest.mark.parametrize("name", SECTIONS)
def test_a_typo_in_any_section_names_the_file_table_and_key(name, tmp_path):
    vod = _where(name)
    p = _write(tmp_path, f"[{_table(name, vod)}]\nzz_typo = 1\n")
    with pytest.raises(settings.SettingsError) as e:
        load_config(p, tmp_path / "data")
    msg = str(e.value)
    assert msg.startswith(f"{p} [{_table(name, vod)}]: unknown settings ['zz_typo']; known: ["), msg
    some_key = sorted(settings._types(name))[0]
    assert repr(some_key) in msg


@pytest.mark.parametrize("name,key,tp", KEYS, ids=[f"{n}.{k}" for n, k, _ in KEYS])
def test_a_wrong_type_for_any_key_names_the_file_key_and_what_was_expected(name, key, tp, tmp_path):
    vod = _where(name)
    bad = _wrong(tp)
    p = _write(tmp_path, f"[{_table(name, vod)}]\n{key} = {_toml(bad)}\n")
    with pytest.raises(settings.SettingsError) as e:
        load_config(p, tmp_path / "data")
    msg = str(e.value)
    assert msg.startswith(f"{p} [{_table(name, vod)}] {key}: expected "), msg
    assert msg.endswith(f"got {bad!r}"), msg


@pytest.mark.parametrize("text,message", [
    ("[algin]\noffset_s = 1\n", r"unknown section \[algin\]; known: \['align', 'asr', 'chat', .*'vods'\]"),
    ("verbose = true\n", r"unknown section \[verbose\]"),
    ("[vods.x.train]\nseed = 1\n", r"\[vods\.x\.train\]: not a per-VOD section \(its settings apply to all VODs: set them in \[train\]\)"),
    ("[vods.x.algin]\noffset_s = 1\n", r"\[vods\.x\.algin\]: not a per-VOD section \(known: \['align', "),
    ('[vods."My Stream".align]\noffset_s = 1\n', r"\[vods\.My Stream\]: 'My Stream' is not a VOD id"),
    ("[vods]\nx = 1\n", r"\[vods\.x\]: expected tables \[vods\.x\.<section>\], got 1"),
    ("vods = 3\n", r"\[vods\]: expected tables"),
    ("align = 3\n", r"\[align\]: expected a table of settings, got 3"),
    ("[chat]\nclean = 3\n", r"\[chat\.clean\]: expected a table of settings, got 3"),
    ("[review]\nstatus = 'accepted'\n", r"unknown section \[review\]"),
    ("[align]\noffset_s = nan\n", r"\[align\] offset_s: expected a finite number, got nan"),
    ("[align]\nmin_anchors = 2.5\n", r"\[align\] min_anchors: expected an integer, got 2\.5"),
    ("[align]\nmin_anchors = true\n", r"\[align\] min_anchors: expected an integer, got True"),
    ("[asr]\nbatched = 1\n", r"\[asr\] batched: expected true or false, got 1"),
    ("[asr]\nvocabulary = [1, 2]\n", r"\[asr\] vocabulary: expected a list, each a string or a string"),
    ("[chat]\nstart_time = 'yesterday'\n", r"\[chat\]: start_time = 'yesterday': expected an ISO 8601 time"),
    ("[vods.v.chat]\nstart_time = 2024-05-01\n", r"\[vods\.v\.chat\] start_time: expected a string or a date-time"),
    ("[vods.v.splits]\nsplit = 'dev'\n", r"\[vods\.v\.splits\] split: expected one of 'train', 'validation', 'test', got 'dev'"),
    ("[train]\nrank_by = 'best'\n", r"\[train\] rank_by = 'best': expected one of"),
    ("[vods.v.ocr]\nfps = 0\n", r"\[vods\.v\.ocr\] fps must be > 0, got 0"),
    ("[vods.v.review]\nstatus = 'maybe'\n", r"\[vods\.v\.review\] status: expected one of 'accepted', 'rejected', ''"),
    ("[vods.v.ocr]\nregion = 'left side'\n", r"\[vods\.v\.ocr\]: region 'left side': expected 'x,y,w,h' in pixels"),
    ("[vods.v.ocr]\nregion = [1, 2, 3]\n", r"\[vods\.v\.ocr\] region: expected a string or \[an integer, an integer, an integer, an integer\]"),
    ("[train]\nbanned_patterns = ['(unclosed']\n", r"\[train\]: banned_patterns: '\(unclosed' is not a regular expression"),
    ("[splits]\ntrain = 0.0\n[vods.v.splits]\nvalidation = 0.0\ntest = 0.0\n",
     r"\[vods\.v\.splits\] laid over \[splits\]: ratios must be >= 0 and not all 0 \(got 0\.0, 0\.0, 0\.0\)"),
])
def test_structure_and_value_errors_name_the_file(text, message, tmp_path):
    p = _write(tmp_path, text)
    with pytest.raises(settings.SettingsError) as e:
        load_config(p, tmp_path / "data")
    assert str(e.value).startswith(str(p)), str(e.value)
    assert re.search(message, str(e.value)), str(e.value)


def test_an_error_in_the_review_overrides_names_that_file_not_chatlab_toml(tmp_path):
    layout = Layout(tmp_path / "data")
    layout.review_overrides.parent.mkdir(parents=True)
    conf = _write(tmp_path, "[align]\ncontext_s = 20\n")
    layout.review_overrides.write_text('[vods.v1.align]\noffset_s = "soon"\n', encoding="utf-8")
    with pytest.raises(settings.SettingsError) as e:
        load_config(conf, layout.root)
    assert str(e.value) == f"{layout.review_overrides} [vods.v1.align] offset_s: expected a finite number, got 'soon'"
    layout.review_overrides.write_text("[align]\noffset_s = 1.0\n", encoding="utf-8")
    with pytest.raises(settings.SettingsError, match=r"overrides\.toml: \[align\] is not read from this file"):
        load_config(conf, layout.root)
    layout.review_overrides.write_text("[vods.v1.align]\noffset_s = 1.0\n[vods.v1.review]\nstatus = 'rejected'\n", encoding="utf-8")
    merged = load_config(conf, layout.root)
    assert section(merged, "align", "v1") == {"context_s": 20, "offset_s": 1.0}
    assert section(merged, "review", "v1") == {"status": "rejected"}


def test_per_vod_tables_are_merged_key_by_key_at_every_depth(tmp_path):
    conf = _load(tmp_path, "[asr]\nbeam_size = 3\nlanguage = 'en'\n[vods.v1.asr]\nlanguage = 'de'\n"
                           "[chat.clean]\nmax_chars = 300\nbots_extra = ['a']\n[vods.v1.chat.clean]\nbots_extra = ['b']\n")
    assert section(conf, "asr", "v1") == {"beam_size": 3, "language": "de"}
    assert section(conf, "chat", "v1")["clean"] == {"max_chars": 300, "bots_extra": ["b"]}
    assert section(conf, "asr", "v2") == {"beam_size": 3, "language": "en"}


def test_the_stage_loaders_use_the_same_checks():
    """The thin per-stage loaders keep their names and refuse by key and type, as the file loader does."""
    from chatlab.align.config import AlignConfig
    from chatlab.align.splits import SplitConfig
    from chatlab.asr.engine import EngineConfig
    from chatlab.chat.clean import CleanConfig
    from chatlab.train.lora import TrainConfig

    cases = [
        (lambda: AlignConfig.from_mapping({"chat_k": "5"}), r"^\[align\] chat_k: expected an integer, got '5'$"),
        (lambda: SplitConfig.from_mapping({"seed": 1.5}), r"^\[splits\] seed: expected an integer, got 1\.5$"),
        (lambda: EngineConfig.from_mapping({"vad": "no"}), r"^\[asr\] vad: expected true or false, got 'no'$"),
        (lambda: CleanConfig.from_settings({"bots": "nightbot"}), r"^\[chat\.clean\] bots: expected a list, each a string"),
        (lambda: TrainConfig.from_mapping({"lora_r": "16"}), r"^\[train\] lora_r: expected an integer, got '16'$"),
    ]
    for call, message in cases:
        with pytest.raises(settings.SettingsError, match=message):
            call()
    assert AlignConfig.from_mapping({"anchors": [[1, 2], [3, 4]]}).anchors == ((1.0, 2.0), (3.0, 4.0))
    assert TrainConfig.from_mapping({"preset": "gpu", "lora_r": 8, "n_candidates": 50}).lora_r == 8


def test_the_examples_commented_out_in_chatlab_toml_load(tmp_path):
    """Uncommented, every `# key = value` / `# [section]` example in the repository's file is valid."""
    lines = []
    for line in (REPO / "chatlab.toml").read_text(encoding="utf-8").splitlines():
        m = re.match(r"^# (\[[\w.<>]+\]|[a-z_]+ = .*)$", line)
        if m:
            lines.append(re.sub(r"\s+#.*$", "", m.group(1)))
        elif not line.startswith("#"):
            lines.append(line)
    text = "\n".join(lines) + "\n"
    assert "context_s = 30" in text and "offset_s = 12.5" in text
    conf = _load(tmp_path, text)
    assert section(conf, "align", "my_stream")["offset_s"] == 12.5 and section(conf, "asr")["vocabulary"] == ["Kappa", "PogChamp"]
