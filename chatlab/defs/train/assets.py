"""`training_set`, `adapter` and `evaluation` (with the blocking check `beats_baselines`).

Not partitioned: they read every VOD partition of `aligned_pairs` and `splits` (the split says
where a VOD's pairs go) and are keyed by the dataset version, a hash of the pairs they saw, set
as each materialization's data version. Weights never go through an IO manager: files under
data/, metadata here. Training and evaluation are slow and run in pool ``train``; the training
set reads the tables read-only (a DuckLake snapshot), so it needs no pool.
"""

import math
from typing import Any

import dagster as dg
import polars as pl

from chatlab.defs.train.resources import BaseModelResource
from chatlab.align.export import read_dataset
from chatlab.resources import ChatlabSettings
from chatlab.train import pipeline
from chatlab.train.dataset import NotEnoughPairs
from chatlab.train.evaluate import EvalConfig
from chatlab.train.generate import Guardrails, Sampling
from chatlab.train.lora import TrainConfig
from chatlab.defs.metadata import png_md, table_md
from chatlab.resources import GPU_QUEUE

TRAINING_SET = dg.AssetKey("training_set")
ADAPTER = dg.AssetKey("adapter")
EVALUATION = dg.AssetKey("evaluation")
ALL_VODS = [dg.AssetDep(k, partition_mapping=dg.AllPartitionMapping()) for k in ("aligned_pairs", "splits")]


def _cfg(settings: ChatlabSettings) -> TrainConfig:
    return TrainConfig.from_mapping(settings.section("train"))


def _num(x: Any) -> Any:
    # Dagster float metadata cannot hold NaN or inf.
    return None if isinstance(x, float) and not math.isfinite(x) else (round(x, 4) if isinstance(x, float) else x)


@dg.asset(
    key=TRAINING_SET,
    deps=ALL_VODS,
    group_name="train",
    kinds={"parquet"},
    description="Every VOD's aligned pairs, in its VOD's split, as prompt/completion rows made by the one template "
    "(transcript cut from the left to fit); data/artifacts/training_set/<dataset version>/.",
)
def training_set(context: dg.AssetExecutionContext, settings: ChatlabSettings, base_model: BaseModelResource) -> dg.MaterializeResult:
    layout = settings.layout()
    cfg = _cfg(settings)
    try:
        base = base_model.path(layout.models, cfg.base_model)
        ds = read_dataset(layout)  # the pairs at one lake snapshot: rebuildable from it (pipeline.rebuild_examples)
        ts = pipeline.build_training_set(layout, base, cfg, ds.pairs, ds.splits, lake_snapshot=ds.lake_snapshot)
    except (FileNotFoundError, LookupError, NotEnoughPairs, ValueError) as e:
        raise dg.Failure(description=str(e)) from e
    r = ts.report
    context.log.info(f"training set {ts.version}: {r.rows}")
    return dg.MaterializeResult(
        data_version=dg.DataVersion(ts.version),
        metadata={
            # The name dataset_export gives the same pairs, the snapshot they were read at, the rows made.
            "dataset_version": ts.version,
            "lake_snapshot": ds.lake_snapshot,
            "rows_sha256": ts.card["rows_sha256"],
            "path": dg.MetadataValue.path(str(ts.path)),
            **{f"pairs_{s}": n for s, n in r.rows.items()},
            **{f"vods_{s}": ", ".join(v) or "-" for s, v in r.vods.items()},
            "dropped_long_completion": r.dropped_long_completion,
            "dropped_no_split": r.dropped_no_split,
            "prompt_tokens_mean": _num(float(ts.examples["prompt_tokens"].mean() or 0.0)),
            "preview": dg.MetadataValue.md("```\n" + (ts.examples["prompt"][0] + ts.examples["completion"][0] if ts.examples.height else "") + "\n```"),
        },
    )


