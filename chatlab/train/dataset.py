"""The training set: every VOD's aligned pairs, each VOD in its split, turned into prompt /
completion rows with the one template (the dataset's version, which names the pairs, is
chatlab.align.export.dataset_version; ``rows_digest`` names the rows made of them).

Input columns are read by role, not by a fixed name, so this stage follows the alignment stage's
table as it is (see ``ROLES``); what is missing is a clear error naming the columns found.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl

from chatlab.train.prompt import Context, build_prompt, completion_text, encode

SPLITS = ("train", "validation", "test")

# role -> accepted column names in `aligned_pairs`, first found wins. Required: vod_id, target.
ROLES: dict[str, tuple[str, ...]] = {
    "vod_id": ("vod_id",),
    "msg_id": ("msg_id", "target_msg_id", "message_id"),
    "t_s": ("t_speech", "t_speech_s", "end_s", "context_end_s", "t_s"),
    "transcript": ("context_text", "transcript", "context_transcript", "transcript_text", "speech"),
    "chat": ("context_chat", "chat_context", "recent_chat", "chat_lines", "chat"),
    "target": ("target", "target_text", "completion", "text", "message"),
    "title": ("title", "stream_title"),
    "streamer": ("streamer", "channel"),
}

# The frame every later step uses (one row per pair).
PAIRS_SCHEMA: dict[str, pl.DataType] = {
    "vod_id": pl.String,
    "msg_id": pl.String,
    "t_s": pl.Float64,
    "transcript": pl.String,
    "chat": pl.List(pl.String),
    "target": pl.String,
    "title": pl.String,
    "streamer": pl.String,
    "split": pl.String,
}

EXAMPLE_SCHEMA: dict[str, pl.DataType] = {
    **PAIRS_SCHEMA,
    "prompt": pl.String,
    "completion": pl.String,
    "prompt_tokens": pl.Int64,
    "completion_tokens": pl.Int64,
}


class NotEnoughPairs(ValueError):
    pass


def _pick(df: pl.DataFrame, role: str) -> str | None:
    return next((c for c in ROLES[role] if c in df.columns), None)


def _chat_expr(df: pl.DataFrame, col: str) -> pl.Expr:
    """Recent chat as a list of message texts, whatever shape the pairs table holds it in."""
    dtype = df.schema[col]
    if dtype == pl.String:
        return pl.col(col).fill_null("").str.split("\n")
    if isinstance(dtype, pl.List) and isinstance(dtype.inner, pl.Struct):
        return pl.col(col).list.eval(pl.element().struct.field("text"))
    if isinstance(dtype, pl.List):
        return pl.col(col).cast(pl.List(pl.String))
    raise ValueError(f"aligned_pairs column {col!r}: expected text or a list of messages, got {dtype}")


def normalize_pairs(pairs: pl.DataFrame, splits: pl.DataFrame | dict[str, str] | None = None) -> pl.DataFrame:
    """Pairs in ``PAIRS_SCHEMA``, with each row's split (from ``splits``: a frame with vod_id and
    split, or a dict; else a ``split`` column of the pairs). Rows with an empty target are dropped."""
    missing = [r for r in ("vod_id", "target") if _pick(pairs, r) is None]
    if missing:
        raise ValueError(
            f"aligned_pairs: no column for {missing} (looked for {[ROLES[r] for r in missing]}); columns: {pairs.columns}"
        )
    exprs = []
    for role, dtype in PAIRS_SCHEMA.items():
        if role == "split":
            continue
        col = _pick(pairs, role)
        if col is None and role == "msg_id":
            exprs.append(pl.int_range(pl.len()).cast(pl.String).alias(role))  # row order stands in for an id
        elif col is None:
            exprs.append(pl.lit(None if role != "chat" else [], dtype=dtype).alias(role))
        elif role == "chat":
            exprs.append(_chat_expr(pairs, col).alias("chat"))
        else:
            exprs.append(pl.col(col).cast(dtype).alias(role))
    out = pairs.select(exprs)
    if isinstance(splits, dict):
        splits = pl.DataFrame({"vod_id": list(splits), "split": list(splits.values())}, schema={"vod_id": pl.String, "split": pl.String})
    if splits is not None:
        if "split" not in splits.columns or "vod_id" not in splits.columns:
            raise ValueError(f"splits: expected columns vod_id and split, got {splits.columns}")
        s = splits.select(pl.col("vod_id").cast(pl.String), pl.col("split").cast(pl.String)).unique("vod_id", keep="last")
        out = out.join(s, on="vod_id", how="left")
    elif "split" in pairs.columns:
        out = out.with_columns(pairs["split"].cast(pl.String).alias("split"))
    else:
        raise ValueError("no split for the pairs: pass the `splits` table (vod_id -> train/validation/test)")
    bad = out.filter(pl.col("split").is_not_null() & ~pl.col("split").is_in(SPLITS))["split"].unique().to_list()
    if bad:
        raise ValueError(f"splits: unknown split names {bad}; expected {list(SPLITS)}")
    out = out.with_columns(pl.col("target").map_elements(completion_text, return_dtype=pl.String))
    return out.filter(pl.col("target").str.len_chars() > 0).select(list(PAIRS_SCHEMA)).sort("vod_id", "t_s", "msg_id", nulls_last=True)


def context_of(row: dict[str, Any]) -> Context:
    return Context.of(row.get("transcript"), row.get("chat") or (), row.get("title"), row.get("streamer"))


def rows_digest(examples: pl.DataFrame) -> str:
    """sha256 of the training rows (every column, in their order): what a rebuilt training set
    must match. The dataset's version names the pairs (chatlab.align.export.dataset_version);
    this names the rows the template and token limits made of them."""
    h = hashlib.sha256(json.dumps(examples.columns).encode())
    for row in examples.iter_rows():
        h.update(json.dumps(row, default=str, ensure_ascii=False).encode())
        h.update(b"\n")
    return h.hexdigest()


@dataclass(frozen=True)
class BuildReport:
    rows: dict[str, int]
    vods: dict[str, list[str]]
    dropped_long_completion: int
    dropped_no_split: int

    def to_json(self) -> dict[str, Any]:
        return {"rows": self.rows, "vods": self.vods, "dropped_long_completion": self.dropped_long_completion,
                "dropped_no_split": self.dropped_no_split}


def build_examples(pairs: pl.DataFrame, tokenizer: Any, max_prompt_tokens: int, max_completion_tokens: int) -> tuple[pl.DataFrame, BuildReport]:
    """Prompt/completion rows (``EXAMPLE_SCHEMA``) from normalized pairs. A completion longer than
    ``max_completion_tokens`` drops its row (it is never cut); pairs of a VOD with no split too."""
    no_split = pairs.filter(pl.col("split").is_null()).height
    rows = []
    long = 0
    for row in pairs.filter(pl.col("split").is_not_null()).iter_rows(named=True):
        prompt = build_prompt(context_of(row), tokenizer, max_prompt_tokens)
        completion = row["target"]
        ids, n_prompt = encode(tokenizer, prompt, completion)
        if len(ids) - n_prompt > max_completion_tokens:
            long += 1
            continue
        rows.append({**row, "prompt": prompt, "completion": completion, "prompt_tokens": n_prompt, "completion_tokens": len(ids) - n_prompt})
    df = pl.DataFrame(rows, schema=EXAMPLE_SCHEMA)
    counts = {s: df.filter(pl.col("split") == s).height for s in SPLITS}
    vods = {s: sorted(df.filter(pl.col("split") == s)["vod_id"].unique().to_list()) for s in SPLITS}
    return df, BuildReport(counts, vods, long, no_split)


def require_rows(report: BuildReport, min_train: int, min_eval: int = 1) -> None:
    """Clear failure when there is too little to train or to evaluate on."""
    problems = []
    if report.rows["train"] < min_train:
        problems.append(f"{report.rows['train']} training pairs (from VODs {report.vods['train'] or 'none'}); at least {min_train} are needed")
    for s in ("validation", "test"):
        if report.rows[s] < min_eval:
            problems.append(f"{report.rows[s]} {s} pairs; at least {min_eval} needed (put a VOD in the {s} split)")
    if problems:
        raise NotEnoughPairs("not enough pairs to train: " + "; ".join(problems))


def drop_context(examples: pl.DataFrame, share: float, seed: int = 0) -> pl.DataFrame:
    """``examples`` with the prompt of about ``share`` of the rows (chosen by a hash of seed, VOD
    and message, so the same rows every run) replaced by the empty-context prompt, the one the
    evaluation's PMI prior reads: the model then learns what chat says with no moment to react
    to, so log p(msg | context) - log p(msg | nothing) measures what the context adds."""
    if share <= 0 or examples.height == 0:
        return examples
    from chatlab.train.prompt import null_prompt

    def pick(vod: str, msg: str) -> bool:
        h = hashlib.sha256(f"{seed}:{vod}:{msg}".encode()).digest()
        return int.from_bytes(h[:8], "big") / 2**64 < share

    chosen = [pick(str(v), str(m)) for v, m in zip(examples["vod_id"].to_list(), examples["msg_id"].to_list())]
    return examples.with_columns(pl.when(pl.Series(chosen)).then(pl.lit(null_prompt())).otherwise(pl.col("prompt")).alias("prompt"))


def cap_repeats(examples: pl.DataFrame, max_repeats: int) -> pl.DataFrame:
    """``examples`` with at most ``max_repeats`` rows of each message (after normalize_message)
    per VOD, the first ones in time; 0 keeps all. Two 3-minute training streams say "the audio is
    good today" six times: a model trained on every copy learns that stream's counts and ranks
    its lines first on the next stream, whose chat says other things."""
    if max_repeats <= 0 or examples.height == 0:
        return examples
    from chatlab.train.generate import normalize_message

    key = pl.col("completion").map_elements(normalize_message, return_dtype=pl.String)
    return (examples.with_columns(key.alias("_key"), pl.int_range(pl.len()).alias("_row"))
            .sort("vod_id", "t_s", "_row", nulls_last=True)
            .filter(pl.int_range(pl.len()).over("vod_id", "_key") < max_repeats)
            .sort("_row").drop("_key", "_row"))


def token_rows(examples: pl.DataFrame, tokenizer: Any) -> list[dict[str, list[int]]]:
    """``input_ids`` + ``completion_mask`` per example, for TRL's SFTTrainer (pre-tokenized, so it
    neither re-tokenizes nor truncates: the same ids the evaluation scores)."""
    out = []
    for prompt, completion in examples.select("prompt", "completion").iter_rows():
        ids, n_prompt = encode(tokenizer, prompt, completion)
        out.append({"input_ids": ids, "completion_mask": [0] * n_prompt + [1] * (len(ids) - n_prompt)})
    return out


def write_split_parquet(examples: pl.DataFrame, out_dir: Any) -> dict[str, str]:
    """Hugging Face ``datasets``-compatible Parquet (prompt/completion + provenance) per split."""
    from pathlib import Path

    from chatlab.files import replacing

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {}
    for s in SPLITS:
        p = out_dir / f"{s}.parquet"
        with replacing(p) as tmp:
            examples.filter(pl.col("split") == s).select("prompt", "completion", "vod_id", "msg_id", "t_s").write_parquet(tmp)
        paths[s] = str(p)
    return paths


def synthetic_pairs(n_vods: int = 3, per_vod: int = 40, seed: int = 0, splits: Sequence[str] = SPLITS) -> pl.DataFrame:
    """Small made-up pairs (with a ``split`` column) for tests and the benchmark: each target
    echoes a keyword of the transcript, the way demo chat reacts to the streamer."""
    import random

    rng = random.Random(seed)
    kws = ["sword", "dragon", "potion", "castle", "boss", "shield", "map", "treasure", "goblin", "bridge"]
    react = ["{kw} lets go", "that {kw} is huge LUL", "not the {kw} KEKW", "{kw} PogChamp", "wait the {kw}??", "I love the {kw}"]
    rows = []
    for v in range(n_vods):
        vod = f"vod{v}"
        for i in range(per_vod):
            kw = rng.choice(kws)
            filler = " ".join(rng.choice(["so", "we", "are", "going", "to", "the", "now", "and", "look", "at", "this"]) for _ in range(rng.randint(6, 20)))
            rows.append({
                "vod_id": vod, "msg_id": f"{vod}-{i}", "t_speech": 10.0 * i + 5,
                "context_text": f"{filler} I found a {kw} over here",
                "context_chat": [rng.choice(["hi chat", "LUL", "gg", "nice"]) for _ in range(rng.randint(0, 3))],
                "target": rng.choice(react).format(kw=kw),
                "split": splits[v % len(splits)],
            })
    return pl.DataFrame(rows)
