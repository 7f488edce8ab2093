"""Whole-VOD splits: every pair of a VOD goes where the VOD goes, and near-duplicate streams
(a re-upload, a highlight cut of the same stream) go with it.

A VOD's split comes from a hash of (seed, group id) mapped through the ratios: deterministic,
independent of the other VODs and of the order they arrive in. Its group is the VOD itself,
unless its transcript fingerprint (MinHash of word 5-grams) is close to an earlier VOD's: then
it joins that VOD's group. Overrides in settings win, and are recorded as such.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

SPLITS = ("train", "validation", "test")
NUM_HASHES = 64
SHINGLE = 5
_PRIME = (1 << 61) - 1
SPLIT_COLUMNS = {
    "vod_id": pl.String,
    "split": pl.String,
    "method": pl.String,  # hash | override | near_duplicate
    "group_id": pl.String,
    "near_duplicate_of": pl.String,
    "similarity": pl.Float64,
    "seed": pl.Int64,
    "ratios": pl.String,
    "minhash": pl.List(pl.UInt64),
}


@dataclass(frozen=True)
class SplitConfig:
    seed: int = 0
    train: float = 0.8
    validation: float = 0.1
    test: float = 0.1
    near_duplicate: float = 0.5  # estimated Jaccard of transcript 5-grams above which two VODs are one stream
    overrides: dict[str, str] = field(default_factory=dict)  # vod_id -> split

    @classmethod
    def from_mapping(cls, section: dict[str, Any], vod_split: str | None = None) -> "SplitConfig":
        from chatlab.settings import build  # keys and types (`split` is the per-VOD one, read by the asset)

        cfg = build(cls, "splits", section)
        total = cfg.train + cfg.validation + cfg.test
        if total <= 0 or min(cfg.train, cfg.validation, cfg.test) < 0:
            raise ValueError(f"[splits]: ratios must be >= 0 and not all 0 (got {cfg.train}, {cfg.validation}, {cfg.test})")
        for v, s in cfg.overrides.items():
            if s not in SPLITS:
                raise ValueError(f"[splits] overrides: {v} = {s!r}; expected one of {SPLITS}")
        return cfg

    def ratios(self) -> str:
        return f"{self.train}/{self.validation}/{self.test}"


def split_of(group_id: str, cfg: SplitConfig) -> str:
    """The split of a group: the hash of (seed, group) as a number in [0, 1) against the ratios."""
    h = hashlib.sha256(f"{cfg.seed}:{group_id}".encode()).digest()
    u = int.from_bytes(h[:8], "big") / 2**64
    total = cfg.train + cfg.validation + cfg.test
    if u < cfg.train / total:
        return "train"
    return "validation" if u < (cfg.train + cfg.validation) / total else "test"


def fingerprint(words: pl.DataFrame) -> list[int]:
    """MinHash of the transcript's word 5-grams (lower case), NUM_HASHES values."""
    toks = words.sort("start_s").select(pl.col("word").str.to_lowercase().str.replace_all(r"[^\p{L}\p{N}']", ""))["word"]
    toks = toks.filter(toks != "")
    if len(toks) < SHINGLE:
        return [0] * NUM_HASHES
    grams = pl.DataFrame({f"w{i}": toks.slice(i, len(toks) - SHINGLE + 1) for i in range(SHINGLE)})
    grams = grams.select(pl.concat_str(pl.all(), separator=" "))[:, 0].unique().to_list()
    # blake2b, not Polars' hash: stored fingerprints must match those of a later version forever.
    # 31-bit values keep a*h + b inside uint64.
    h = np.array([int.from_bytes(hashlib.blake2b(g.encode(), digest_size=8).digest(), "big") & 0x7FFFFFFF for g in grams],
                 dtype=np.uint64)
    rng = np.random.default_rng(20240601)
    a = rng.integers(1, 2**31, NUM_HASHES, dtype=np.uint64)
    b = rng.integers(0, 2**31, NUM_HASHES, dtype=np.uint64)
    return [int(x) for x in ((a[:, None] * h[None, :] + b[:, None]) % np.uint64(_PRIME)).min(axis=1)]


def similarity(a: list[int], b: list[int]) -> float:
    """Estimated Jaccard similarity of two fingerprints (share of equal MinHash values)."""
    if not a or not b or not any(a) or not any(b):
        return 0.0
    return float(np.mean(np.asarray(a, dtype=np.uint64) == np.asarray(b, dtype=np.uint64)))


def assign(vod_id: str, fp: list[int], others: pl.DataFrame, cfg: SplitConfig) -> pl.DataFrame:
    """This VOD's row of the splits table. others: the rows of the VODs split before (SPLIT_COLUMNS)."""
    best, best_sim = None, 0.0
    others = others if others.width else pl.DataFrame(schema=SPLIT_COLUMNS)
    for row in others.filter(pl.col("vod_id") != vod_id).iter_rows(named=True):  # one row per VOD: hundreds at most
        s = similarity(fp, row["minhash"] or [])
        if s > best_sim:
            best, best_sim = row, s
    near = best if best is not None and best_sim >= cfg.near_duplicate else None
    group = near["group_id"] if near else vod_id
    if vod_id in cfg.overrides:
        split, method = cfg.overrides[vod_id], "override"
    elif near is not None:
        split, method = near["split"], "near_duplicate"
    else:
        split, method = split_of(group, cfg), "hash"
    return pl.DataFrame([{
        "vod_id": vod_id, "split": split, "method": method, "group_id": group,
        "near_duplicate_of": near["vod_id"] if near else None, "similarity": round(best_sim, 4),
        "seed": cfg.seed, "ratios": cfg.ratios(), "minhash": fp,
    }], schema=SPLIT_COLUMNS)


def leakage(splits: pl.DataFrame, threshold: float) -> list[str]:
    """Problems: a VOD in two splits, or two near-duplicate VODs in different splits."""
    out = []
    multi = splits.group_by("vod_id").agg(pl.col("split").n_unique().alias("n")).filter(pl.col("n") > 1)
    out += [f"VOD {v} is in {n} splits" for v, n in multi.iter_rows()]
    rows = splits.unique("vod_id", keep="last").sort("vod_id").to_dicts()
    for i, a in enumerate(rows):
        for b in rows[i + 1 :]:
            if a["split"] != b["split"]:
                s = similarity(a["minhash"] or [], b["minhash"] or [])
                if s >= threshold:
                    out.append(f"near-duplicate VODs {a['vod_id']} ({a['split']}) and {b['vod_id']} ({b['split']}): similarity {s:.2f}")
    return out
