"""The one prompt template: what the streamer just said, what chat just wrote and the stream's
metadata -> the prompt whose completion is the next chat message.

Training, evaluation and generation all call ``build_prompt`` and ``encode``: the model sees the
same text, cut the same way, in every one of them. The transcript is cut from the left (oldest
words first) so the prompt fits ``max_prompt_tokens``; the completion is never cut (the dataset
drops a message longer than ``max_completion_tokens`` instead, and says so).

The format is SmolLM2's ChatML written out by hand rather than through the tokenizer's chat
template, so a tokenizer with another template (or none) cannot silently change it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

TEMPLATE_VERSION = "chatml-2"  # part of every dataset version: bump when the text below changes
MAX_CHAT_LINE_CHARS = 160  # one spammed line must not eat the whole context
MAX_META_CHARS = 100

_WS = re.compile(r"\s+")


def clean(text: str | None) -> str:
    """One line, single spaces, no ChatML markers a viewer could have typed."""
    if not text:
        return ""
    text = text.replace("<|im_start|>", "").replace("<|im_end|>", "")
    return _WS.sub(" ", text).strip()


@dataclass(frozen=True)
class Context:
    """What the model sees before the next chat message."""

    transcript: str = ""  # the streamer's words in the last N seconds, oldest first
    chat: tuple[str, ...] = ()  # the last K chat messages (text only, no user names), oldest first
    title: str = ""
    streamer: str = ""

    @classmethod
    def of(cls, transcript: str | None = "", chat: Sequence[str] | str | None = (), title: str | None = "", streamer: str | None = "") -> "Context":
        if isinstance(chat, str):
            chat = [c for c in chat.splitlines()]
        lines = tuple(clean(c)[:MAX_CHAT_LINE_CHARS] for c in (chat or ()) if clean(c))
        return cls(clean(transcript), lines, clean(title)[:MAX_META_CHARS], clean(streamer)[:MAX_META_CHARS])


def _system(ctx: Context) -> str:
    # Short on purpose: every prompt token is paid for in every training step and every score.
    who = f"{ctx.streamer}'s" if ctx.streamer else "a"
    about = f' "{ctx.title}"' if ctx.title else ""
    return f"Write the next message in the live chat of {who} stream{about}."


def messages(ctx: Context) -> list[dict[str, str]]:
    """The prompt for ``ctx`` as chat messages (system, user): the conversational form TRL and
    any model's chat template take. ``render`` is these messages in ChatML."""
    chat = "\n".join(ctx.chat) if ctx.chat else "(quiet)"
    return [{"role": "system", "content": _system(ctx)},
            {"role": "user", "content": f"Streamer: {ctx.transcript or '(silence)'}\nChat:\n{chat}"}]


def render(ctx: Context) -> str:
    """The prompt for ``ctx`` as it is, with no cutting."""
    turns = "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages(ctx))
    return turns + "<|im_start|>assistant\n"


def null_prompt() -> str:
    """The prompt with no moment in it (no transcript, no chat, no metadata): the PMI prior's
    condition in the evaluation, and what context dropout trains on."""
    return render(Context())


def n_tokens(tokenizer: Any, text: str) -> int:
    return len(tokenizer(text, add_special_tokens=False)["input_ids"])


class ContextTooLong(ValueError):
    """Even with no transcript and no chat the prompt does not fit the model."""


def fit(ctx: Context, tokenizer: Any, max_prompt_tokens: int) -> Context:
    """``ctx`` cut to fit ``max_prompt_tokens``: the transcript loses its oldest words first; when
    the chat alone is too long, its oldest lines go. Exact: counts with the tokenizer."""
    if n_tokens(tokenizer, render(ctx)) <= max_prompt_tokens:
        return ctx
    bare = Context("", ctx.chat, ctx.title, ctx.streamer)
    chat = list(ctx.chat)
    while chat and n_tokens(tokenizer, render(bare)) > max_prompt_tokens:
        chat.pop(0)
        bare = Context("", tuple(chat), ctx.title, ctx.streamer)
    if n_tokens(tokenizer, render(bare)) > max_prompt_tokens:
        raise ContextTooLong(
            f"the prompt needs {n_tokens(tokenizer, render(bare))} tokens with no transcript and no chat; "
            f"the limit is {max_prompt_tokens} (shorten the title/streamer or raise max_prompt_tokens)"
        )
    words = ctx.transcript.split()
    # Largest suffix of the words that fits: binary search on the first kept word.
    lo, hi = 0, len(words)  # words[hi:] (empty) fits; find the smallest start that fits
    while lo < hi:
        mid = (lo + hi) // 2
        trial = Context(" ".join(words[mid:]), bare.chat, ctx.title, ctx.streamer)
        if n_tokens(tokenizer, render(trial)) <= max_prompt_tokens:
            hi = mid
        else:
            lo = mid + 1
    return Context(" ".join(words[hi:]), bare.chat, ctx.title, ctx.streamer)


def build_prompt(ctx: Context, tokenizer: Any = None, max_prompt_tokens: int | None = None) -> str:
    """The prompt text. With a tokenizer and a limit, cut to fit (see ``fit``)."""
    if tokenizer is not None and max_prompt_tokens:
        ctx = fit(ctx, tokenizer, max_prompt_tokens)
    return render(ctx)


def completion_text(message: str | None) -> str:
    """The target as the model must write it: one clean line."""
    return clean(message)


def encode(tokenizer: Any, prompt: str, completion: str | None = None) -> tuple[list[int], int]:
    """Token ids of prompt (+ completion + end-of-turn) and the prompt's length in tokens. Prompt
    and completion are tokenized apart, so the boundary is the same in training and scoring."""
    ids = list(tokenizer(prompt, add_special_tokens=False)["input_ids"])
    n_prompt = len(ids)
    if completion is not None:
        ids += list(tokenizer(completion, add_special_tokens=False)["input_ids"]) + [end_token_id(tokenizer)]
    return ids, n_prompt


def end_token_id(tokenizer: Any) -> int:
    """The end-of-turn token (``<|im_end|>`` in ChatML), which ends every completion."""
    tid = tokenizer.convert_tokens_to_ids("<|im_end|>")
    if isinstance(tid, int) and tid != getattr(tokenizer, "unk_token_id", None):
        return tid
    if tokenizer.eos_token_id is None:
        raise ValueError("tokenizer has neither <|im_end|> nor an eos token")
    return int(tokenizer.eos_token_id)
