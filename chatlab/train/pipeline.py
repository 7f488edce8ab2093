"""The three steps on the data directory, shared by the Dagster assets and the CLI:
training set (all VODs' pairs -> versioned prompt/completion files), adapter, evaluation.

Where things live (``layout`` = the data directory):
- ``artifacts/training_set/<version>/``: examples.parquet, {train,validation,test}.parquet, card.json
  (the dataset version that dataset_export gives the same pairs, the lake snapshot they were read
  at, the rows' digest); ``artifacts/training_set/CURRENT`` names the latest version;
- ``models/adapters/<version>/``: the adapter (see lora.py);
- ``artifacts/evaluation/<version>/``: evaluation.json, per_vod.parquet, samples.parquet, the plots.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from chatlab.config import Layout
from chatlab.files import replacing
from chatlab.train.dataset import (
    BuildReport,
    build_examples,
    normalize_pairs,
    require_rows,
    rows_digest,
    write_split_parquet,
)
from chatlab.train.lora import TrainConfig

CURRENT = "CURRENT"


def training_set_root(layout: Layout) -> Path:
    return layout.artifacts / "training_set"


def adapters_root(layout: Layout) -> Path:
    return layout.models / "adapters"


def evaluation_dir(layout: Layout, version: str) -> Path:
    return layout.artifacts / "evaluation" / version


def current_version(layout: Layout) -> str:
    p = training_set_root(layout) / CURRENT
    if not p.exists():
        raise FileNotFoundError(f"{p}: no training set yet; materialize `training_set` (chatlab train) first")
    return p.read_text(encoding="utf-8").strip()


def load_pairs(layout: Layout) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(aligned_pairs, splits) of every VOD, read-only from the lake; only VODs whose offsets
    passed, with their current offsets (the alignment stage's own reader)."""
    from chatlab.align.export import load_tables

    pairs, splits, _ = load_tables(layout)
    return pairs, splits


@dataclass
class TrainingSet:
    version: str
    path: Path
    report: BuildReport
    examples: pl.DataFrame
    card: dict[str, Any]


def _examples(base_dir: Path, cfg: TrainConfig, pairs: pl.DataFrame, splits: pl.DataFrame | None) -> tuple[pl.DataFrame, BuildReport, dict[str, Any]]:
    from chatlab.train.base import load_tokenizer, model_fingerprint
    from chatlab.train.prompt import TEMPLATE_VERSION

    norm = normalize_pairs(pairs, splits)
    examples, report = build_examples(norm, load_tokenizer(base_dir), cfg.max_prompt_tokens, cfg.max_completion_tokens)
    # What turned the pairs into these rows: the template, the token limits, and the base model
    # (its tokenizer cuts the prompts).
    build = {"template": TEMPLATE_VERSION, "settings": cfg.dataset_settings(), "base_fingerprint": model_fingerprint(base_dir)}
    return examples, report, build


def build_training_set(layout: Layout, base_dir: Path, cfg: TrainConfig, pairs: pl.DataFrame, splits: pl.DataFrame | None,
                       lake_snapshot: int | None = None) -> TrainingSet:
    """Normalize, template and write the training set under its dataset version (the name
    dataset_export gives the same pairs); fails clearly when too small. The card records the
    version, the lake snapshot the pairs were read at, what built the rows, and the rows' digest:
    ``rebuild_examples`` makes the same rows again from them."""
    from chatlab.align.export import dataset_version

    if splits is None:
        splits = pairs.select("vod_id", "split").unique("vod_id", keep="last")
    version = dataset_version(pairs, splits)
    examples, report, build = _examples(base_dir, cfg, pairs, splits)
    require_rows(report, cfg.min_train_pairs)
    out = training_set_root(layout) / version
    write_split_parquet(examples, out)
    with replacing(out / "examples.parquet") as tmp:
        examples.write_parquet(tmp)
    card = {"dataset_version": version, "lake_snapshot": lake_snapshot, "rows_sha256": rows_digest(examples),
            **report.to_json(), **build}
    with replacing(out / "card.json") as tmp:
        tmp.write_text(json.dumps(card, indent=2), encoding="utf-8")
    with replacing(training_set_root(layout) / CURRENT) as tmp:
        tmp.write_text(version, encoding="utf-8")
    return TrainingSet(version, out, report, examples, card)


