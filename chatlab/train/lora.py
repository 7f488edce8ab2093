"""The LoRA adapter: supervised fine-tuning with TRL's ``SFTTrainer`` and a PEFT ``LoraConfig``
on prompt/completion rows (loss on the completion only), early stopping on the validation split.

QLoRA (bitsandbytes 4-bit base weights) when CUDA and bitsandbytes are there, plain LoRA in float32
on the CPU. Everything is written into a hidden temporary directory beside the target and renamed
to ``<adapters>/<version>/`` at the end; ``chatlab-adapter.json``, written last, marks a finished
adapter, so nothing half-written ever looks like one.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import polars as pl

from chatlab.train.base import model_fingerprint
from chatlab.train.dataset import cap_repeats, drop_context, token_rows
from chatlab.train.generate import Guardrails, Sampling, normalize_message
from chatlab.files import swap_in_dir

ADAPTER_STAMP = "chatlab-adapter.json"
TRAIN_MESSAGES = "train_messages.json"  # hashes of the training targets, for the copy filter


@dataclass(frozen=True)
class TrainConfig:
    """The `[train]` settings, defaults for a laptop CPU."""

    base_model: str = ""  # empty: bundled SmolLM2-135M-Instruct; else a local HF model directory
    seed: int = 42
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    target_modules: str = "all-linear"
    # LoRA on the last N decoder layers only (0: all). Backpropagation then stops at the lowest
    # adapted layer: on the CPU the steps are cheaper and the budget buys more of them.
    # The last 10 of SmolLM2-135M's 30: a step costs half the CPU time of all 30 (measured), and
    # the validation stream's loss kept falling to step 100 of 100.
    lora_layers: int = 10
    learning_rate: float = 1e-3
    epochs: float = 4.0  # about 200 steps on the demo's two training streams
    max_steps: int = -1  # > 0 overrides epochs
    # Batch 4: twice the optimizer steps of batch 8 for the same tokens; on the CPU the time budget
    # (not the data) ends training, and the validation loss was still falling at batch 8's last step.
    batch_size: int = 4
    grad_accum: int = 1
    warmup_steps: int = 5
    eval_steps: int = 25
    patience: int = 3  # evaluations without improvement before stopping
    # The template, the last chat lines and the newest ~15-25 words (chat reacts to the last
    # sentence, about 4 s back); every prompt token costs CPU time in each step and each score.
    max_prompt_tokens: int = 80
    max_completion_tokens: int = 40
    max_eval_rows: int = 24  # validation rows used for early stopping (a sample keeps it quick)
    max_train_minutes: float = 6.0  # stop (keeping the best checkpoint) past this much compute (see compute_seconds)
    min_train_pairs: int = 20
    quantize: str = "auto"  # auto: 4-bit QLoRA when CUDA + bitsandbytes, else none; "4bit" | "none"
    device: str = "auto"  # auto | cpu | cuda
    threads: int = 0  # torch CPU threads; 0 = torch's default
    # Recompute activations in the backward pass (saves memory, costs a forward pass per step):
    # worth it for a big model on a card, not for a 135M model on the CPU. TRL turns it on unless told.
    gradient_checkpointing: bool = False
    lr_scheduler: str = "cosine"  # any transformers scheduler name
    # Share of training rows whose prompt is the empty-context one (prompt.null_prompt): what
    # `chatlab generate` sends with no --context, which the model otherwise never saw (see
    # dataset.drop_context). The validation rows keep their contexts. (The evaluation's PMI prior
    # is the marginal over validation moments, not this prompt: see evaluate.py.)
    context_dropout: float = 0.1
    # Training rows of one message per VOD kept at most (dataset.cap_repeats; 0 keeps every copy).
    # With every copy the adapter's top raw-likelihood candidate on a new stream was the training
    # streams' most repeated line, and it lost LiveBot's raw ranking to a unigram model (demo_04:
    # raw recall@1 0.037 against 0.087; with 1, 0.100 on the same moments).
    max_repeats_per_stream: int = 1
    # bfloat16 mixed precision (weights and the optimizer stay float32): "auto" uses it on a CUDA
    # card that has it and on a CPU with native bfloat16 (AVX512-BF16 or AMX), where a step costs
    # about half the CPU time of float32 (measured); "on" | "off" force it. The evaluation's
    # scoring and generation follow the same setting (see use_bf16).
    bf16: str = "auto"

    @classmethod
    def from_mapping(cls, section: dict[str, Any]) -> "TrainConfig":
        """The section's settings over its ``preset``'s (see PRESETS) over the defaults. Keys and
        types are checked by chatlab.settings against the whole ``[train]`` section (the
        evaluation's and the guardrails' keys live there too)."""
        from chatlab.settings import values as checked

        given = checked("train", section)
        preset = given.get("preset", "cpu")
        if preset not in PRESETS:
            raise ValueError(f"[train] preset = {preset!r}: expected one of {sorted(PRESETS)}")
        mine = {k: v for k, v in given.items() if k in {f.name for f in fields(cls)}}
        return cls(**(PRESETS[preset] | mine))

    def dataset_settings(self) -> dict[str, Any]:
        """The settings that shape the training rows (part of the dataset version)."""
        return {"max_prompt_tokens": self.max_prompt_tokens, "max_completion_tokens": self.max_completion_tokens}


# `[train] preset = "gpu"`: a card with CUDA and bitsandbytes, and a bigger base model directory
# in `base_model` (any local Hugging Face causal LM, e.g. SmolLM2-1.7B-Instruct downloaded by the
# user): 4-bit QLoRA, longer prompts, bigger batches, the learning rate usual for QLoRA, no time
# budget. Any key set beside it wins over the preset.
PRESETS: dict[str, dict[str, Any]] = {
    "cpu": {},
    "gpu": {"device": "cuda", "quantize": "4bit", "gradient_checkpointing": True, "lora_layers": 0, "batch_size": 16, "max_prompt_tokens": 256, "learning_rate": 2e-4,
            "lora_r": 32, "lora_alpha": 64, "epochs": 3.0, "eval_steps": 25, "max_eval_rows": 256, "max_train_minutes": 0.0},
}


@dataclass
class TrainResult:
    path: Path
    version: str
    base_fingerprint: str
    train_rows: int
    eval_rows: int
    steps: int
    epochs: float
    train_seconds: float
    tokens_per_second: float
    best_eval_loss: float | None
    stopped_early: bool
    stopped_by_time: bool
    quantized: bool
    device: str
    compute_seconds: float = 0.0  # what the time budget counted (compute_seconds): the same under load
    log_history: list[dict[str, Any]] = field(default_factory=list)

    @property
    def best_eval_perplexity(self) -> float | None:
        return math.exp(self.best_eval_loss) if self.best_eval_loss is not None else None


def resolve_device(device: str = "auto") -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device 'cuda' asked for, but torch sees no CUDA device")
    return device


def cpu_has_bf16() -> bool:
    """True when this CPU runs bfloat16 matrix products natively (oneDNN's test)."""
    import torch

    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def use_bf16(setting: str, device: str) -> bool:
    """Whether bfloat16 mixed precision is on for ``setting`` (auto | on | off) on ``device``."""
    import torch

    if setting not in ("auto", "on", "off"):
        raise ValueError(f"[train] bf16 = {setting!r}: expected auto, on or off")
    if setting == "off":
        return False
    if device == "cuda":
        ok = torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    else:
        ok = cpu_has_bf16()
    if setting == "on" and not ok:
        raise RuntimeError(f"[train] bf16 = 'on', but this {device} has no native bfloat16; use 'auto' or 'off'")
    return ok


def _want_4bit(cfg: TrainConfig, device: str) -> bool:
    if cfg.quantize == "none" or device != "cuda":
        if cfg.quantize == "4bit" and device != "cuda":
            raise RuntimeError("quantize = '4bit' (QLoRA) needs a CUDA device; use 'auto' or 'none' on the CPU")
        return False
    try:
        import bitsandbytes  # noqa: F401
    except ImportError:
        if cfg.quantize == "4bit":
            raise RuntimeError("quantize = '4bit' needs bitsandbytes (pip install bitsandbytes)") from None
        return False
    return True


def load_for_training(base_dir: Path, cfg: TrainConfig, device: str):
    import torch
    from transformers import AutoModelForCausalLM

    if _want_4bit(cfg, device):
        from peft import prepare_model_for_kbit_training
        from transformers import BitsAndBytesConfig

        q = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                               bnb_4bit_compute_dtype=torch.bfloat16)
        model = AutoModelForCausalLM.from_pretrained(str(base_dir), quantization_config=q, device_map={"": 0})
        return prepare_model_for_kbit_training(model, use_gradient_checkpointing=cfg.gradient_checkpointing), True
    dtype = torch.bfloat16 if device == "cuda" and torch.cuda.is_bf16_supported() else torch.float32
    return AutoModelForCausalLM.from_pretrained(str(base_dir), dtype=dtype).to(device), False


