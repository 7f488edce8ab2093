"""Evaluation on the test split (streams never seen in training): the adapter against the base
model and three baselines built from the training streams (see baselines.py), on the same moments.

- completion-only perplexity: exp(mean NLL of the message tokens + end-of-turn), the quantity
  the training loss measures (the unigram baselines use the same tokens, so it compares);
- LiveBot's ranking protocol (Ma et al., AAAI 2019): the true message among 100 candidates (20
  popular, 20 similar to the context by TF-IDF, random; see candidates.py), recall@1/5/10, mean
  rank, MRR, by LiveBot's raw log-likelihood and by PMI (log p(c | context) - log p(c), Li et
  al. 2016's MMI and Holtzman et al. 2021: how much this moment raises the message). Ties count
  against the true message. log p(c) is the model's own marginal over contexts, the mean
  probability of c under a fixed sample of validation moments (``prior_contexts``), not p(c |
  an empty prompt): the empty prompt is off the training distribution, and on the demo its
  prior ranked the true message at chance (mean rank 49 of 100, against 38 with the marginal);
- a real-or-generated discriminator per system (see discriminator.py);
- a context test: how often messages reuse the context's words, against real chat's rate, and
  how far the ranking falls when each moment gets another moment's context;
- generations: distinct-1/2 (Li et al. 2016), self-BLEU-2 (Zhu et al. 2018, lower = more varied),
  emote rate and message length, beside the same figures for the real test chat; per VOD.

The maths (ranks, distinct, BLEU, verdict) are pure functions on plain lists.
"""

from __future__ import annotations

import bisect
import math
import re
import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl


# Emotes counted by the emote rate: Twitch globals and the common third-party ones (plain text in
# exports). The real chat's own emotes (the `emotes` column) can be added by the caller.
EMOTES = frozenset(
    """Kappa LUL PogChamp BibleThump Kreygasm ResidentSleeper NotLikeThis SeemsGood HeyGuys VoHiYo CoolCat
    KEKW OMEGALUL Pog PogU monkaS PepeHands Sadge catJAM EZ Clap LULW 4Head WutFace TriHard Jebaited
    FeelsGoodMan FeelsBadMan PepeLaugh widepeepoHappy POGGERS Kekw <3 o7""".split()
)


# ---- pure maths -------------------------------------------------------------------------------

def rank_of_true(scores: Sequence[float], n_real: int = 1) -> int:
    """1-based rank of the best of ``scores[:n_real]`` (the real messages) among the negatives
    after them: where the first real message comes in the sorted list (LiveBot's hit rank); a
    tie counts against it."""
    s = np.asarray(scores, dtype=float)
    return int(1 + np.sum(s[n_real:] >= s[:n_real].max()))


def ranking_metrics(ranks: Sequence[int]) -> dict[str, float]:
    r = np.asarray(ranks, dtype=float)
    if r.size == 0:
        return {"recall_at_1": float("nan"), "recall_at_5": float("nan"), "recall_at_10": float("nan"),
                "mrr": float("nan"), "mean_rank": float("nan")}
    return {"recall_at_1": float(np.mean(r <= 1)), "recall_at_5": float(np.mean(r <= 5)), "recall_at_10": float(np.mean(r <= 10)),
            "mrr": float(np.mean(1.0 / r)), "mean_rank": float(np.mean(r))}


def recall_curve(ranks: Sequence[int], max_k: int) -> list[float]:
    """recall@k for k = 1 .. max_k (the ranking curve)."""
    r = np.asarray(ranks, dtype=float)
    return [float(np.mean(r <= k)) if r.size else float("nan") for k in range(1, max_k + 1)]


def paired_difference(a: Sequence[int], b: Sequence[int], k: int = 1, n_boot: int = 2000, seed: int = 0) -> dict[str, float]:
    """recall@k of ranks ``a`` minus that of ``b`` on the same moments, with a 95% paired
    bootstrap interval (moments resampled): whether a difference is more than the few moments
    a small test stream has can tell."""
    ha = np.asarray(a, dtype=float) <= k
    hb = np.asarray(b, dtype=float) <= k
    d = ha.astype(float) - hb.astype(float)
    if d.size == 0:
        return {"difference": float("nan"), "ci_low": float("nan"), "ci_high": float("nan")}
    idx = np.random.default_rng(seed).integers(0, d.size, size=(n_boot, d.size))
    boots = d[idx].mean(axis=1)
    return {"difference": float(d.mean()), "ci_low": float(np.quantile(boots, 0.025)), "ci_high": float(np.quantile(boots, 0.975))}


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


