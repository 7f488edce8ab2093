"""`chatlab bench train`: training throughput (tokens/s) and peak memory of the default LoRA
setup on synthetic pairs, on the CPU and, when present, on CUDA."""

from __future__ import annotations

import resource
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any


def _rss_peak_mb() -> float:
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kb / (1024 * 1024) if sys.platform == "darwin" else kb / 1024


# The CPU setup before issue 17's changes, for `chatlab bench train --compare`: LoRA on all 30
# layers, TRL's gradient checkpointing on, 96-token prompts, float32.
PREVIOUS = {"lora_layers": 0, "gradient_checkpointing": True, "max_prompt_tokens": 96, "bf16": "off"}


def bench_train(models_dir: Path, *, steps: int = 10, batch_size: int = 8, device: str = "cpu", base_model: str = "",
                pairs: int = 200, max_prompt_tokens: int | None = None, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Train ``steps`` steps on synthetic pairs; tokens/s counts every token of the batches
    (prompt + completion: the model runs over all of them), peak memory is the process RSS or
    CUDA's peak allocation."""
    import torch

    from chatlab.train.base import ensure_base_model, load_tokenizer
    from chatlab.train.dataset import build_examples, normalize_pairs, synthetic_pairs
    from chatlab.train.lora import TrainConfig, train_adapter

    base = ensure_base_model(models_dir, base_model)
    cfg = TrainConfig(max_steps=steps, batch_size=batch_size, eval_steps=10**9, patience=0, warmup_steps=1,
                      device=device, max_train_minutes=0, min_train_pairs=1)
    if overrides:
        cfg = replace(cfg, **overrides)
    if max_prompt_tokens:
        cfg = replace(cfg, max_prompt_tokens=max_prompt_tokens)
    tok = load_tokenizer(base)
    norm = normalize_pairs(synthetic_pairs(n_vods=2, per_vod=pairs // 2, splits=("train", "validation")))
    ex, _ = build_examples(norm, tok, cfg.max_prompt_tokens, cfg.max_completion_tokens)
    ex = ex.filter(ex["split"] == "train")
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    with tempfile.TemporaryDirectory() as d:
        t0 = time.monotonic()
        res = train_adapter(base, ex, Path(d), "bench", cfg)
        wall = time.monotonic() - t0
    history = res.log_history
    n_tok = max((h.get("num_tokens", 0) for h in history), default=0)
    out = {
        "device": device, "qlora": res.quantized, "steps": res.steps, "batch_size": batch_size,
        "prompt_tokens_mean": round(float(ex["prompt_tokens"].mean()), 1),
        "completion_tokens_mean": round(float(ex["completion_tokens"].mean()), 1),
        "train_seconds": res.train_seconds, "wall_seconds": round(wall, 1),
        "seconds_per_step": round(res.train_seconds / max(res.steps, 1), 2),
        "tokens_per_second": round(n_tok / res.train_seconds, 1) if res.train_seconds else None,
        "threads": torch.get_num_threads(),
    }
    if device == "cuda":
        out["peak_cuda_mb"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
    out["peak_rss_mb"] = round(_rss_peak_mb(), 1)
    return out


def speedup(results: list[dict[str, Any]], device: str) -> float:
    """Seconds per step of the previous setup over the current one's, on ``device`` (nan when
    either run is missing or took no time)."""
    def per_step(setup: str) -> float | None:
        return next((r["seconds_per_step"] for r in results if r.get("device") == device and r.get("setup") == setup), None)

    cur, prev = per_step("current"), per_step("previous")
    return prev / cur if cur and prev is not None else float("nan")