@dg.asset(
    key=ADAPTER,
    deps=[TRAINING_SET],
    pool="train",
    op_tags=GPU_QUEUE,
    group_name="train",
    kinds={"pytorch"},
    description="LoRA adapter (QLoRA on CUDA) trained with TRL's SFTTrainer on the training split, early stopping on "
    "validation; data/models/adapters/<dataset version>/ with its config, training args and dataset version.",
)
def adapter(context: dg.AssetExecutionContext, settings: ChatlabSettings, base_model: BaseModelResource) -> dg.MaterializeResult:
    layout = settings.layout()
    section = settings.section("train")
    cfg = TrainConfig.from_mapping(section)
    try:
        version, examples = pipeline.read_examples(layout)
        base = base_model.path(layout.models, cfg.base_model)
    except (FileNotFoundError, ValueError) as e:
        raise dg.Failure(description=str(e)) from e

    def progress(d: dict[str, Any]) -> None:
        keys = ("loss", "eval_loss", "learning_rate", "epoch")
        shown = ", ".join(f"{k} {d[k]:.4g}" for k in keys if isinstance(d.get(k), (int, float)))
        context.log.info(f"adapter {version}: step {d['step']}/{d['max_steps']} ({d['elapsed_s']} s) {shown}")

    from chatlab.train.lora import train_adapter

    try:
        res = train_adapter(base, examples, pipeline.adapters_root(layout), version, cfg, sampling=Sampling(),
                            guardrails=Guardrails.from_mapping(section), on_progress=progress,
                            extra_meta={"training_set": pipeline.provenance(layout, version)})
    except (NotEnoughPairs, RuntimeError, ValueError) as e:
        raise dg.Failure(description=str(e)) from e
    meta: dict[str, Any] = {
        "dataset_version": version,
        "lake_snapshot": pipeline.provenance(layout, version)["lake_snapshot"],
        "path": dg.MetadataValue.path(str(res.path)),
        "base_fingerprint": res.base_fingerprint,
        "device": res.device,
        "qlora": res.quantized,
        "train_rows": res.train_rows,
        "validation_rows": res.eval_rows,
        "steps": res.steps,
        "epochs": res.epochs,
        "train_seconds": res.train_seconds,
        "train_compute_seconds": res.compute_seconds,
        "tokens_per_second": res.tokens_per_second,
        "best_eval_loss": _num(res.best_eval_loss),
        "best_eval_perplexity": _num(res.best_eval_perplexity),
        "stopped_early": res.stopped_early,
        "stopped_by_time_budget": res.stopped_by_time,
    }
    plot = res.path / "loss.png"
    if plot.exists():
        meta["loss_curve"] = png_md(plot.read_bytes(), "loss")
    return dg.MaterializeResult(data_version=dg.DataVersion(version), metadata=meta)