def _last_layers(model: Any, n: int) -> list[int] | None:
    """Indices of the last ``n`` decoder layers (None: every layer)."""
    total = int(getattr(model.config, "num_hidden_layers", 0) or 0)
    if n <= 0 or not total or n >= total:
        return None
    return list(range(total - n, total))


def _target_list(model: Any, targets: str) -> list[str]:
    """``targets`` as module names (PEFT takes a layer subset only with a list): "all-linear" is
    every linear layer's name inside the decoder layers, else a comma-separated list."""
    if targets != "all-linear":
        return [t.strip() for t in targets.split(",") if t.strip()]
    import torch

    return sorted({name.rsplit(".", 1)[-1] for name, mod in model.named_modules()
                   if isinstance(mod, torch.nn.Linear) and ".layers." in name})


def _messages_digest(texts: list[str]) -> list[str]:
    """Hashes of the normalized training messages: the copy filter needs membership, not the text."""
    return sorted({hashlib.sha256(normalize_message(t).encode()).hexdigest()[:20] for t in texts if normalize_message(t)})


def loss_plot(log_history: list[dict[str, Any]], path: Path) -> Path | None:
    """Training and validation loss against the step, as a PNG (None when nothing was logged)."""
    train = [(h["step"], h["loss"]) for h in log_history if "loss" in h and "step" in h]
    evals = [(h["step"], h["eval_loss"]) for h in log_history if "eval_loss" in h and "step" in h]
    if not train and not evals:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.2), dpi=100)
    if train:
        ax.plot(*zip(*train), label="train (completion tokens)")
    if evals:
        ax.plot(*zip(*evals), "o-", label="validation")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def compute_seconds() -> float:
    """The process's CPU time divided by torch's threads: the wall-clock time on an idle machine.
    The training budget counts this, so an adapter does the same work (and comes out the same)
    whatever else loads the machine; under load it takes longer in wall-clock time instead."""
    import torch

    return time.process_time() / max(torch.get_num_threads(), 1)


