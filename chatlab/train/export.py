"""Export for serving tools: the adapter merged into its base model as one safetensors
checkpoint, and a GGUF file when llama.cpp's converter is available."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

CONVERTER = "convert_hf_to_gguf.py"
CONVERTER_ENV = "LLAMA_CPP_DIR"  # a llama.cpp checkout (the converter script lies at its root)


def merge(adapter_dir: str | os.PathLike, models_dir: str | os.PathLike, out_dir: str | os.PathLike, base_model: str = "") -> Path:
    """Base + adapter merged into a plain transformers checkpoint (model.safetensors) at ``out_dir``;
    written beside it and renamed, so a failed merge leaves nothing that looks finished."""
    import torch

    from chatlab.train.lora import load_adapter_model

    out = Path(out_dir)
    if out.exists() and any(out.iterdir()):
        raise FileExistsError(f"{out}: exists and is not empty; choose another --out")
    out.parent.mkdir(parents=True, exist_ok=True)
    model, tok, _ = load_adapter_model(adapter_dir, models_dir, base_model)
    merged = model.merge_and_unload()
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        merged.to(torch.float32).save_pretrained(str(tmp), safe_serialization=True)
        tok.save_pretrained(str(tmp))
        if out.exists():
            out.rmdir()
        os.replace(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def find_converter() -> Path | None:
    """llama.cpp's ``convert_hf_to_gguf.py``: in $LLAMA_CPP_DIR, or on PATH."""
    d = os.environ.get(CONVERTER_ENV)
    if d and (Path(d) / CONVERTER).exists():
        return Path(d) / CONVERTER
    found = shutil.which(CONVERTER) or shutil.which("convert-hf-to-gguf")
    return Path(found) if found else None


def to_gguf(merged_dir: str | os.PathLike, out_file: str | os.PathLike, outtype: str = "f16") -> Path:
    """GGUF file of a merged checkpoint, by llama.cpp's converter; a clear error without it."""
    conv = find_converter()
    if conv is None:
        raise FileNotFoundError(
            f"llama.cpp's {CONVERTER} was not found: set ${CONVERTER_ENV} to a llama.cpp checkout (with its "
            "gguf-py requirements installed) or put the script on PATH; the merged safetensors checkpoint is written anyway"
        )
    out_file = Path(out_file)
    tmp = out_file.with_name(f".{out_file.name}.tmp")
    cmd = [sys.executable, str(conv), str(merged_dir), "--outfile", str(tmp), "--outtype", outtype]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        tmp.unlink(missing_ok=True)
        raise RuntimeError(f"{conv} failed ({proc.returncode}): {proc.stderr.strip()[-2000:]}")
    os.replace(tmp, out_file)
    return out_file