def read_card(layout: Layout, version: str) -> dict[str, Any]:
    """The training set's card: its dataset version, lake snapshot, build and rows digest."""
    p = training_set_root(layout) / version / "card.json"
    if not p.exists():
        raise FileNotFoundError(f"{p}: no training set {version}; materialize `training_set` again")
    return json.loads(p.read_text(encoding="utf-8"))


def provenance(layout: Layout, version: str) -> dict[str, Any]:
    """What an adapter and its evaluation record of the training set they came from."""
    card = read_card(layout, version)
    return {k: card.get(k) for k in ("dataset_version", "lake_snapshot", "rows_sha256", "template", "settings", "base_fingerprint")}


class RebuildMismatch(RuntimeError):
    """The recorded snapshot no longer gives the recorded rows."""


def rebuild_examples(layout: Layout, version: str, base_dir: Path, cfg: TrainConfig | None = None) -> pl.DataFrame:
    """The training rows of ``version`` made again from the lake snapshot its card records (not
    from the files): the pairs read at that snapshot, whatever was materialized since, with the
    recorded token limits. Checked against the recorded dataset version and rows digest; a
    difference (another base model, an expired snapshot) is an error that says which."""
    from dataclasses import replace

    from chatlab.align.export import read_dataset

    card = read_card(layout, version)
    snapshot = card.get("lake_snapshot")
    if snapshot is None:
        raise RebuildMismatch(f"training set {version}: its card records no lake snapshot (built before snapshots were recorded)")
    ds = read_dataset(layout, snapshot=int(snapshot))
    if ds.version != version:
        raise RebuildMismatch(f"training set {version}: lake snapshot {snapshot} gives pairs of version {ds.version}")
    cfg = replace(cfg or TrainConfig(), **(card.get("settings") or {}))
    examples, _, build = _examples(base_dir, cfg, ds.pairs, ds.splits)
    if build["base_fingerprint"] != card.get("base_fingerprint"):
        raise RebuildMismatch(f"training set {version}: built on base model {card.get('base_fingerprint')}, not {build['base_fingerprint']} ({base_dir})")
    if rows_digest(examples) != card.get("rows_sha256"):
        raise RebuildMismatch(f"training set {version}: the rows rebuilt from lake snapshot {snapshot} differ from the recorded ones")
    return examples


def read_examples(layout: Layout, version: str | None = None) -> tuple[str, pl.DataFrame]:
    version = version or current_version(layout)
    p = training_set_root(layout) / version / "examples.parquet"
    if not p.exists():
        raise FileNotFoundError(f"{p}: training set {version} is missing; materialize `training_set` again")
    return version, pl.read_parquet(p)


PLOTS = {"ranking_curve": "ranking_curve.png", "length_histogram": "length_histogram.png", "discriminator": "discriminator.png"}


def adapter_digest(adapter_dir: str | os.PathLike) -> str:
    """SHA-256 of the adapter's weights: ties an evaluation to the exact adapter it judged."""
    from chatlab.files import sha256_file

    d = Path(adapter_dir)
    weights = sorted(d.glob("adapter_model.*"))
    if not weights:
        raise FileNotFoundError(f"{d}: no adapter_model.* weights file")
    return sha256_file(weights[0])


def write_evaluation(layout: Layout, version: str, ev: Any, adapter_dir: str | os.PathLike | None = None) -> Path:
    """evaluation.json (figures, verdict, the adapter's digest), per_vod.parquet, samples.parquet
    (one row per moment: real and generated messages, per-system scores) and the plots."""
    from chatlab.train import eval_plots

    out = evaluation_dir(layout, version)
    out.mkdir(parents=True, exist_ok=True)
    doc = ev.to_json() | {"dataset_version": version, "adapter_sha256": adapter_digest(adapter_dir) if adapter_dir else None}
    try:  # the exact rows it was judged on: the training set's lake snapshot and rows digest
        doc["training_set"] = provenance(layout, version)
    except FileNotFoundError:
        doc["training_set"] = None
    with replacing(out / "per_vod.parquet") as tmp:
        ev.per_vod.write_parquet(tmp)
    with replacing(out / "samples.parquet") as tmp:
        ev.samples.write_parquet(tmp)
    limit = ev.settings.get("eval", {}).get("max_discriminator_accuracy")
    for name, draw in (("ranking_curve", lambda p: eval_plots.ranking_curve(ev.curves, p)),
                       ("length_histogram", lambda p: eval_plots.length_histogram(ev.lengths, p)),
                       ("discriminator", lambda p: eval_plots.discriminator_bars(ev.discriminator, p, limit))):
        with replacing(out / PLOTS[name]) as tmp:
            draw(tmp)
    # Written last: a verdict is only there when everything it speaks for is.
    with replacing(out / "evaluation.json") as tmp:
        tmp.write_text(json.dumps(doc, indent=1, default=str), encoding="utf-8")
    return out