@dg.asset(
    key=EVALUATION,
    deps=[ADAPTER],
    pool="train",
    op_tags=GPU_QUEUE,
    group_name="train",
    kinds={"pytorch"},
    check_specs=[dg.AssetCheckSpec(
        "beats_baselines", asset=EVALUATION, blocking=True,
        description="On the test split (streams never seen in training), against the base model, the base model "
        "prompted few-shot with real chat lines, TF-IDF retrieval and the most frequent training messages: completion "
        "perplexity below every one (and at least [train] min_ppl_reduction, default 20%, below the base model's); "
        "recall@1 among LiveBot's 100 candidates above every one by PMI and by raw likelihood; a real-or-generated "
        "classifier at most [train] max_discriminator_accuracy (default 0.65) accurate on the adapter's messages.",
    )],
    description="The adapter against its base model and three baselines on the test split: completion perplexity, "
    "LiveBot's 100-candidate ranking (recall@1/5/10, mean rank, MRR; PMI and raw), a real-or-generated discriminator "
    "(MiniLM embeddings and bag of words, cross-validated), the context test (context words reused, contexts swapped), "
    "distinct-1/2, self-BLEU, emote rate and length of generations; per VOD. Per-moment outputs: samples.parquet.",
)
def evaluation(context: dg.AssetExecutionContext, settings: ChatlabSettings, base_model: BaseModelResource) -> dg.MaterializeResult:
    layout = settings.layout()
    section = settings.section("train")
    cfg = TrainConfig.from_mapping(section)
    from chatlab.train.evaluate import SYSTEMS, evaluate
    from chatlab.train.lora import load_adapter_model, use_bf16

    try:
        ecfg = EvalConfig.from_mapping(section)
        version, examples = pipeline.read_examples(layout)
        adir = pipeline.adapters_root(layout) / version
        model, tok, info = load_adapter_model(adir, layout.models, cfg.base_model)
        if cfg.threads > 0:  # [train] threads holds for the evaluation's scoring too
            import torch

            torch.set_num_threads(cfg.threads)
    except (FileNotFoundError, ValueError) as e:
        raise dg.Failure(description=str(e)) from e
    split = {s: examples.filter(pl.col("split") == s) for s in ("train", "validation", "test")}
    try:
        ev = evaluate(model, tok, split["test"], ecfg, train=split["train"], validation=split["validation"], models_dir=layout.models,
                      sampling=Sampling(**info.get("sampling", {})), log=context.log.info, bf16=use_bf16(cfg.bf16, model.device.type))
    except (FileNotFoundError, ValueError) as e:
        raise dg.Failure(description=str(e)) from e
    out = pipeline.write_evaluation(layout, version, ev, adir)
    a, b = ev.adapter, ev.base
    figures = {f"{s}_{k}": _num(v) for s in SYSTEMS for k, v in ev.systems[s].items()
               if k in ("perplexity", "recall_at_1_pmi", "recall_at_1_raw", "recall_at_10_pmi", "recall_at_10_raw", "mrr_pmi",
                        "mrr_raw", "mean_rank_pmi", "mean_rank_raw")}
    disc = {f"discriminator_{s}_{k}": _num(v["accuracy"]) for s, d in ev.discriminator.items() for k, v in d.items()}
    gens = {f"gen_{who}_{k}": _num(v) for who, m in ev.generations.items() for k, v in m.items() if k in ("length_mean", "distinct_2", "emote_rate")}
    reuse = {f"context_reuse_{k}": _num(v) for k, v in ev.context["reuse_rate"].items()}
    swap = {f"swap_{s}_{k}": _num(v) for s, m in ev.context["swap"].items() for k, v in m.items() if k.startswith("recall_at_1") or k.startswith("share")}
    # The adapter's recall@1 minus each baseline's, with the paired bootstrap interval: how much a
    # win or a loss on one small test stream means.
    paired = {f"recall_at_1_{how}_minus_{s}_{k}": _num(v) for s, m in ev.paired.items() for how, d in m.items() for k, v in d.items()}
    table = pl.DataFrame([{"system": s, **{k: ev.systems[s][k] for k in ("perplexity", "recall_at_1_pmi", "recall_at_1_raw", "recall_at_5_raw",
                                                                   "recall_at_10_raw", "mrr_pmi", "mrr_raw", "mean_rank_raw")},
                           "disc_embedding": ev.discriminator[s]["embedding"]["accuracy"],
                           "disc_bag_of_words": ev.discriminator[s]["bag_of_words"]["accuracy"],
                           "length_mean": ev.generations[s]["length_mean"], "context_reuse": ev.context["reuse_rate"][s]} for s in SYSTEMS])
    shown = ev.samples.filter(pl.col("gen_adapter").is_not_null()).head(12)
    samples = "\n".join(f"| {r['real']} | {r['gen_adapter']} | {r['gen_few_shot'][:80]} | {r['gen_retrieval']} |" for r in shown.iter_rows(named=True))
    plots = {k: png_md((out / f).read_bytes(), k) for k, f in pipeline.PLOTS.items()}
    return dg.MaterializeResult(
        data_version=dg.DataVersion(version),
        metadata={
            "dataset_version": version,
            "lake_snapshot": pipeline.provenance(layout, version)["lake_snapshot"],
            "path": dg.MetadataValue.path(str(out / "evaluation.json")),
            "samples_path": dg.MetadataValue.path(str(out / "samples.parquet")),
            "systems": table_md(table),
            **figures,
            "perplexity_reduction": _num(1 - a["perplexity"] / b["perplexity"]),
            **disc, **reuse, **swap, **paired, **gens,
            "real_per_moment": _num(ev.settings["real_per_moment"]),
            # the raw score's most frequent first choice per system and its share of moments
            **{f"raw_top1_{s}": f"{t['message']} ({t['share']:.0%})" for s, t in ev.settings.get("raw_top1", {}).items() if t["message"] is not None},
            **plots,
            "per_vod": table_md(ev.per_vod),
            "samples": dg.MetadataValue.md("| real | adapter | few-shot base | retrieval |\n|---|---|---|---|\n" + samples),
            "seconds": ev.seconds,
        },
        check_results=[dg.AssetCheckResult(
            check_name="beats_baselines", passed=ev.passed, severity=dg.AssetCheckSeverity.ERROR,
            description="; ".join(ev.reasons) or "the adapter beats every baseline on perplexity and ranking, and reads as real chat",
            metadata={**{f"{s}_perplexity": _num(ev.systems[s]["perplexity"]) for s in SYSTEMS},
                      **{f"{s}_recall_at_1_pmi": _num(ev.systems[s]["recall_at_1_pmi"]) for s in SYSTEMS},
                      **{f"{s}_recall_at_1_raw": _num(ev.systems[s]["recall_at_1_raw"]) for s in SYSTEMS},
                      **{f"discriminator_adapter_{k}": _num(v["accuracy"]) for k, v in ev.discriminator["adapter"].items()},
                      "test_pairs": a["pairs"]},
        )],
    )