_WORD = re.compile(r"\w+", re.UNICODE)
# Words too common to show that a message took anything from its context.
STOPWORDS = frozenset(
    """the and for are but not you all any can had her was one our out his has him how its who did get got
    let say she too use that this with have from they will what when your just like what been were them then
    than some more very here there about would could should into only also back even much well yes yeah lol""".split()
)


def content_words(text: str) -> set[str]:
    return {w for w in _WORD.findall((text or "").lower()) if len(w) >= 3 and w not in STOPWORDS}


def context_reuse(messages: Sequence[str], contexts: Sequence[str]) -> float:
    """Share of messages with at least one content word (3+ letters, not a stopword) of their
    own moment's context (transcript and recent chat)."""
    if not messages:
        return float("nan")
    return float(np.mean([bool(content_words(m) & content_words(c)) for m, c in zip(messages, contexts)]))


def swap_order(n: int) -> list[int]:
    """Moment i takes the context of moment (i + n // 2) mod n: in time order, the farthest one."""
    return [(i + n // 2) % n for i in range(n)] if n > 1 else list(range(n))


# ---- the verdict ----------------------------------------------------------------------------------

BASELINES = ("base", "few_shot", "retrieval", "frequency")
SYSTEMS = ("adapter", *BASELINES)


@dataclass(frozen=True)
class Thresholds:
    """When `beats_baselines` passes: perplexity lower than every baseline's and down by at least
    ``min_ppl_reduction`` (0.2 = 20%) from the base model's; recall@1 among the 100 candidates
    higher than every baseline's by PMI and by raw likelihood (a tie goes to the higher MRR; a
    baseline with no such score, like frequency's PMI, is skipped); and the discriminator (the
    better of its two classifiers) at most ``max_discriminator_accuracy``."""

    min_ppl_reduction: float = 0.2
    max_discriminator_accuracy: float = 0.65


def _better(a: dict[str, float], b: dict[str, float], how: str) -> bool:
    ra, rb = a[f"recall_at_1_{how}"], b[f"recall_at_1_{how}"]
    return ra > rb or (ra == rb and a[f"mrr_{how}"] > b[f"mrr_{how}"])


def verdict(systems: dict[str, dict[str, float]], discriminator: dict[str, dict[str, dict[str, Any]]] | None = None,
            th: Thresholds = Thresholds(), paired: dict[str, dict[str, dict[str, float]]] | None = None,
            top_raw: dict[str, Any] | None = None) -> tuple[bool, list[str]]:
    """(passed, reasons it did not) for ``systems['adapter']`` against every other entry.
    ``paired[baseline][how]`` (paired_difference): shown beside a ranking reason, never a pass.
    ``top_raw`` (top_answer of the adapter): named in a lost raw ranking's reason, because such a
    loss is often one answer ranked first for every moment."""
    reasons = []
    a = systems["adapter"]
    if "base" in systems:
        pa, pb = a["perplexity"], systems["base"]["perplexity"]
        reduction = 1 - pa / pb if pb and not math.isnan(pa) else float("nan")
        if not (reduction >= th.min_ppl_reduction):
            reasons.append(f"perplexity {pa:.2f} vs base {pb:.2f}: down {reduction:.1%}, needs at least {th.min_ppl_reduction:.0%}")
    for name, b in systems.items():
        if name == "adapter":
            continue
        if not (a["perplexity"] < b["perplexity"]) and not math.isnan(b["perplexity"]):
            reasons.append(f"perplexity {a['perplexity']:.2f} not below {name}'s {b['perplexity']:.2f}")
        for how in ("pmi", "raw"):
            if math.isnan(b.get(f"recall_at_1_{how}", float("nan"))):
                continue
            if not _better(a, b, how):
                ci = (paired or {}).get(name, {}).get(how)
                shown = f"; difference 95% CI {ci['ci_low']:+.3f} to {ci['ci_high']:+.3f}" if ci else ""
                top = ""
                if how == "raw" and top_raw and top_raw.get("message") is not None:
                    top = f"; the adapter ranks {top_raw['message']!r} first on {top_raw['share']:.0%} of moments"
                reasons.append(f"{how} recall@1 {a[f'recall_at_1_{how}']:.3f} vs {name}'s {b[f'recall_at_1_{how}']:.3f} "
                               f"(MRR {a[f'mrr_{how}']:.3f} vs {b[f'mrr_{how}']:.3f}{shown}): ranking not better{top}")
    if discriminator and "adapter" in discriminator:
        accs = {k: v["accuracy"] for k, v in discriminator["adapter"].items()}
        worst = max(accs.values())
        if not (worst <= th.max_discriminator_accuracy):
            shown = ", ".join(f"{k} {v['accuracy']:.3f} (95% CI {v.get('ci_low', float('nan')):.2f}-{v.get('ci_high', float('nan')):.2f})"
                              for k, v in discriminator["adapter"].items())
            reasons.append(f"a classifier tells the adapter's messages from real chat too well ({shown}; "
                           f"at most {th.max_discriminator_accuracy} allowed)")
    return not reasons, reasons


# ---- scoring ------------------------------------------------------------------------------------

def pick_candidates(examples: pl.DataFrame, n_candidates: int = 10, seed: int = 0, min_gap_s: float = 60.0) -> list[list[str]]:
    """For each row: [true completion, n-1 completions from other moments]. Negatives come from
    the same VOD at least ``min_gap_s`` away when there are enough, else from the other VODs of
    the frame; never the same text as the true one. Deterministic for a seed. (LiveBot's
    candidates come from the training messages, see candidates.py; these top them up when the
    training streams have too few distinct messages.)"""
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


RANKINGS = ("pmi", "raw", "mean")


@dataclass
class Scored:
    """One system's scores of one moment's candidates (index 0: the true message)."""

    vod_id: str
    msg_id: str
    nll: float  # of the true completion
    tokens: int
    ranks: dict[str, int | None]  # by every ranking in RANKINGS (None: the system has no such score)
    top_raw: str = ""  # the candidate the raw score ranks first


def top_answer(scored: Sequence[Scored]) -> dict[str, Any]:
    """The candidate a system's raw score ranks first most often, and on what share of moments.
    A share near 1 is one answer for every moment: its raw recall@1 is how often chat says that
    message, whatever the moment (on the demo the adapter's was 'KEKW' on 59% of moments)."""
    tops = Counter(s.top_raw for s in scored if s.top_raw)
    if not tops:
        return {"message": None, "share": float("nan")}
    msg, n = tops.most_common(1)[0]
    return {"message": msg, "share": n / len(scored)}


def rank_all(raw: Sequence[float], tokens: Sequence[int], prior: Sequence[float] | None, n_real: int = 1) -> dict[str, int | None]:
    """``raw``: log p(c | context), LiveBot's score (their ``ranking``: the summed token loss);
    it favours short, frequent messages, and a model that has learnt chat's prior ranks "LUL"
    first whatever the streamer said; ``mean``: the same per token; ``pmi``: raw minus the log
    prior p(c) (``prior``). The first ``n_real`` candidates are the moment's real messages."""
    return {"raw": rank_of_true(raw, n_real), "mean": rank_of_true([s / n for s, n in zip(raw, tokens)], n_real),
            "pmi": rank_of_true([s - p for s, p in zip(raw, prior)], n_real) if prior is not None else None}


def moment_references(examples: pl.DataFrame, at: Sequence[dict[str, Any]], n_real: int, moment_s: float) -> list[list[str]]:
    """For each moment of ``at`` (rows with vod_id, t_s, completion): its own message, then
    the next real messages of the same VOD in ``examples`` posted within ``moment_s`` after it,
    distinct after normalization, ``n_real`` at most. LiveBot's references are the first five
    comments of the moment's second; chat is sparser than danmaku, so a moment is a few seconds.
    Only later messages: the earlier ones are the moment's chat context. A later message may
    repeat one of the context (chat does; LiveBot's references and context overlap too)."""
    from chatlab.train.generate import normalize_message

    by_vod: dict[str, list[tuple[float, str]]] = {}
    for r in examples.select("vod_id", "t_s", "completion").to_dicts():
        if r["t_s"] is not None:
            by_vod.setdefault(r["vod_id"], []).append((r["t_s"], r["completion"]))
    for v in by_vod.values():
        v.sort(key=lambda x: x[0])
    out = []
    for r in at:
        refs, seen = [r["completion"]], {normalize_message(r["completion"])}
        t = r["t_s"]
        msgs = by_vod.get(r["vod_id"], []) if t is not None else []
        for t2, text in msgs[bisect.bisect_left(msgs, t, key=lambda m: m[0]) if msgs else 0:]:
            if len(refs) >= n_real or t2 > t + moment_s:
                break
            key = normalize_message(text)
            if key and key not in seen:
                seen.add(key)
                refs.append(text)
        out.append(refs)
    return out


def summarize(scored: Sequence[Scored], rank_by: str = "pmi", max_k: int = 100) -> dict[str, float]:
    nll = sum(s.nll for s in scored)
    n = sum(s.tokens for s in scored)
    out: dict[str, float] = {"pairs": len(scored), "perplexity": perplexity(nll, n)}
    for how in RANKINGS:
        ranks = [s.ranks[how] for s in scored]
        m = ranking_metrics([r for r in ranks if r is not None]) if all(r is not None for r in ranks) else ranking_metrics([])
        out |= {f"{k}_{how}": v for k, v in m.items()}
    out |= {k: out[f"{k}_{rank_by}"] for k in ("recall_at_1", "recall_at_5", "recall_at_10", "mrr", "mean_rank")}
    return out


def per_vod(scored: dict[str, Sequence[Scored]], rank_by: str = "pmi") -> pl.DataFrame:
    """One row per VOD: pairs, and each system's perplexity and recall@1 (PMI, raw)."""
    systems = list(scored)
    schema: dict[str, Any] = {"vod_id": pl.String, "pairs": pl.Int64}
    for s in systems:
        schema |= {f"ppl_{s}": pl.Float64, f"recall1_pmi_{s}": pl.Float64, f"recall1_raw_{s}": pl.Float64}
    rows = []
    for v in sorted({x.vod_id for x in scored["adapter"]}):
        row: dict[str, Any] = {"vod_id": v}
        for s in systems:
            m = summarize([x for x in scored[s] if x.vod_id == v], rank_by)
            row |= {"pairs": int(m["pairs"]), f"ppl_{s}": m["perplexity"], f"recall1_pmi_{s}": m["recall_at_1_pmi"],
                    f"recall1_raw_{s}": m["recall_at_1_raw"]}
        rows.append(row)
    return pl.DataFrame(rows, schema=schema)


@dataclass(frozen=True)
class EvalConfig:
    n_candidates: int = 100  # LiveBot: 100 per moment
    n_real: int = 5  # LiveBot: up to 5 real messages per moment, a hit is any of them first (see moment_references)
    moment_s: float = 5.0  # a moment's real messages: its own and those posted this many seconds after it
    n_popular: int = 20
    n_similar: int = 20
    max_eval_pairs: int = 80  # test moments: each system writes a message for each (a deterministic sample beyond this)
    max_ranked_pairs: int = 80  # of those, the moments scored: perplexity, 100-candidate ranking, swap test (40 left raw recall@1 at 0-4 hits: noise)
    rank_by: str = "pmi"  # pmi | raw | mean: which ranking `recall_at_1` names (all are reported)
    min_gap_s: float = 60.0
    seed: int = 0
    few_shot_lines: int = 16
    prior_contexts: int = 8  # validation moments whose mean probability is a candidate's PMI prior
    generate_batch: int = 80  # moments generated per batch (all of max_eval_pairs in one)
    cv_folds: int = 5
    swap_test: bool = True  # the adapter's (and retrieval's) ranking again with each moment given another's context
    min_ppl_reduction: float = 0.2
    max_discriminator_accuracy: float = 0.65

    @classmethod
    def from_mapping(cls, section: dict[str, Any]) -> "EvalConfig":
        from dataclasses import fields

        known = {f.name for f in fields(cls)}
        cfg = cls(**{k: v for k, v in section.items() if k in known})
        if cfg.rank_by == "sum":  # the old name of LiveBot's raw score
            from dataclasses import replace

            cfg = replace(cfg, rank_by="raw")
        if cfg.rank_by not in RANKINGS:
            raise ValueError(f"[train] rank_by = {cfg.rank_by!r}: expected one of {RANKINGS}")
        if cfg.n_real < 1 or cfg.moment_s < 0:
            raise ValueError(f"[train] n_real = {cfg.n_real}, moment_s = {cfg.moment_s}: expected n_real >= 1 and moment_s >= 0")
        return cfg


# The per-moment table (samples.parquet), one row per test moment; other tools read it, so these
# names stay. nll_*/rank_* are empty (null) for the moments past max_ranked_pairs, and for
# frequency's PMI rank (it has no context to condition on); nll_* are summed over ``tokens``.
SAMPLE_COLUMNS: dict[str, pl.DataType] = {
    "vod_id": pl.String, "msg_id": pl.String, "t_s": pl.Float64, "transcript": pl.String, "chat": pl.String,
    "real": pl.String, "references": pl.String,
    **{f"gen_{s}": pl.String for s in SYSTEMS},
    "tokens": pl.Int64,
    **{f"nll_{s}": pl.Float64 for s in SYSTEMS},
    **{f"rank_raw_{s}": pl.Int64 for s in SYSTEMS},
    **{f"rank_pmi_{s}": pl.Int64 for s in SYSTEMS},
    "rank_pmi_swapped_adapter": pl.Int64, "rank_raw_swapped_adapter": pl.Int64,
}


@dataclass
class Evaluation:
    systems: dict[str, dict[str, float]]  # adapter and every baseline -> perplexity and ranking figures
    per_vod: pl.DataFrame
    generations: dict[str, dict[str, float]]  # every system and "real" -> text metrics
    discriminator: dict[str, dict[str, dict[str, Any]]]  # system (and real_validation) -> {embedding, bag_of_words} -> accuracy, CI
    context: dict[str, Any]  # reuse rates and the swap test
    curves: dict[str, dict[str, list[float]]]  # system -> pmi/raw -> recall@k, k = 1..n_candidates
    lengths: dict[str, list[int]]  # system and "real" -> words per generated message
    samples: pl.DataFrame  # SAMPLE_COLUMNS
    settings: dict[str, Any]
    passed: bool
    reasons: list[str]
    seconds: float
    paired: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)  # baseline -> pmi/raw -> adapter's recall@1 minus its, 95% CI

    @property
    def adapter(self) -> dict[str, float]:
        return self.systems["adapter"]

    @property
    def base(self) -> dict[str, float]:
        return self.systems["base"]

    def to_json(self) -> dict[str, Any]:
        return {"systems": self.systems, "per_vod": self.per_vod.to_dicts(), "generations": self.generations,
                "discriminator": self.discriminator, "context": self.context, "curves": self.curves, "lengths": self.lengths,
                "settings": self.settings, "passed": self.passed, "reasons": self.reasons, "seconds": self.seconds, "paired_recall_at_1": self.paired,
                "samples": self.samples.head(12).select("vod_id", "real", *[f"gen_{s}" for s in SYSTEMS]).to_dicts()}


def marginal_prior(scores: np.ndarray) -> np.ndarray:
    """log of the mean probability over reference contexts (rows) of each candidate (columns):
    log p(c) = log mean_r p(c | context_r)."""
    s = np.asarray(scores, dtype=float)
    top = s.max(axis=0)
    return top + np.log(np.mean(np.exp(s - top), axis=0))


def _model_scores(model: Any, tok: Any, prompts: Sequence[str], prior_prompts: Sequence[str], cands: list[list[str]],
                  swapped: Sequence[int] | None, log: Any, tag: str, rank: bool = True, n_reals: Sequence[int] | None = None) -> tuple[list[Scored], list[Scored] | None, list[tuple[float, int]]]:
    """Scores of one language model (with its own prompts) on every moment's candidates; with
    ``swapped``, also under another moment's prompt; with ``rank`` False, the true message only
    (perplexity; no ranks). ``prior_prompts``: the reference contexts of the PMI prior, in the
    model's own prompt form; ``n_reals[i]``: how many of moment i's candidates, first, are real
    (default 1). Returns (scored, scored_swapped, true)."""
    from chatlab.train.scoring import score_candidates

    if not rank:
        out = []
        for p, cs in zip(prompts, cands):
            (s, n), = score_candidates(model, tok, p, cs[:1])
            out.append(Scored("", "", -s, n, {"raw": None, "mean": None, "pmi": None}))
        return out, None, [(-x.nll, x.tokens) for x in out]
    unique = list(dict.fromkeys(c for cs in cands for c in cs))
    by_context = np.array([[sc for sc, _ in score_candidates(model, tok, p, unique)] for p in prior_prompts])
    prior = dict(zip(unique, marginal_prior(by_context).tolist()))
    out, out_sw, trues = [], [], []
    for i, (p, cs) in enumerate(zip(prompts, cands)):
        nr = n_reals[i] if n_reals is not None else 1
        sc = score_candidates(model, tok, p, cs)
        pr = [prior[c] for c in cs]
        toks = [n for _, n in sc]
        raw = [s for s, _ in sc]
        out.append(Scored("", "", -sc[0][0], sc[0][1], rank_all(raw, toks, pr, nr), _first(cs, raw)))
        trues.append(sc[0])
        if swapped is not None:
            sw = score_candidates(model, tok, prompts[swapped[i]], cs)
            raw_sw = [s for s, _ in sw]
            out_sw.append(Scored("", "", -sw[0][0], sw[0][1], rank_all(raw_sw, toks, pr, nr), _first(cs, raw_sw)))
        if log and ((i + 1) % 20 == 0 or i + 1 == len(prompts)):
            log(f"evaluation ({tag}): {i + 1}/{len(prompts)} moments scored")
    return out, (out_sw if swapped is not None else None), trues


def _first(cands: Sequence[str], raw: Sequence[float]) -> str:
    return cands[int(np.argmax(raw))]


def prior_prompts(examples: pl.DataFrame, n: int, seed: int = 0) -> list[str]:
    """The prompts of ``n`` moments (a fixed sample, in time order) of ``examples``: the reference
    contexts of the PMI prior. The caller passes validation moments, which no model trained on
    (a training moment's prompt would raise its own message's prior)."""
    if examples.height == 0 or n <= 0:
        raise ValueError("the PMI prior needs at least one reference moment (prior_contexts >= 1 and a validation or training split)")
    picked = examples.sort("vod_id", "t_s", "msg_id")
    if picked.height > n:
        idx = sorted(random.Random(seed + 2).sample(range(picked.height), n))
        picked = picked[idx]
    return picked["prompt"].to_list()


def evaluate(model: Any, tokenizer: Any, test: pl.DataFrame, cfg: EvalConfig | None = None, *, train: pl.DataFrame,
             validation: pl.DataFrame | None = None, models_dir: Any = None, sampling: Any = None, log: Any = None,
             bf16: bool = False) -> Evaluation:
    """Adapter (``model``, a PeftModel; its base is the same model with the adapter disabled) and
    the baselines built from ``train`` (``validation`` tunes the retrieval mix) on the ``test``
    examples. ``models_dir`` holds the unpacked sentence encoder (default: a temporary folder).
    ``bf16``: the language models score and write in bfloat16 mixed precision (scoring.precision)."""
    import tempfile
    import time

    from chatlab.train.baselines import (Retrieval, completion_ids, few_shot_lines, few_shot_prompt, frequency_messages,
                                         tune_retrieval)
    from chatlab.train.candidates import CandidateSpec, context_text, livebot_candidates
    from chatlab.train.discriminator import SentenceEncoder, cv_bag_of_words, cv_embeddings, encoder_dir
    from chatlab.train.generate import Sampling, sample
    from chatlab.train.scoring import precision

    cfg = cfg or EvalConfig()
    t0 = time.monotonic()
    if test.height == 0:
        raise ValueError("no test pairs: put at least one VOD in the test split")
    if train.height == 0:
        raise ValueError("no training pairs: the baselines are built from the training split")
    whole_test = test  # every test message can be a moment's real one, sampled or not
    if test.height > cfg.max_eval_pairs:
        test = test.sample(cfg.max_eval_pairs, seed=cfg.seed)
    test = test.sort("vod_id", "t_s", "msg_id")
    all_rows = test.select("vod_id", "msg_id", "t_s", "transcript", "chat", "prompt", "completion").to_dicts()
    # The ranked moments: a fixed sample of the generated ones, in time order.
    k = min(cfg.max_ranked_pairs, len(all_rows))
    ranked_idx = sorted(random.Random(cfg.seed + 1).sample(range(len(all_rows)), k)) if k < len(all_rows) else list(range(k))
    if not ranked_idx:
        raise ValueError("max_ranked_pairs = 0: no moment to score")
    test = test[ranked_idx]
    rows = [all_rows[j] for j in ranked_idx]
    n = len(rows)
    ctx = [context_text(r["transcript"], r["chat"]) for r in rows]
    train_msgs = train["completion"].to_list()
    train_ctx = [context_text(t, c) for t, c in zip(train["transcript"].to_list(), train["chat"].to_list())]
    spec = CandidateSpec(cfg.n_candidates, cfg.n_popular, cfg.n_similar)
    fill = pick_candidates(test, cfg.n_candidates, cfg.seed, cfg.min_gap_s)
    reals = moment_references(whole_test, rows, max(cfg.n_real, 1), cfg.moment_s)
    n_reals = [len(r) for r in reals]
    cands = livebot_candidates(reals, ctx, train_msgs, spec, cfg.seed, fill=[f[1:] for f in fill])
    swapped = swap_order(n) if cfg.swap_test else None
    prompts = [r["prompt"] for r in rows]
    shots = few_shot_lines(train_msgs, cfg.few_shot_lines, cfg.seed)
    fs_prompts = [few_shot_prompt(p, shots) for p in prompts]
    refs = prior_prompts(validation if validation is not None and validation.height else train, cfg.prior_contexts, cfg.seed)
    fs_refs = [few_shot_prompt(p, shots) for p in refs]

    model.eval()
    phases: dict[str, float] = {}  # seconds per part of the evaluation (its cost, in the metadata)
    mark = [time.monotonic()]

    def took(name: str) -> None:
        now = time.monotonic()
        phases[name] = round(now - mark[0], 1)
        mark[0] = now

    took("setup")
    scored: dict[str, list[Scored]] = {}
    swapped_scored: dict[str, list[Scored]] = {}
    with precision(model, bf16):
        scored["adapter"], sw, _ = _model_scores(model, tokenizer, prompts, refs, cands, swapped, log, "adapter", n_reals=n_reals)
    if sw is not None:
        swapped_scored["adapter"] = sw
    took("rank_adapter")
    with model.disable_adapter(), precision(model, bf16):
        # The plain base model: perplexity only (its ranking costs as much as the adapter's and it is
        # the lowest bar; the few-shot base below is the base model's best showing).
        scored["base"], _, _ = _model_scores(model, tokenizer, prompts, refs, cands, None, log, "base model", rank=False)
        scored["few_shot"], _, _ = _model_scores(model, tokenizer, fs_prompts, fs_refs, cands, None, log, "few-shot base", n_reals=n_reals)
    took("rank_base_and_few_shot")

    # The unigram baselines, on the model's own tokens.
    vocab = len(tokenizer)
    train_tok = [completion_ids(tokenizer, m) for m in train_msgs]
    retrieval = Retrieval(train_ctx, train_msgs, train_tok, vocab)
    tuned: dict[str, Any] = {"tuned_on": 0}
    if validation is not None and validation.height:
        vctx = [context_text(t, c) for t, c in zip(validation["transcript"].to_list(), validation["chat"].to_list())]
        retrieval, tuned = tune_retrieval(retrieval, vctx, [completion_ids(tokenizer, m) for m in validation["completion"].to_list()])
    freq = retrieval.frequency
    idx, sims = retrieval.neighbours(ctx)
    locals_ = [retrieval.local_model(i, s) for i, s in zip(idx, sims)]
    scored["retrieval"], scored["frequency"], swapped_scored["retrieval"] = [], [], []
    cache: dict[str, list[int]] = {}
    for i, cs in enumerate(cands):
        toks = [cache.setdefault(c, completion_ids(tokenizer, c)) for c in cs]
        lens = [len(t) for t in toks]
        pf = [freq.logprob(t) for t in toks]
        rr = [retrieval.logprob(locals_[i], t) for t in toks]
        scored["retrieval"].append(Scored("", "", -rr[0], lens[0], rank_all(rr, lens, pf, n_reals[i]), _first(cs, rr)))
        scored["frequency"].append(Scored("", "", -pf[0], lens[0], rank_all(pf, lens, None, n_reals[i]), _first(cs, pf)))
        if swapped is not None:
            rs = [retrieval.logprob(locals_[swapped[i]], t) for t in toks]
            swapped_scored["retrieval"].append(Scored("", "", -rs[0], lens[0], rank_all(rs, lens, pf, n_reals[i]), _first(cs, rs)))
    for lst in (*scored.values(), *swapped_scored.values()):
        for s, r in zip(lst, rows):
            s.vod_id, s.msg_id = r["vod_id"], r["msg_id"]
    systems = {name: summarize(scored[name], cfg.rank_by, cfg.n_candidates) for name in SYSTEMS}
    top_raw = {name: top_answer(scored[name]) for name in SYSTEMS if scored[name][0].ranks["raw"] is not None}
    took("rank_retrieval_and_frequency")

    # Generations for every moment (the ranked ones and the rest).
    g = len(all_rows)
    gen_prompts = [r["prompt"] for r in all_rows]
    gen_fs = [few_shot_prompt(p, shots) for p in gen_prompts]
    gen_ctx = [context_text(r["transcript"], r["chat"]) for r in all_rows]
    sampling = sampling or Sampling()
    gens: dict[str, list[str]] = {s: [] for s in SYSTEMS}
    # All moments in one batch: each decoding step's fixed cost (Python, small matrix products) is
    # paid once for 80 rows instead of five times for 16 (not measured apart from the rest).
    b = max(cfg.generate_batch, 1)
    for i in range(0, g, b):
        with precision(model, bf16):
            gens["adapter"] += sample(model, tokenizer, gen_prompts[i : i + b], sampling, seed=cfg.seed + i)
        with model.disable_adapter(), precision(model, bf16):
            gens["base"] += sample(model, tokenizer, gen_prompts[i : i + b], sampling, seed=cfg.seed + i)
            gens["few_shot"] += sample(model, tokenizer, gen_fs[i : i + b], sampling, seed=cfg.seed + i)
        if log:
            log(f"evaluation: {min(i + b, g)}/{g} moments generated")
    took("generate")
    gens["retrieval"] = retrieval.nearest_message(gen_ctx)
    gens["frequency"] = frequency_messages(train_msgs, g, cfg.n_popular, cfg.seed)
    real_g = [r["completion"] for r in all_rows]
    ctx_g = gen_ctx

    generations = {s: text_metrics(gens[s]) for s in SYSTEMS} | {"real": text_metrics(real_g)}
    real_len = [len(t.split()) for t in real_g]
    lengths = {"real": real_len} | {s: [len(t.split()) for t in gens[s]] for s in SYSTEMS}
    for s in SYSTEMS:
        generations[s]["length_ks_vs_real"] = ks_distance(lengths[s], real_len)

    # The discriminator: each system's messages against the real ones of the same moments.
    enc_root = models_dir if models_dir is not None else tempfile.mkdtemp(prefix="chatlab-encoder-")
    encoder = SentenceEncoder(encoder_dir(enc_root))
    real_emb = encoder.encode(real_g)
    disc = {s: {"embedding": cv_embeddings(real_emb, encoder.encode(gens[s]), cfg.cv_folds, cfg.seed),
                "bag_of_words": cv_bag_of_words(real_g, gens[s], cfg.cv_folds, cfg.seed)} for s in SYSTEMS}
    if validation is not None and validation.height:
        # The floor: real chat of another held-out stream against the test stream's. What a classifier
        # finds here is the streams' difference, not generation.
        other = validation["completion"].sample(min(g, validation.height), seed=cfg.seed).to_list()
        disc["real_validation"] = {"embedding": cv_embeddings(real_emb, encoder.encode(other), cfg.cv_folds, cfg.seed),
                                   "bag_of_words": cv_bag_of_words(real_g, other, cfg.cv_folds, cfg.seed)}

    took("discriminator")
    # The context test.
    context: dict[str, Any] = {"reuse_rate": {"real": context_reuse(real_g, ctx_g)} | {s: context_reuse(gens[s], ctx_g) for s in SYSTEMS},
                               "swap": {}}
    for s, sw in swapped_scored.items():
        a, b = summarize(scored[s], cfg.rank_by), summarize(sw, cfg.rank_by)
        worse = {how: float(np.mean([x.ranks[how] > y.ranks[how] for x, y in zip(sw, scored[s])])) for how in ("pmi", "raw")}
        context["swap"][s] = {f"{k}_{how}{tag}": m[f"{k}_{how}"] for how in ("pmi", "raw") for tag, m in (("", a), ("_swapped", b))
                              for k in ("recall_at_1", "mrr", "mean_rank")} | {f"share_worse_{how}": v for how, v in worse.items()}

    curves = {s: {how: recall_curve([x.ranks[how] for x in scored[s]], cfg.n_candidates) if scored[s][0].ranks[how] is not None else []
                  for how in ("pmi", "raw")} for s in SYSTEMS}
    paired = {name: {how: paired_difference([x.ranks[how] for x in scored["adapter"]], [x.ranks[how] for x in scored[name]], seed=cfg.seed)
                     for how in ("pmi", "raw") if scored[name][0].ranks[how] is not None}
              for name in BASELINES if scored[name][0].ranks["raw"] is not None}
    ok, reasons = verdict(systems, disc, Thresholds(cfg.min_ppl_reduction, cfg.max_discriminator_accuracy), paired,
                          top_raw.get("adapter"))
    samples = _samples_frame(all_rows, ranked_idx, gens, scored, swapped_scored.get("adapter"), reals)
    settings = {"eval": {k: v for k, v in cfg.__dict__.items()}, "bf16": bf16, "prior_contexts": len(refs), "retrieval": tuned, "few_shot_lines": shots,
                "candidates_per_moment": float(np.mean([len(c) for c in cands])),
                "real_per_moment": float(np.mean(n_reals)), "seconds_by_part": phases, "raw_top1": top_raw}
    return Evaluation(systems, per_vod(scored, cfg.rank_by), generations, disc, context, curves, lengths, samples, settings,
                      ok, reasons, round(time.monotonic() - t0, 1), paired)


def _samples_frame(rows: list[dict[str, Any]], ranked_idx: list[int], gens: dict[str, list[str]], scored: dict[str, list[Scored]],
                   swapped: list[Scored] | None, reals: list[list[str]]) -> pl.DataFrame:
    where = {j: k for k, j in enumerate(ranked_idx)}
    out = []
    for i, r in enumerate(rows):
        k = where.get(i)
        row: dict[str, Any] = {"vod_id": r["vod_id"], "msg_id": r["msg_id"], "t_s": r["t_s"], "transcript": r["transcript"] or "",
                               "chat": "\n".join(r["chat"] or []), "real": r["completion"],
                               "tokens": scored["adapter"][k].tokens if k is not None else None,
                               "references": "\n".join(reals[k]) if k is not None else None}
        for s in SYSTEMS:
            row[f"gen_{s}"] = gens[s][i]
            row[f"nll_{s}"] = scored[s][k].nll if k is not None else None
            row[f"rank_raw_{s}"] = scored[s][k].ranks["raw"] if k is not None else None
            row[f"rank_pmi_{s}"] = scored[s][k].ranks["pmi"] if k is not None else None
        row["rank_pmi_swapped_adapter"] = swapped[k].ranks["pmi"] if swapped and k is not None else None
        row["rank_raw_swapped_adapter"] = swapped[k].ranks["raw"] if swapped and k is not None else None
        out.append(row)
    return pl.DataFrame(out, schema=SAMPLE_COLUMNS)
