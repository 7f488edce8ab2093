"""Evaluation on the test split (streams never seen in training): the adapter against its base.

- completion-only perplexity: exp(mean NLL of the message tokens + end-of-turn), the quantity
  the training loss measures;
- LiveBot-style ranking (Ma et al., AAAI 2019): the true next message among ``n_candidates``
  (default 10) messages from other moments, ranked by the model's score given the context;
  recall@1, recall@5, mean rank, MRR. Ties count against the true message. The check uses the
  PMI score (see ``score_rows``: LiveBot's raw log-likelihood rewards a model for learning which
  messages are frequent, not for reacting to the stream); the raw and per-token rankings are
  reported beside it;
- generations: distinct-1/2 (Li et al. 2016), self-BLEU-2 (Zhu et al. 2018, lower = more varied),
  emote rate and message length, set beside the same figures for the real test chat;
- the same per VOD, so a weak stream shows up.

The maths (ranks, distinct, BLEU, verdict) are pure functions on plain lists.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from chatlab.train.prompt import encode

# Emotes counted by the emote rate: Twitch globals and the common third-party ones (plain text in
# exports). The real chat's own emotes (the `emotes` column) can be added by the caller.
EMOTES = frozenset(
    """Kappa LUL PogChamp BibleThump Kreygasm ResidentSleeper NotLikeThis SeemsGood HeyGuys VoHiYo CoolCat
    KEKW OMEGALUL Pog PogU monkaS PepeHands Sadge catJAM EZ Clap LULW 4Head WutFace TriHard Jebaited
    FeelsGoodMan FeelsBadMan PepeLaugh widepeepoHappy POGGERS Kekw <3 o7""".split()
)


# ---- pure maths -------------------------------------------------------------------------------

def rank_of_true(scores: Sequence[float]) -> int:
    """1-based rank of ``scores[0]`` (the true message) among all; a tie counts against it."""
    s = np.asarray(scores, dtype=float)
    return int(1 + np.sum(s[1:] >= s[0]))


def ranking_metrics(ranks: Sequence[int]) -> dict[str, float]:
    r = np.asarray(ranks, dtype=float)
    if r.size == 0:
        return {"recall_at_1": float("nan"), "recall_at_5": float("nan"), "mrr": float("nan"), "mean_rank": float("nan")}
    return {"recall_at_1": float(np.mean(r <= 1)), "recall_at_5": float(np.mean(r <= 5)),
            "mrr": float(np.mean(1.0 / r)), "mean_rank": float(np.mean(r))}


def perplexity(nll_sum: float, n_tokens: int) -> float:
    return math.exp(nll_sum / n_tokens) if n_tokens else float("nan")


def words(text: str) -> list[str]:
    return text.lower().split()


def distinct_n(texts: Sequence[str], n: int) -> float:
    """Distinct n-grams over all n-grams of all texts (0 when there are none)."""
    grams: list[tuple[str, ...]] = []
    for t in texts:
        w = words(t)
        grams += [tuple(w[i : i + n]) for i in range(len(w) - n + 1)]
    return len(set(grams)) / len(grams) if grams else 0.0


def _ngrams(w: list[str], n: int) -> Counter:
    return Counter(tuple(w[i : i + n]) for i in range(len(w) - n + 1))


def bleu(hyp: str, refs: Sequence[str], max_n: int = 2) -> float:
    """Sentence BLEU with uniform weights up to ``max_n``, clipped counts, the brevity penalty
    against the closest reference length, and add-one smoothing for n > 1 (Lin & Och 2004)."""
    h = words(hyp)
    if not h or not refs:
        return 0.0
    rs = [words(r) for r in refs]
    logs = []
    for n in range(1, max_n + 1):
        hc = _ngrams(h, n)
        total = sum(hc.values())
        maxref: Counter = Counter()
        for r in rs:
            for g, c in _ngrams(r, n).items():
                maxref[g] = max(maxref[g], c)
        match = sum(min(c, maxref[g]) for g, c in hc.items())
        if n == 1:
            if match == 0:
                return 0.0
            logs.append(math.log(match / total))
        else:
            logs.append(math.log((match + 1) / (total + 1)))
    ref_len = min((len(r) for r in rs), key=lambda L: (abs(L - len(h)), L))
    bp = 1.0 if len(h) > ref_len else math.exp(1 - ref_len / len(h))
    return bp * math.exp(sum(logs) / max_n)


def self_bleu(texts: Sequence[str], max_n: int = 2) -> float:
    """Mean BLEU of each text against all the others (nan for fewer than two texts)."""
    texts = [t for t in texts if words(t)]
    if len(texts) < 2:
        return float("nan")
    return float(np.mean([bleu(t, texts[:i] + texts[i + 1 :], max_n) for i, t in enumerate(texts)]))


def emote_rate(texts: Sequence[str], emotes: frozenset[str] | set[str] = EMOTES) -> float:
    """Share of messages with at least one emote (case-sensitive, as emotes are)."""
    if not texts:
        return float("nan")
    return float(np.mean([any(w in emotes for w in t.split()) for t in texts]))


def length_stats(texts: Sequence[str]) -> dict[str, float]:
    n = np.array([len(t.split()) for t in texts], dtype=float)
    if n.size == 0:
        return {"mean": float("nan"), "p50": float("nan"), "p90": float("nan")}
    return {"mean": float(n.mean()), "p50": float(np.percentile(n, 50)), "p90": float(np.percentile(n, 90))}


def ks_distance(a: Sequence[float], b: Sequence[float]) -> float:
    """Two-sample Kolmogorov-Smirnov statistic (largest gap between the two CDFs)."""
    a, b = np.sort(np.asarray(a, float)), np.sort(np.asarray(b, float))
    if a.size == 0 or b.size == 0:
        return float("nan")
    grid = np.concatenate([a, b])
    return float(np.max(np.abs(np.searchsorted(a, grid, "right") / a.size - np.searchsorted(b, grid, "right") / b.size)))


def text_metrics(texts: Sequence[str], emotes: frozenset[str] | set[str] = EMOTES) -> dict[str, float]:
    ls = length_stats(texts)
    return {"distinct_1": distinct_n(texts, 1), "distinct_2": distinct_n(texts, 2), "self_bleu_2": self_bleu(texts),
            "emote_rate": emote_rate(texts, emotes), "length_mean": ls["mean"], "length_p50": ls["p50"], "length_p90": ls["p90"]}


@dataclass(frozen=True)
class Thresholds:
    """When `beats_base` passes: completion perplexity down by at least ``min_ppl_reduction``
    (0.2 = 20%) and ranking up (recall@1 higher, or equal with a higher MRR)."""

    min_ppl_reduction: float = 0.2


def verdict(adapter: dict[str, float], base: dict[str, float], th: Thresholds = Thresholds()) -> tuple[bool, list[str]]:
    reasons = []
    pa, pb = adapter["perplexity"], base["perplexity"]
    reduction = 1 - pa / pb if pb and not math.isnan(pa) else float("nan")
    if not (reduction >= th.min_ppl_reduction):
        reasons.append(f"perplexity {pa:.2f} vs base {pb:.2f}: down {reduction:.1%}, needs at least {th.min_ppl_reduction:.0%}")
    ra, rb = adapter["recall_at_1"], base["recall_at_1"]
    ranking_up = ra > rb or (ra == rb and adapter["mrr"] > base["mrr"])
    if not ranking_up:
        reasons.append(f"recall@1 {ra:.3f} vs base {rb:.3f}, MRR {adapter['mrr']:.3f} vs {base['mrr']:.3f}: ranking not better")
    return not reasons, reasons


# ---- candidates ---------------------------------------------------------------------------------

def pick_candidates(examples: pl.DataFrame, n_candidates: int = 10, seed: int = 0, min_gap_s: float = 60.0) -> list[list[str]]:
    """For each row: [true completion, n-1 completions from other moments]. Negatives come from
    the same VOD at least ``min_gap_s`` away when there are enough, else from the other VODs of
    the frame; never the same text as the true one. Deterministic for a seed."""
    rows = examples.select("vod_id", "msg_id", "t_s", "completion").to_dicts()
    by_vod: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        by_vod.setdefault(r["vod_id"], []).append(r)
    out = []
    for r in rows:
        rng = random.Random(f"{seed}:{r['vod_id']}:{r['msg_id']}")
        true = r["completion"]
        t = r["t_s"]
        far = [o["completion"] for o in by_vod[r["vod_id"]]
               if o["completion"] != true and (t is None or o["t_s"] is None or abs(o["t_s"] - t) >= min_gap_s)]
        pool = list(dict.fromkeys(far))
        rng.shuffle(pool)
        if len(pool) < n_candidates - 1:
            others = list(dict.fromkeys(o["completion"] for v, rs in by_vod.items() if v != r["vod_id"] for o in rs if o["completion"] != true))
            rng.shuffle(others)
            pool += [o for o in others if o not in pool]
        out.append([true] + pool[: n_candidates - 1])
    return out


# ---- scoring with a model -------------------------------------------------------------------------

def score_candidates(model: Any, tokenizer: Any, prompt: str, candidates: Sequence[str]) -> list[tuple[float, int]]:
    """(sum of log-probabilities, token count) of each candidate completion after ``prompt``.
    The prompt runs once; its key/value cache is shared by the candidates (one batch)."""
    import torch

    prompt_ids, n_prompt = encode(tokenizer, prompt)
    cands = [encode(tokenizer, prompt, c)[0][n_prompt:] for c in candidates]
    device = next(model.parameters()).device
    with torch.no_grad():
        # logits_to_keep=1: only the last prompt position's logits are needed (saves the vocab projection).
        out = model(input_ids=torch.tensor([prompt_ids], device=device), use_cache=True, logits_to_keep=1)
        first = torch.log_softmax(out.logits[0, -1].float(), -1)
        cache = out.past_key_values
        k = len(cands)
        cache.batch_repeat_interleave(k)
        width = max(len(c) for c in cands)
        ids = torch.tensor([c + [c[-1]] * (width - len(c)) for c in cands], device=device)
        mask = torch.tensor([[1] * n_prompt + [1] * len(c) + [0] * (width - len(c)) for c in cands], device=device)
        logits = model(input_ids=ids, attention_mask=mask, past_key_values=cache, use_cache=True).logits.float()
        logp = torch.log_softmax(logits, -1)
    res = []
    for i, c in enumerate(cands):
        total = float(first[c[0]])
        for j in range(1, len(c)):
            total += float(logp[i, j - 1, c[j]])
        res.append((total, len(c)))
    return res


RANKINGS = ("pmi", "mean", "sum")


@dataclass
class Scored:
    vod_id: str
    msg_id: str
    nll: float  # of the true completion
    tokens: int
    rank: int  # by the configured ranking
    ranks: dict[str, int]  # by every ranking in RANKINGS


def score_rows(model: Any, tokenizer: Any, examples: pl.DataFrame, candidates: list[list[str]], *, rank_by: str = "pmi",
               on_row: Any = None) -> list[Scored]:
    """Score every row's candidates and rank the true one three ways:
    ``sum``: log p(c | context), LiveBot's score; it favours short, frequent messages, and a model
    that has learnt chat's prior ranks "LUL" first whatever the streamer said;
    ``mean``: the same per token;
    ``pmi``: log p(c | context) - log p(c | empty context) (domain-conditional PMI, Holtzman et al.
    2021): how much the context raises the message, which is what "reacts to the stream" means."""
    from chatlab.train.prompt import Context, render

    if rank_by not in RANKINGS:
        raise ValueError(f"rank_by {rank_by!r}: expected one of {RANKINGS}")
    null = render(Context())
    out = []
    for i, (row, cands) in enumerate(zip(examples.select("vod_id", "msg_id", "prompt").iter_rows(named=True), candidates)):
        sc = score_candidates(model, tokenizer, row["prompt"], cands)
        prior = score_candidates(model, tokenizer, null, cands)
        ranks = {"sum": rank_of_true([s for s, _ in sc]), "mean": rank_of_true([s / n for s, n in sc]),
                 "pmi": rank_of_true([s - p for (s, _), (p, _) in zip(sc, prior)])}
        out.append(Scored(row["vod_id"], row["msg_id"], -sc[0][0], sc[0][1], ranks[rank_by], ranks))
        if on_row:
            on_row(i + 1, examples.height)
    return out


def summarize(scored: Sequence[Scored]) -> dict[str, float]:
    nll = sum(s.nll for s in scored)
    n = sum(s.tokens for s in scored)
    out = {"pairs": len(scored), "perplexity": perplexity(nll, n), **ranking_metrics([s.rank for s in scored])}
    for how in RANKINGS:
        m = ranking_metrics([s.ranks[how] for s in scored])
        out |= {f"recall_at_1_{how}": m["recall_at_1"], f"mrr_{how}": m["mrr"]}
    return out


def per_vod(scored_adapter: Sequence[Scored], scored_base: Sequence[Scored]) -> pl.DataFrame:
    """One row per VOD: pairs, perplexity and ranking of adapter and base."""
    rows = []
    vods = sorted({s.vod_id for s in scored_adapter})
    for v in vods:
        a = summarize([s for s in scored_adapter if s.vod_id == v])
        b = summarize([s for s in scored_base if s.vod_id == v])
        rows.append({"vod_id": v, "pairs": a["pairs"], "ppl_adapter": a["perplexity"], "ppl_base": b["perplexity"],
                     "ppl_reduction": 1 - a["perplexity"] / b["perplexity"], "recall1_adapter": a["recall_at_1"],
                     "recall1_base": b["recall_at_1"], "mrr_adapter": a["mrr"], "mrr_base": b["mrr"]})
    return pl.DataFrame(rows, schema={"vod_id": pl.String, "pairs": pl.Int64, "ppl_adapter": pl.Float64, "ppl_base": pl.Float64,
                                      "ppl_reduction": pl.Float64, "recall1_adapter": pl.Float64, "recall1_base": pl.Float64,
                                      "mrr_adapter": pl.Float64, "mrr_base": pl.Float64})


@dataclass(frozen=True)
class EvalConfig:
    n_candidates: int = 10
    max_eval_pairs: int = 80  # test pairs scored (a deterministic sample beyond this)
    max_generations: int = 24
    rank_by: str = "pmi"  # pmi | mean | sum (see score_rows); all three are reported
    min_gap_s: float = 60.0
    seed: int = 0
    min_ppl_reduction: float = 0.2

    @classmethod
    def from_mapping(cls, section: dict[str, Any]) -> "EvalConfig":
        from dataclasses import fields

        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in section.items() if k in known})


@dataclass
class Evaluation:
    adapter: dict[str, float]
    base: dict[str, float]
    per_vod: pl.DataFrame
    generations: dict[str, dict[str, float]]  # adapter / base / real -> text metrics
    samples: list[dict[str, str]]
    passed: bool
    reasons: list[str]
    seconds: float

    def to_json(self) -> dict[str, Any]:
        return {"adapter": self.adapter, "base": self.base, "per_vod": self.per_vod.to_dicts(), "generations": self.generations,
                "samples": self.samples, "passed": self.passed, "reasons": self.reasons, "seconds": self.seconds}


def evaluate(model: Any, tokenizer: Any, test: pl.DataFrame, cfg: EvalConfig | None = None, *, sampling: Any = None,
             log: Any = None) -> Evaluation:
    """Adapter (``model``, a PeftModel) versus its base (the same model with the adapter
    disabled) on the ``test`` examples."""
    import time

    from chatlab.train.generate import Sampling, sample

    cfg = cfg or EvalConfig()
    t0 = time.monotonic()
    if test.height == 0:
        raise ValueError("no test pairs: put at least one VOD in the test split")
    if test.height > cfg.max_eval_pairs:
        test = test.sample(cfg.max_eval_pairs, seed=cfg.seed).sort("vod_id", "t_s", "msg_id")
    cands = pick_candidates(test, cfg.n_candidates, cfg.seed, cfg.min_gap_s)

    def progress(tag: str):
        def f(i: int, n: int) -> None:
            if log and (i % 25 == 0 or i == n):
                log(f"evaluation ({tag}): {i}/{n} pairs scored")
        return f

    model.eval()
    scored_a = score_rows(model, tokenizer, test, cands, rank_by=cfg.rank_by, on_row=progress("adapter"))
    with model.disable_adapter():
        scored_b = score_rows(model, tokenizer, test, cands, rank_by=cfg.rank_by, on_row=progress("base"))
    a, b = summarize(scored_a), summarize(scored_b)
    ok, reasons = verdict(a, b, Thresholds(cfg.min_ppl_reduction))

    gen_rows = test.sample(min(cfg.max_generations, test.height), seed=cfg.seed + 1) if cfg.max_generations else test.head(0)
    prompts = gen_rows["prompt"].to_list()
    sampling = sampling or Sampling()
    gen_a, gen_b = [], []
    for i in range(0, len(prompts), 16):
        gen_a += sample(model, tokenizer, prompts[i : i + 16], sampling, seed=cfg.seed + i)
        with model.disable_adapter():
            gen_b += sample(model, tokenizer, prompts[i : i + 16], sampling, seed=cfg.seed + i)
    real = test["completion"].to_list()
    gens = {"adapter": text_metrics(gen_a), "base": text_metrics(gen_b), "real": text_metrics(real)}
    real_len = [len(t.split()) for t in real]
    gens["adapter"]["length_ks_vs_real"] = ks_distance([len(t.split()) for t in gen_a], real_len)
    gens["base"]["length_ks_vs_real"] = ks_distance([len(t.split()) for t in gen_b], real_len)
    samples = [{"vod_id": r["vod_id"], "real": r["completion"], "adapter": x, "base": y}
               for r, x, y in zip(gen_rows.select("vod_id", "completion").to_dicts(), gen_a, gen_b)][:12]
    return Evaluation(a, b, per_vod(scored_a, scored_b), gens, samples, ok, reasons, round(time.monotonic() - t0, 1))