def _progress_callback(on_progress: Callable[[dict[str, Any]], None] | None, max_seconds: float):
    from transformers import TrainerCallback

    class Progress(TrainerCallback):
        """Logs to the caller and stops (keeping the best checkpoint) past the time budget."""

        def __init__(self) -> None:
            self.start = time.monotonic()
            self.cpu_start = compute_seconds()
            self.stopped_by_time = False

        def on_log(self, args, state, control, logs=None, **kw):
            if on_progress and logs:
                on_progress({"step": state.global_step, "max_steps": state.max_steps, "elapsed_s": round(time.monotonic() - self.start, 1),
                             "compute_s": round(compute_seconds() - self.cpu_start, 1), **logs})

        def on_step_end(self, args, state, control, **kw):
            if max_seconds > 0 and compute_seconds() - self.cpu_start > max_seconds and not control.should_training_stop:
                self.stopped_by_time = True
                control.should_training_stop = True
                # Evaluate and save now, so the best checkpoint includes the last steps.
                control.should_evaluate = True
                control.should_save = True
            return control

    return Progress()


def train_adapter(
    base_dir: str | os.PathLike,
    examples: pl.DataFrame,
    out_root: str | os.PathLike,
    version: str,
    cfg: TrainConfig | None = None,
    *,
    sampling: Sampling | None = None,
    guardrails: Guardrails | None = None,
    extra_meta: dict[str, Any] | None = None,
    on_progress: Callable[[dict[str, Any]], None] | None = None,
) -> TrainResult:
    """Train a LoRA adapter on ``examples`` (``split`` train; validation for early stopping) and
    write it to ``<out_root>/<version>/`` (replacing a previous one of the same version)."""
    import torch
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import EarlyStoppingCallback, set_seed
    from trl import SFTConfig, SFTTrainer

    from chatlab.train.base import load_tokenizer

    cfg = cfg or TrainConfig()
    base_dir = Path(base_dir)
    out_root = Path(out_root)
    device = resolve_device(cfg.device)
    if cfg.threads > 0:
        torch.set_num_threads(cfg.threads)
    set_seed(cfg.seed)
    tok = load_tokenizer(base_dir)
    every_train = examples.filter(pl.col("split") == "train")
    train_df = cap_repeats(every_train, cfg.max_repeats_per_stream)
    eval_df = examples.filter(pl.col("split") == "validation")
    if train_df.height < cfg.min_train_pairs:
        from chatlab.train.dataset import NotEnoughPairs

        raise NotEnoughPairs(f"{train_df.height} training pairs; at least {cfg.min_train_pairs} are needed (min_train_pairs)")
    if eval_df.height > cfg.max_eval_rows:
        eval_df = eval_df.sample(cfg.max_eval_rows, seed=cfg.seed)
    train_ds = Dataset.from_list(token_rows(drop_context(train_df, cfg.context_dropout, cfg.seed), tok))
    eval_ds = Dataset.from_list(token_rows(eval_df, tok)) if eval_df.height else None

    out_root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{version}-", dir=out_root))
    try:
        model, quantized = load_for_training(base_dir, cfg, device)
        layers = _last_layers(model, cfg.lora_layers)
        lora = LoraConfig(r=cfg.lora_r, lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout,
                          target_modules=_target_list(model, cfg.target_modules) if layers else cfg.target_modules,
                          task_type="CAUSAL_LM", layers_to_transform=layers)
        has_eval = eval_ds is not None
        args = SFTConfig(
            output_dir=str(tmp / "checkpoints"),
            seed=cfg.seed,
            data_seed=cfg.seed,
            learning_rate=cfg.learning_rate,
            num_train_epochs=cfg.epochs,
            max_steps=cfg.max_steps,
            per_device_train_batch_size=cfg.batch_size,
            per_device_eval_batch_size=cfg.batch_size,
            gradient_accumulation_steps=cfg.grad_accum,
            warmup_steps=cfg.warmup_steps,
            lr_scheduler_type=cfg.lr_scheduler,
            activation_checkpointing=cfg.gradient_checkpointing,
            logging_steps=1,
            eval_strategy="steps" if has_eval else "no",
            eval_steps=cfg.eval_steps,
            save_strategy="steps" if has_eval else "no",
            save_steps=cfg.eval_steps,
            save_total_limit=2,
            save_only_model=True,
            load_best_model_at_end=has_eval,
            metric_for_best_model="eval_loss" if has_eval else None,
            greater_is_better=False,
            max_length=None,  # rows are cut by the template already; TRL's cut would drop completions
            completion_only_loss=True,
            packing=False,
            padding_free=False,
            bf16=use_bf16(cfg.bf16, device),
            fp16=False,
            use_cpu=device == "cpu",
            report_to="none",
            dataloader_num_workers=0,
            disable_tqdm=True,
        )
        progress = _progress_callback(on_progress, cfg.max_train_minutes * 60)
        callbacks = [progress]
        if has_eval and cfg.patience > 0:
            callbacks.append(EarlyStoppingCallback(early_stopping_patience=cfg.patience))
        trainer = SFTTrainer(model=model, args=args, train_dataset=train_ds, eval_dataset=eval_ds,
                             processing_class=tok, peft_config=lora, callbacks=callbacks)
        from transformers.trainer_callback import PrinterCallback

        trainer.remove_callback(PrinterCallback)  # progress goes through on_progress, not print()
        t0 = time.monotonic()
        out = trainer.train()
        train_s = time.monotonic() - t0
        compute_s = compute_seconds() - progress.cpu_start
        state = trainer.state
        history = list(state.log_history)
        n_tokens = sum(len(r) for r in train_ds["input_ids"])
        epochs_done = float(state.epoch or 0.0)

        trainer.model.save_pretrained(str(tmp))
        tok.save_pretrained(str(tmp))
        shutil.rmtree(tmp / "checkpoints", ignore_errors=True)
        (tmp / "training_args.json").write_text(args.to_json_string(), encoding="utf-8")
        (tmp / "log_history.json").write_text(json.dumps(history, indent=1), encoding="utf-8")
        # the copy filter knows every training message, the capped copies too
        (tmp / TRAIN_MESSAGES).write_text(json.dumps(_messages_digest(every_train["completion"].to_list())), encoding="utf-8")
        loss_plot(history, tmp / "loss.png")
        best = state.best_metric if has_eval else None
        max_steps = state.max_steps or 0
        stopped_early = has_eval and state.global_step < max_steps and not progress.stopped_by_time
        result = TrainResult(
            path=out_root / version, version=version, base_fingerprint=model_fingerprint(base_dir),
            train_rows=train_df.height, eval_rows=eval_df.height, steps=state.global_step, epochs=round(epochs_done, 3),
            train_seconds=round(train_s, 1), tokens_per_second=round(n_tokens * epochs_done / max(train_s, 1e-9), 1),
            best_eval_loss=best, stopped_early=stopped_early, stopped_by_time=progress.stopped_by_time,
            quantized=quantized, device=device, compute_seconds=round(compute_s, 1), log_history=history,
        )
        stamp = {
            "dataset_version": version,
            "base_model": _portable(base_dir),
            "base_fingerprint": result.base_fingerprint,
            "train_config": asdict(cfg),
            "sampling": asdict(sampling or Sampling()),
            "guardrails": asdict(guardrails or Guardrails()),
            "result": {k: v for k, v in asdict(result).items() if k not in ("path", "log_history")},
            "train_loss": out.training_loss,
            **(extra_meta or {}),
        }
        (tmp / "train_config.json").write_text(json.dumps(asdict(cfg), indent=2), encoding="utf-8")
        (tmp / ADAPTER_STAMP).write_text(json.dumps(stamp, indent=2, default=str), encoding="utf-8")
        swap_in_dir(tmp, result.path)
        return result
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _portable(path: Path) -> str:
    """The base model's path as stored with the adapter: relative to the data directory's models
    folder when it lies there (data can move between machines), else as given."""
    parts = Path(path).resolve().parts
    if "models" in parts:
        i = len(parts) - 1 - parts[::-1].index("models")
        return str(Path(*parts[i:]))
    return str(path)


