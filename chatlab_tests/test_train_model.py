"""Training stage with the real bundled SmolLM2-135M (converted once per session): a few-step LoRA
run on CPU, template parity between training and generation, packed scoring against a plain
forward pass, `beats_baselines` failing on an untrained adapter, the sentence encoder, the Dagster
assets, the CLI (and `generate` refusing an adapter that failed its check)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import polars as pl
import pytest

from chatlab.train.base import ensure_base_model, load_model, load_tokenizer, model_fingerprint
from chatlab.train.dataset import build_examples, normalize_pairs, synthetic_pairs, token_rows
from chatlab.train.lora import ADAPTER_STAMP, TrainConfig, load_adapter_model, read_adapter, resolve_base, train_adapter
from chatlab.storage import connect

pytestmark = pytest.mark.slow

TINY = TrainConfig(max_steps=3, batch_size=2, eval_steps=3, patience=0, warmup_steps=0, max_prompt_tokens=48,
                   max_completion_tokens=16, max_eval_rows=4, min_train_pairs=4, learning_rate=2e-3)


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("models")
    ensure_base_model(d)  # the GGUF -> checkpoint conversion, once for the session
    return d


@pytest.fixture(scope="session")
def base_dir(models_dir: Path) -> Path:
    return ensure_base_model(models_dir)


@pytest.fixture(scope="session")
def tok(base_dir: Path):
    return load_tokenizer(base_dir)


@pytest.fixture(scope="session")
def examples(tok) -> pl.DataFrame:
    ex, _ = build_examples(normalize_pairs(synthetic_pairs(per_vod=8)), tok, TINY.max_prompt_tokens, TINY.max_completion_tokens)
    return ex


@pytest.fixture(scope="session")
def trained(base_dir: Path, examples: pl.DataFrame, tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("adapters")
    seen = []
    res = train_adapter(base_dir, examples, out, "v1", TINY, on_progress=seen.append)
    return res, seen


def test_conversion_is_done_once_and_stamped(models_dir: Path, base_dir: Path):
    stamp = json.loads((base_dir / "chatlab-base.json").read_text())
    assert stamp["architecture"] == "LlamaForCausalLM" and len(stamp["source_sha256"]) == 64
    mtime = (base_dir / "model.safetensors").stat().st_mtime
    assert ensure_base_model(models_dir) == base_dir
    assert (base_dir / "model.safetensors").stat().st_mtime == mtime  # reused, not converted again
    assert "quantization_config" not in json.loads((base_dir / "config.json").read_text())
    assert model_fingerprint(base_dir).startswith("gguf-")


def test_lora_run_writes_a_finished_adapter(trained, base_dir: Path):
    res, seen = trained
    assert res.steps == 3 and res.device == "cpu" and not res.quantized
    assert any("loss" in s for s in seen) and any("eval_loss" in s for s in seen)  # progress reported
    d = res.path
    for name in ("adapter_model.safetensors", "adapter_config.json", "training_args.json", "train_config.json",
                 "log_history.json", "loss.png", ADAPTER_STAMP, "train_messages.json"):
        assert (d / name).exists(), name
    assert not (d / "checkpoints").exists()
    assert [p.name for p in d.parent.iterdir() if p.name.startswith(".")] == []  # no temp dirs left
    info = read_adapter(d)
    assert info["dataset_version"] == "v1" and info["base_fingerprint"] == model_fingerprint(base_dir)
    assert info["sampling"]["temperature"] > 0 and info["train_config"]["seed"] == 42
    assert resolve_base(d, base_dir.parent.parent) == base_dir


def test_lora_on_the_last_layers_only(base_dir: Path, examples: pl.DataFrame, tmp_path: Path):
    """lora_layers = 2: adapter weights on every linear module of the last two decoder layers and
    nowhere else; no gradient checkpointing on the CPU (TRL's default would recompute activations)."""
    from dataclasses import replace

    from safetensors import safe_open

    res = train_adapter(base_dir, examples, tmp_path, "v", replace(TINY, max_steps=1, lora_layers=2))
    with safe_open(str(res.path / "adapter_model.safetensors"), "pt") as f:
        keys = list(f.keys())
    layers = {int(k.split(".layers.")[1].split(".")[0]) for k in keys}
    n = json.loads((base_dir / "config.json").read_text())["num_hidden_layers"]
    assert layers == {n - 2, n - 1}
    assert {k.split(".lora_")[0].rsplit(".", 1)[-1] for k in keys} == {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"}
    args = json.loads((res.path / "training_args.json").read_text())
    assert args["activation_checkpointing"] is False


def test_template_parity_training_generation_scoring(trained, tok, examples: pl.DataFrame, models_dir: Path):
    """The ids trained on, the prompt generation builds and the prompt scoring uses are the same."""
    import torch

    from chatlab.train.dataset import context_of
    from chatlab.train.scoring import score_candidates
    from chatlab.train.generate import Filter, Guardrails, Sampling, generate_messages

    row = examples.filter(pl.col("split") == "test").row(0, named=True)
    train_ids = token_rows(pl.DataFrame([row]), tok)[0]
    model, tok2, info = load_adapter_model(trained[0].path, models_dir)
    g = generate_messages(model, tok2, context_of(row), n=2, sampling=Sampling(max_new_tokens=8), rails=Filter(Guardrails()),
                          max_prompt_tokens=TINY.max_prompt_tokens, seed=0)
    assert g.prompt == row["prompt"]
    n_prompt = train_ids["completion_mask"].index(1)
    assert tok2(g.prompt, add_special_tokens=False)["input_ids"] == train_ids["input_ids"][:n_prompt]
    assert len(g.messages) + len(g.rejected) >= 2
    # cached candidate scoring == a plain forward pass over prompt + completion
    cands = [row["completion"], "gg", "that sword is huge LUL"]
    scored = score_candidates(model, tok2, row["prompt"], cands)
    ids = train_ids["input_ids"]
    with torch.no_grad():
        lp = torch.log_softmax(model(input_ids=torch.tensor([ids])).logits[0].float(), -1)
    full = sum(float(lp[j - 1, ids[j]]) for j in range(n_prompt, len(ids)))
    assert scored[0][0] == pytest.approx(full, abs=1e-3) and scored[0][1] == len(ids) - n_prompt
    # bfloat16 scoring (where this CPU has it) stays near float32, and leaves the model as it was
    from chatlab.train.lora import cpu_has_bf16
    from chatlab.train.scoring import precision

    if cpu_has_bf16():
        with precision(model, True):
            low = score_candidates(model, tok2, row["prompt"], cands)
        assert [n for _, n in low] == [n for _, n in scored]
        assert max(abs(a - b) for (a, _), (b, _) in zip(low, scored)) < 0.1 * max(abs(a) for a, _ in scored)
        assert "forward" not in vars(model.get_output_embeddings())
    assert score_candidates(model, tok2, row["prompt"], cands) == scored


def test_exported_messages_are_the_training_prompt_under_the_models_chat_template(tok):
    """The dataset export's conversational `prompt`, run through SmolLM2's own chat template, is
    byte for byte the ChatML prompt chatlab trains on."""
    from chatlab.train.prompt import Context, messages, render

    for ctx in (Context.of("we finally beat the dragon", ["LUL", "gg"], "Boss rush", "Streamer"), Context.of("", [])):
        assert tok.apply_chat_template(messages(ctx), tokenize=False, add_generation_prompt=True) == render(ctx)


SMALL_EVAL = dict(n_candidates=8, n_popular=2, n_similar=2, max_eval_pairs=6, max_ranked_pairs=4, cv_folds=2, few_shot_lines=3)


def test_beats_baselines_fails_on_an_untrained_adapter(base_dir: Path, tok, examples: pl.DataFrame, models_dir: Path):
    from peft import LoraConfig, get_peft_model

    from chatlab.train.evaluate import SAMPLE_COLUMNS, SYSTEMS, EvalConfig, evaluate

    model = get_peft_model(load_model(base_dir), LoraConfig(r=4, target_modules="all-linear", task_type="CAUSAL_LM"))
    split = {s: examples.filter(pl.col("split") == s) for s in ("train", "validation", "test")}
    from chatlab.train.generate import Sampling

    ev = evaluate(model, tok, split["test"], EvalConfig(**SMALL_EVAL), train=split["train"], validation=split["validation"],
                  models_dir=models_dir, sampling=Sampling(max_new_tokens=8))
    assert ev.adapter["perplexity"] == pytest.approx(ev.base["perplexity"], rel=1e-4)  # LoRA B=0: the base model
    assert math.isnan(ev.base["recall_at_1_raw"]) and not math.isnan(ev.systems["few_shot"]["recall_at_1_raw"])  # base: perplexity only
    assert not ev.passed and any("perplexity" in r and "base" in r for r in ev.reasons)
    assert set(ev.systems) == set(SYSTEMS) and set(ev.discriminator) == {*SYSTEMS, "real_validation"}
    assert all(0.0 <= d[k]["accuracy"] <= 1.0 for d in ev.discriminator.values() for k in ("embedding", "bag_of_words"))
    assert ev.settings["candidates_per_moment"] == 8 and len(ev.curves["adapter"]["raw"]) == 8 and ev.curves["frequency"]["pmi"] == []
    assert math.isnan(ev.systems["frequency"]["recall_at_1_pmi"]) and ev.systems["retrieval"]["perplexity"] > 1
    assert dict(ev.samples.schema) == SAMPLE_COLUMNS and ev.samples.height == 6
    assert ev.samples["gen_adapter"].null_count() == 0 and ev.samples["rank_pmi_frequency"].null_count() == 6
    assert ev.samples["rank_pmi_adapter"].null_count() == 2 and ev.adapter["pairs"] == 4  # 4 of the 6 moments ranked
    assert set(ev.context["swap"]) == {"adapter", "retrieval"} and "real" in ev.context["reuse_rate"]
    assert ev.per_vod.height == 1 and set(ev.generations) == {*SYSTEMS, "real"}
    tops = ev.settings["raw_top1"]  # every ranked system's most frequent raw first choice, a candidate of its moments
    assert set(tops) == {"adapter", "few_shot", "retrieval", "frequency"} and all(0.25 <= t["share"] <= 1 for t in tops.values())


def test_sentence_encoder_from_the_package(models_dir: Path):
    from chatlab.train.discriminator import SentenceEncoder, encoder_dir

    d = encoder_dir(models_dir)
    assert encoder_dir(models_dir) == d and (d / "model.safetensors").exists()
    e = SentenceEncoder(d).encode(["the dragon is huge", "that dragon is enormous", "what time is the train"])
    assert e.shape == (3, 384) and abs(float((e[0] ** 2).sum()) - 1) < 1e-4
    assert float(e[0] @ e[1]) > float(e[0] @ e[2]) + 0.2


def test_adapter_from_another_base_model_is_refused(trained, tmp_path: Path):
    import shutil

    d = tmp_path / "adapter"
    shutil.copytree(trained[0].path, d)
    info = json.loads((d / ADAPTER_STAMP).read_text())
    info["base_fingerprint"] = "hf-0000000000000000"
    (d / ADAPTER_STAMP).write_text(json.dumps(info))
    with pytest.raises(ValueError, match="trained on base model hf-0000000000000000"):
        resolve_base(d, trained[0].path.parent.parent)
    with pytest.raises(FileNotFoundError, match="not a finished chatlab adapter"):
        read_adapter(tmp_path)


def test_too_few_pairs_writes_nothing(base_dir: Path, examples: pl.DataFrame, tmp_path: Path):
    from chatlab.train.dataset import NotEnoughPairs

    with pytest.raises(NotEnoughPairs, match="at least 50"):
        train_adapter(base_dir, examples, tmp_path, "v", TrainConfig(min_train_pairs=50))
    assert list(tmp_path.iterdir()) == []


def _seed_tables(layout, pairs: pl.DataFrame) -> None:
    """aligned_pairs / splits / offsets as the alignment stage writes them (only what we read)."""
    import duckdb

    from chatlab.align.pairs import PAIR_COLUMNS

    p = pairs.rename({"t_speech": "t_speech_s", "context_text": "transcript"}).with_columns(
        pl.col("context_chat").list.join("\n").alias("chat_context"), pl.lit("ov1").alias("offsets_version"))
    full = p.with_columns([pl.lit(None, dtype=t).alias(c) for c, t in PAIR_COLUMNS.items() if c not in p.columns]).select(list(PAIR_COLUMNS))
    splits = p.select("vod_id", "split").unique()
    offsets = splits.select("vod_id", pl.lit(True).alias("passed"), pl.lit("ov1").alias("offsets_version"))
    with connect(layout, read_only=False) as con:
        con.execute("CREATE SCHEMA chatlab")
        for name, df in (("aligned_pairs", full), ("splits", splits), ("offsets", offsets)):
            con.register("df", df.to_arrow())
            con.execute(f"CREATE TABLE chatlab.{name} AS SELECT * FROM df")
            con.unregister("df")


def test_dagster_assets_and_cli(layout, instance, models_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """training_set -> adapter -> evaluation through Dagster, then `chatlab generate` on the adapter."""
    import shutil

    import dagster as dg

    from chatlab.defs.train import adapter, evaluation, training_set
    from chatlab.defs.train.resources import BaseModelResource
    from chatlab.resources import ChatlabSettings

    shutil.copytree(models_dir / "base", layout.models / "base")  # the converted base, not converted again
    _seed_tables(layout, synthetic_pairs(per_vod=8))
    Path(tmp_path / "chatlab.toml").write_text(
        "[train]\nmax_steps = 2\nbatch_size = 2\neval_steps = 2\nwarmup_steps = 0\nmax_prompt_tokens = 48\n"
        "max_completion_tokens = 16\nmin_train_pairs = 4\nmax_eval_rows = 4\n"
        "n_candidates = 8\nn_popular = 2\nn_similar = 2\nmax_eval_pairs = 6\nmax_ranked_pairs = 4\ncv_folds = 2\nfew_shot_lines = 3\n")
    res = dg.materialize([training_set, adapter, evaluation], instance=instance, raise_on_error=False,
                         resources={"settings": ChatlabSettings(), "base_model": BaseModelResource()})
    # 2 steps on synthetic pairs do not beat the baselines: the blocking check fails the evaluation step.
    failed = [e.step_key for e in res.all_events if e.is_step_failure]
    checks = {c.check_name: c for c in res.get_asset_check_evaluations()}
    assert failed == ["evaluation"] and not checks["beats_baselines"].passed
    mats = {m.asset_key.to_user_string(): m.materialization.metadata for m in res.get_asset_materialization_events()}
    version = mats["training_set"]["dataset_version"].value
    assert mats["adapter"]["dataset_version"].value == version and mats["adapter"]["steps"].value == 2
    assert "loss_curve" in mats["adapter"] and "per_vod" in mats["evaluation"] and "ranking_curve" in mats["evaluation"]
    assert "%)" in mats["evaluation"]["raw_top1_adapter"].value
    adir = layout.models / "adapters" / version
    assert (adir / ADAPTER_STAMP).exists()
    edir = layout.artifacts / "evaluation" / version
    assert all((edir / f).exists() for f in ("per_vod.parquet", "samples.parquet", "ranking_curve.png", "discriminator.png"))

    from chatlab.cli import main
    from chatlab.train.pipeline import AdapterNotApproved, check_approved

    gen = ["generate", "--adapter", str(adir), "--context", "I found a dragon over here", "--chat", "hi chat", "-n", "2", "--seed", "1", "--json"]
    with pytest.raises(AdapterNotApproved, match="failed the beats_baselines check"):
        check_approved(layout, adir)
    assert main(gen) == 1  # refused: its check failed
    assert main([*gen, "--force"]) in (0, 1)  # 1 only when the guardrails rejected every sample
    doc = json.loads((edir / "evaluation.json").read_text())
    (edir / "evaluation.json").write_text(json.dumps(doc | {"passed": True}))
    assert check_approved(layout, adir)["passed"]
    (edir / "evaluation.json").write_text(json.dumps(doc | {"passed": True, "adapter_sha256": "0" * 64}))
    with pytest.raises(AdapterNotApproved, match="not the ones"):
        check_approved(layout, adir)
    assert main(["generate", "--context", "x", "--vod", "a", "--at", "1"]) == 1  # both: a clear error
    assert main(["export-model", "--adapter", str(adir), "--out", str(tmp_path / "merged"), "--gguf"]) == 1  # no llama.cpp here
    assert (tmp_path / "merged" / "model.safetensors").exists()  # the merge itself is written
