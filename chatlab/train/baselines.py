"""The baselines an adapter must beat, all built from the training streams only:

- ``frequency``: a unigram language model of the training messages (the model's own tokens, so
  its perplexity is comparable), and for generation a draw among the most common training
  messages. It knows what chat says in general, nothing about the moment;
- ``retrieval``: the training moments whose context is nearest by TF-IDF. Its language model
  mixes the unigram model of their messages with the frequency one; its generation is the
  message of the nearest training context (LiveBot's retrieval idea, Ma et al. 2019);
- ``few_shot``: the base model prompted with real chat lines from the training streams (see
  ``few_shot_prompt``): the answer to "why fine-tune at all?".

The mixing weights are chosen on the validation split (never the test one).
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from chatlab.train.candidates import Tfidf, popular_messages
from chatlab.train.prompt import clean, end_token_id


def completion_ids(tokenizer: Any, text: str) -> list[int]:
    """The tokens a model is scored on for a message: its own and the end-of-turn (as ``encode``)."""
    return list(tokenizer(text, add_special_tokens=False)["input_ids"]) + [end_token_id(tokenizer)]


class Unigram:
    """Add-``alpha`` unigram model over a vocabulary of ``vocab_size`` token ids."""

    def __init__(self, token_lists: Sequence[Sequence[int]], vocab_size: int, alpha: float = 0.1,
                 weights: Sequence[float] | None = None) -> None:
        self.counts: Counter = Counter()
        for i, toks in enumerate(token_lists):
            w = 1.0 if weights is None else float(weights[i])
            for t in toks:
                self.counts[t] += w
        self.total = float(sum(self.counts.values()))
        self.vocab_size = vocab_size
        self.alpha = alpha

    def prob(self, t: int) -> float:
        return (self.counts.get(t, 0.0) + self.alpha) / (self.total + self.alpha * self.vocab_size)

    def logprob(self, toks: Sequence[int]) -> float:
        return float(sum(math.log(self.prob(t)) for t in toks))


@dataclass(frozen=True)
class RetrievalSettings:
    k: int = 10  # nearest training contexts
    mix: float = 0.5  # weight of their messages' unigram model against the frequency model
    alpha: float = 0.1  # add-alpha smoothing of the frequency model


class Retrieval:
    """The nearest training contexts by TF-IDF; a language model and a message from them."""

    def __init__(self, contexts: Sequence[str], messages: Sequence[str], token_lists: Sequence[Sequence[int]],
                 vocab_size: int, settings: RetrievalSettings = RetrievalSettings()) -> None:
        if not messages:
            raise ValueError("retrieval baseline: no training messages")
        self.contexts, self.messages, self.tokens = list(contexts), list(messages), [list(t) for t in token_lists]
        self.settings = settings
        self.vocab_size = vocab_size
        self.tfidf = Tfidf(self.contexts)
        self.frequency = Unigram(self.tokens, vocab_size, settings.alpha)

    def with_settings(self, settings: RetrievalSettings) -> "Retrieval":
        return Retrieval(self.contexts, self.messages, self.tokens, self.vocab_size, settings)

    def neighbours(self, contexts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """(indices, similarities) of the k nearest training contexts of each context."""
        sims = self.tfidf.similarity(contexts, self.contexts)
        k = min(self.settings.k, sims.shape[1])
        idx = np.argsort(-sims, axis=1, kind="stable")[:, :k]
        return idx, np.take_along_axis(sims, idx, axis=1)

    def local_model(self, idx: np.ndarray, sims: np.ndarray) -> Unigram:
        w = sims + 1e-3  # a context with no word in common still counts a little
        return Unigram([self.tokens[j] for j in idx], self.vocab_size, 0.0, weights=w)

    def logprob(self, local: Unigram, toks: Sequence[int]) -> float:
        m = self.settings.mix
        return float(sum(math.log(m * (local.counts.get(t, 0.0) / local.total if local.total else 0.0)
                                  + (1 - m) * self.frequency.prob(t)) for t in toks))

    def nearest_message(self, contexts: Sequence[str]) -> list[str]:
        idx, _ = self.neighbours(contexts)
        return [self.messages[int(r[0])] for r in idx]


def tune_retrieval(r: Retrieval, contexts: Sequence[str], token_lists: Sequence[Sequence[int]]) -> tuple[Retrieval, dict[str, float]]:
    """The settings (mix, alpha) with the lowest perplexity on held-out (validation) moments."""
    if not contexts:
        return r, {"tuned_on": 0}
    best = None
    for alpha in (0.01, 0.03, 0.1, 0.3):
        for mix in (0.1, 0.3, 0.5, 0.7, 0.9):
            cand = r.with_settings(RetrievalSettings(r.settings.k, mix, alpha))
            idx, sims = cand.neighbours(contexts)
            nll = -sum(cand.logprob(cand.local_model(i, s), t) for i, s, t in zip(idx, sims, token_lists))
            n = sum(len(t) for t in token_lists)
            ppl = math.exp(nll / n)
            if best is None or ppl < best[0]:
                best = (ppl, cand, mix, alpha)
    return best[1], {"tuned_on": len(contexts), "mix": best[2], "alpha": best[3], "validation_perplexity": best[0]}


def frequency_messages(messages: Sequence[str], n: int, top: int = 20, seed: int = 0) -> list[str]:
    """``n`` draws among the ``top`` most common training messages, in proportion to their counts."""
    pop = popular_messages(messages, top)
    if not pop:
        return [""] * n
    from chatlab.train.generate import normalize_message

    counts = Counter(normalize_message(m) for m in messages)
    weights = [counts[normalize_message(p)] for p in pop]
    rng = random.Random(seed)
    return rng.choices(pop, weights=weights, k=n)


FEW_SHOT_HEAD = "Real messages from this chat, for the style (short, informal, one line):"


def few_shot_lines(messages: Sequence[str], k: int = 16, seed: int = 0) -> list[str]:
    """``k`` distinct training messages at random (the same for every moment)."""
    distinct = list(dict.fromkeys(clean(m) for m in messages if clean(m)))
    random.Random(seed).shuffle(distinct)
    return distinct[:k]


def few_shot_prompt(prompt: str, lines: Sequence[str]) -> str:
    """``prompt`` (the training template) with real chat lines added to its system turn. The
    chat template's own layout stays: the system text is extended, nothing else moves."""
    head = "<|im_start|>system\n"
    end = "<|im_end|>"
    if not prompt.startswith(head) or end not in prompt:
        raise ValueError("few_shot_prompt: the prompt does not start with the template's system turn")
    cut = prompt.index(end)
    shots = "\n".join(f"- {line}" for line in lines)
    return prompt[:cut] + f" Reply with that one message only.\n{FEW_SHOT_HEAD}\n{shots}" + prompt[cut:]