def read_adapter(adapter_dir: str | os.PathLike) -> dict[str, Any]:
    """The adapter's stamp; a clear error when the directory is not a finished chatlab adapter."""
    d = Path(adapter_dir)
    p = d / ADAPTER_STAMP
    if not p.exists():
        what = "does not exist" if not d.exists() else f"has no {ADAPTER_STAMP} (not a finished chatlab adapter)"
        raise FileNotFoundError(f"{d}: {what}")
    return json.loads(p.read_text(encoding="utf-8"))


def resolve_base(adapter_dir: str | os.PathLike, models_dir: str | os.PathLike, base_model: str = "") -> Path:
    """The base model directory an adapter was trained on, checked by fingerprint: an adapter on
    another base model is refused rather than producing noise."""
    from chatlab.train.base import ensure_base_model

    info = read_adapter(adapter_dir)
    if base_model:
        base = ensure_base_model(models_dir, base_model)
    else:
        stored = Path(info.get("base_model", ""))
        candidate = Path(models_dir).parent / stored if not stored.is_absolute() else stored
        base = candidate if (candidate / "config.json").exists() else ensure_base_model(models_dir, info.get("train_config", {}).get("base_model", ""))
    fp = model_fingerprint(base)
    if info.get("base_fingerprint") and fp != info["base_fingerprint"]:
        raise ValueError(f"{adapter_dir}: adapter was trained on base model {info['base_fingerprint']}, "
                         f"but {base} is {fp}; pass the base model it was trained on")
    return base


def load_adapter_model(adapter_dir: str | os.PathLike, models_dir: str | os.PathLike, base_model: str = "", device: str = "cpu"):
    """(model with the adapter, tokenizer, stamp) ready for scoring or generation."""
    from peft import PeftModel

    from chatlab.train.base import load_model, load_tokenizer

    base = resolve_base(adapter_dir, models_dir, base_model)
    model = PeftModel.from_pretrained(load_model(base, device=device), str(adapter_dir))
    model.eval()
    return model, load_tokenizer(base), read_adapter(adapter_dir)