class AdapterNotApproved(RuntimeError):
    """The adapter's evaluation failed, or there is none for these exact weights."""


def check_not_forgotten(adapter_dir: str | os.PathLike) -> None:
    """A ValueError when the adapter was built from a VOD that `chatlab forget` removed: that
    stream was asked out of the data, so no flag brings its adapter back."""
    from chatlab.forget import is_stale

    mark = is_stale(adapter_dir)
    if mark is not None:
        raise ValueError(f"{adapter_dir}: {mark.get('reason') or 'built from a forgotten VOD'}; train a new adapter without it")


def check_approved(layout: Layout, adapter_dir: str | os.PathLike) -> dict[str, Any]:
    """The evaluation that passed for this adapter; AdapterNotApproved (with the reasons) when its
    check failed, when it was never evaluated, or when the weights changed since."""
    from chatlab.train.lora import read_adapter

    info = read_adapter(adapter_dir)
    version = info.get("dataset_version", "")
    p = evaluation_dir(layout, version) / "evaluation.json"
    if not version or not p.exists():
        raise AdapterNotApproved(f"{adapter_dir}: no evaluation for this adapter under {p.parent} "
                                 "(run `chatlab train --only evaluation`, or pass --force to use it anyway)")
    doc = json.loads(p.read_text(encoding="utf-8"))
    if doc.get("adapter_sha256") != adapter_digest(adapter_dir):
        raise AdapterNotApproved(f"{adapter_dir}: its weights are not the ones {p} judged (evaluate it again, or pass --force)")
    if not doc.get("passed"):
        reasons = "; ".join(doc.get("reasons") or []) or "no reasons recorded"
        raise AdapterNotApproved(f"{adapter_dir}: its evaluation failed the beats_baselines check ({reasons}); pass --force to use it anyway")
    return doc


def context_at(layout: Layout, vod_id: str, at_s: float, settings_section: dict[str, Any] | None = None) -> dict[str, Any]:
    """The context at ``at_s`` (audio clock) of a materialized VOD, built from the stored tables
    (transcript_words, chat_clean, offsets) with the alignment stage's own functions, exactly as
    its pairs were: the offset curve moves chat onto the audio clock, then ``build_context``."""
    import duckdb

    from chatlab.align.config import AlignConfig
    from chatlab.align.context import build_context
    from chatlab.align.curve import OffsetCurve
    from chatlab.align.inputs import prepare_chat, prepare_words
    from chatlab.resources import SCHEMA

    from chatlab.storage import connect

    with connect(layout) as con:
        def q(table: str) -> pl.DataFrame:
            try:
                return con.execute(f'SELECT * FROM {SCHEMA}."{table}" WHERE vod_id = ?', [vod_id]).pl()
            except duckdb.CatalogException as e:
                raise LookupError(f"table {table} missing: materialize VOD {vod_id} first") from e
        offsets, words, chat = q("offsets"), q("transcript_words"), q("chat_clean")
    if offsets.height == 0:
        raise LookupError(f"VOD {vod_id!r}: no offsets; materialize it first (chatlab materialize {vod_id})")
    o = offsets.row(0, named=True)
    if not o.get("passed", True):
        raise ValueError(f"VOD {vod_id!r}: its offsets did not pass alignment_confident ({o.get('problems')}); no context to build")
    cfg = AlignConfig.from_mapping(settings_section or {})
    curve = OffsetCurve.from_list(json.loads(o["segments"]))
    kept = prepare_chat(chat)
    on_audio = kept.select("text").with_columns(pl.Series("t_s", curve.to_speech(kept["t_s"].to_numpy())))
    return build_context(prepare_words(words), on_audio, float(at_s), context_s=cfg.context_s, chat_k=cfg.chat_k,
                         not_before=float(curve.cut_before(at_s)[0]))


def ensure_dir_is_adapter(path: str | os.PathLike) -> Path:
    from chatlab.train.lora import read_adapter

    read_adapter(path)
    return Path(path)
