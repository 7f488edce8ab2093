"""Generation with guardrails: sampling defaults stored with the adapter, banned words and
patterns, repetition and copy-from-training filters, and a rate limit for a live setting.

The prompt comes from the same ``build_prompt`` as in training; ``filter_message`` and
``RateLimiter`` are pure, so they are tested without a model.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from chatlab.slurs import SLURS
from chatlab.train.prompt import Context, build_prompt, clean, encode, end_token_id

_NORM = re.compile(r"[^\w<>:]+", re.UNICODE)


def normalize_message(text: str) -> str:
    """Lower case, punctuation and repeated spaces gone: how two messages are compared."""
    return " ".join(_NORM.sub(" ", clean(text).lower()).split())


@dataclass(frozen=True)
class Sampling:
    """Sampling defaults, saved with the adapter; a caller may override any of them."""

    # Plain sampling from the model, as chat is: a repetition penalty would also push away the
    # context's words (the ones chat reacts with) and "Pog Pog Pog"-style repeats real chat has; the
    # guardrails' filters deal with loops. A discriminator tells truncated sampling apart easily.
    temperature: float = 1.0
    top_p: float = 0.95
    top_k: int = 0
    max_new_tokens: int = 32
    repetition_penalty: float = 1.0
    no_repeat_ngram_size: int = 0


# Defaults that keep generated chat out of trouble: links, @mentions (a generated message must not
# address a real viewer), contact details, bot commands, and the usual slurs' stems (a deployment
# adds its own list in [train] banned_words / banned_patterns).
DEFAULT_BANNED_PATTERNS = (
    r"https?://\S+", r"\bwww\.\S+", r"\b\S+\.(com|net|org|gg|tv|ly)\b",  # links
    r"(^|\s)@\w+",  # mentions
    r"\b[\w.+-]+@[\w-]+\.[\w.]+\b",  # e-mail
    r"\+?\d[\d\s().-]{7,}\d",  # phone-like numbers
    r"^\s*[!/]\w+",  # bot commands
)
DEFAULT_BANNED_WORDS = SLURS  # the one list the chat filter uses too (chatlab.slurs)


@dataclass(frozen=True)
class Guardrails:
    banned_words: tuple[str, ...] = DEFAULT_BANNED_WORDS
    banned_patterns: tuple[str, ...] = DEFAULT_BANNED_PATTERNS
    min_chars: int = 1
    max_chars: int = 200
    max_repeat_run: int = 4  # the same word more than this many times in a row is spam
    recent_window: int = 20  # a message equal to one of the last N outputs is a repeat
    min_copy_chars: int = 25  # a training message this long or longer may not be copied verbatim
    max_per_minute: float = 20.0  # rate limit for a live setting
    min_interval_s: float = 1.0

    @classmethod
    def from_mapping(cls, section: dict[str, Any]) -> "Guardrails":
        kw: dict[str, Any] = {}
        if "banned_words" in section:
            kw["banned_words"] = DEFAULT_BANNED_WORDS + tuple(section["banned_words"])
        if "banned_patterns" in section:
            kw["banned_patterns"] = DEFAULT_BANNED_PATTERNS + tuple(section["banned_patterns"])
        for k in ("min_chars", "max_chars", "max_repeat_run", "recent_window", "min_copy_chars", "max_per_minute", "min_interval_s"):
            if k in section:
                kw[k] = section[k]
        return cls(**kw)


class Filter:
    """Applies the guardrails to candidate messages; remembers what it let through (repetition)."""

    def __init__(self, rails: Guardrails, train_digests: Iterable[str] = ()) -> None:
        self.rails = rails
        words = [re.escape(w.lower()) for w in rails.banned_words if w.strip()]
        self._words = re.compile(r"\b(" + "|".join(words) + r")\b", re.I) if words else None
        self._patterns = [re.compile(p, re.I) for p in rails.banned_patterns]
        self._train = set(train_digests)
        self._recent: deque[str] = deque(maxlen=max(rails.recent_window, 1))

    def check(self, text: str) -> str | None:
        """None when ``text`` may be posted, else the reason it may not."""
        t = clean(text)
        r = self.rails
        if len(t) < r.min_chars:
            return "empty"
        if len(t) > r.max_chars:
            return f"longer than {r.max_chars} characters"
        if self._words and self._words.search(t):
            return "banned word"
        for p in self._patterns:
            if p.search(t):
                return f"banned pattern {p.pattern!r}"
        words = t.lower().split()
        run = 1
        for a, b in zip(words, words[1:]):
            run = run + 1 if a == b else 1
            if run > r.max_repeat_run:
                return f"the same word more than {r.max_repeat_run} times in a row"
        norm = normalize_message(t)
        if norm in self._recent:
            return "repeats a recent message"
        if len(norm) >= r.min_copy_chars and hashlib.sha256(norm.encode()).hexdigest()[:20] in self._train:
            return "copied from the training set"
        return None

    def accept(self, text: str) -> None:
        self._recent.append(normalize_message(text))


class RateLimiter:
    """At most ``max_per_minute`` messages in any 60 s, at least ``min_interval_s`` apart."""

    def __init__(self, max_per_minute: float, min_interval_s: float = 0.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_per_minute = max_per_minute
        self.min_interval_s = min_interval_s
        self.clock = clock
        self._sent: deque[float] = deque()

    def wait_s(self) -> float:
        """Seconds until the next message may go (0 = now)."""
        now = self.clock()
        while self._sent and now - self._sent[0] >= 60.0:
            self._sent.popleft()
        wait = 0.0
        if self._sent:
            wait = max(wait, self._sent[-1] + self.min_interval_s - now)
        if self.max_per_minute > 0 and len(self._sent) >= self.max_per_minute:
            wait = max(wait, self._sent[0] + 60.0 - now)
        return max(wait, 0.0)

    def allow(self) -> bool:
        """True (and counts the message) when one may be sent now."""
        if self.wait_s() > 0:
            return False
        self._sent.append(self.clock())
        return True


@dataclass
class Generated:
    messages: list[str]
    rejected: list[tuple[str, str]] = field(default_factory=list)  # (text, reason)
    prompt: str = ""


def sample(model: Any, tokenizer: Any, prompts: Sequence[str], sampling: Sampling, *, do_sample: bool = True, seed: int | None = None) -> list[str]:
    """One completion per prompt (batched, left-padded), cut at the end-of-turn token."""
    import torch

    if seed is not None:
        torch.manual_seed(seed)
    end = end_token_id(tokenizer)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else end
    rows = [encode(tokenizer, p)[0] for p in prompts]
    width = max(len(r) for r in rows)
    ids = torch.tensor([[pad] * (width - len(r)) + r for r in rows])
    mask = torch.tensor([[0] * (width - len(r)) + [1] * len(r) for r in rows])
    device = next(model.parameters()).device
    kw: dict[str, Any] = {"max_new_tokens": sampling.max_new_tokens, "eos_token_id": end, "pad_token_id": pad,
                          "repetition_penalty": sampling.repetition_penalty, "no_repeat_ngram_size": sampling.no_repeat_ngram_size}
    if do_sample:
        kw.update(do_sample=True, temperature=sampling.temperature, top_p=sampling.top_p, top_k=sampling.top_k)
    else:
        kw.update(do_sample=False)
    with torch.no_grad():
        out = model.generate(input_ids=ids.to(device), attention_mask=mask.to(device), **kw)
    return [clean(tokenizer.decode(o[width:], skip_special_tokens=True)) for o in out]


def generate_messages(model: Any, tokenizer: Any, ctx: Context, *, n: int = 1, sampling: Sampling | None = None,
                      rails: Filter | None = None, max_prompt_tokens: int = 96, max_tries: int = 4,
                      seed: int | None = None) -> Generated:
    """Up to ``n`` messages for ``ctx`` that pass the guardrails (sampling again, up to
    ``max_tries`` rounds, for those that do not)."""
    sampling = sampling or Sampling()
    prompt = build_prompt(ctx, tokenizer, max_prompt_tokens)
    result = Generated([], [], prompt)
    for attempt in range(max_tries):
        need = n - len(result.messages)
        if need <= 0:
            break
        for text in sample(model, tokenizer, [prompt] * need, sampling, seed=None if seed is None else seed + attempt):
            reason = rails.check(text) if rails else (None if text else "empty")
            if reason is None and len(result.messages) < n:
                result.messages.append(text)
                if rails:
                    rails.accept(text)
            else:
                result.rejected.append((text, reason or "enough messages"))
    return result
