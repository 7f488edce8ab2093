"""LiveBot's candidate sets (Ma et al., AAAI 2019, section "Evaluation Metrics"): for each test
moment, 100 messages to rank: the real ones (LiveBot: the first 5 comments of the moment's
second; a hit is any of them ranked first), the 20 most popular training messages, the 20
training messages most similar to the moment's context by TF-IDF, and random training messages
to fill (their code, data/add_candidate.py, in that order). A model that only learnt chat's
frequent lines is caught by the popular ones, one that only echoes the context's words by the
similar ones.

Messages are compared after ``normalize_message`` (case, punctuation), so "LUL" and "lul!" are
one candidate and never stand against a real "LUL".
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from chatlab.train.generate import normalize_message


def context_text(transcript: str | None, chat: Sequence[str] | None) -> str:
    """The words a moment offers: what the streamer said and the recent chat."""
    return " ".join([transcript or "", *(chat or ())]).strip()


class Tfidf:
    """TF-IDF vectors (scikit-learn), fitted on a corpus; cosine similarity of two lists of texts."""

    def __init__(self, corpus: Sequence[str]) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer

        # Words of one character count too: chat's "w", "o7" and emotes carry meaning.
        self.vec = TfidfVectorizer(lowercase=True, token_pattern=r"(?u)\b\w+\b", sublinear_tf=True)
        self.vec.fit([t or " " for t in corpus] or [" "])

    def similarity(self, a: Sequence[str], b: Sequence[str]):
        """len(a) x len(b) cosine similarities (numpy)."""
        return (self.vec.transform(list(a)) @ self.vec.transform(list(b)).T).toarray()


@dataclass(frozen=True)
class CandidateSpec:
    n: int = 100
    popular: int = 20
    similar: int = 20


def popular_messages(messages: Sequence[str], k: int) -> list[str]:
    """The ``k`` most frequent messages (by normalized text; the first spelling seen stands for it)."""
    counts = Counter(normalize_message(m) for m in messages if normalize_message(m))
    first: dict[str, str] = {}
    for m in messages:
        first.setdefault(normalize_message(m), m)
    return [first[t] for t, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:k]]


def livebot_candidates(true_messages: Sequence[str | Sequence[str]], contexts: Sequence[str], pool: Sequence[str],
                       spec: CandidateSpec = CandidateSpec(), seed: int = 0,
                       fill: Sequence[Sequence[str]] | None = None) -> list[list[str]]:
    """For moment i: its real messages (``true_messages[i]``: one text or a list, distinct after
    normalization) first, then negatives from ``pool`` (training messages) up to ``spec.n`` in
    all: popular, then similar to ``contexts[i]``, then random. When the pool has too few distinct
    messages, ``fill[i]`` (messages of other moments, caller's choice) tops it up. No negative
    equals a real message or another negative after normalization."""
    distinct: dict[str, str] = {}
    for m in pool:
        if normalize_message(m):
            distinct.setdefault(normalize_message(m), m)
    texts = list(distinct.values())
    reals_of = [[t] if isinstance(t, str) else list(t) for t in true_messages]
    # Spares: the real messages may be among the most popular; 20 popular negatives stand anyway.
    popular = popular_messages(pool, spec.popular + max((len(r) for r in reals_of), default=1))
    sims = Tfidf([*contexts, *texts]).similarity(contexts, texts) if texts and contexts else None
    out = []
    for i, reals in enumerate(reals_of):
        rng = random.Random(f"{seed}:{i}:{reals[0]}")
        seen = {normalize_message(r) for r in reals}
        chosen: list[str] = []
        room = spec.n - len(reals)

        def take(cands, limit: int) -> None:
            for c in cands:
                if len(chosen) >= limit:
                    return
                key = normalize_message(c)
                if key and key not in seen:
                    seen.add(key)
                    chosen.append(c)

        take(popular, spec.popular)
        if sims is not None:
            order = sorted(range(len(texts)), key=lambda j: (-sims[i, j], j))
            take((texts[j] for j in order), spec.popular + spec.similar)
        rest = list(texts)
        rng.shuffle(rest)
        take(rest, room)
        if fill is not None and len(chosen) < room:
            extra = list(fill[i])
            rng.shuffle(extra)
            take(extra, room)
        out.append([*reals, *chosen])
    return out
