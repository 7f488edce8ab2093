"""Scoring many candidate messages after one prompt in a single forward pass.

The candidates are packed one after another behind the prompt, and a 4-D attention mask lets
each candidate token see the prompt and the earlier tokens of its own candidate only; each
candidate's position ids start where the prompt ends. That is the same computation as running
``prompt + candidate`` once per candidate, without repeating the prompt or padding 100 rows to the
longest one (LiveBot's 100 candidates cost about as much as one long sequence).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from chatlab.train.prompt import encode

MAX_PACKED_TOKENS = 2048  # candidate tokens per forward pass (the mask is this squared)


def _packed_logprobs(model: Any, prompt_ids: list[int], cands: list[list[int]]) -> list[float]:
    import torch

    n = len(prompt_ids)
    ids, pos, owner = list(prompt_ids), list(range(n)), [-1] * n
    for i, c in enumerate(cands):
        ids += c
        pos += range(n, n + len(c))
        owner += [i] * len(c)
    device = next(model.parameters()).device
    own = torch.tensor(owner, device=device)
    idx = torch.arange(len(ids), device=device)
    mask = (idx[None, :] <= idx[:, None]) & ((own[None, :] == own[:, None]) | (own[None, :] == -1))
    # The token at packed index k is predicted at k-1, except a candidate's first token: at n-1.
    pred_at, target, k = [], [], n
    for c in cands:
        pred_at += [n - 1] + list(range(k, k + len(c) - 1))
        target += c
        k += len(c)
    with torch.no_grad():
        # Logits only where a candidate token is predicted (the vocabulary projection is a fifth of
        # the model's work per position).
        logits = model(input_ids=torch.tensor([ids], device=device), position_ids=torch.tensor([pos], device=device),
                       attention_mask=mask[None, None], logits_to_keep=torch.tensor(pred_at, device=device)).logits[0]
        logp = torch.log_softmax(logits.float(), -1)
    picked = logp[torch.arange(len(target), device=device), torch.tensor(target, device=device)].tolist()
    out, k = [], 0
    for c in cands:
        out.append(float(sum(picked[k : k + len(c)])))
        k += len(c)
    return out


def score_candidates(model: Any, tokenizer: Any, prompt: str, candidates: Sequence[str]) -> list[tuple[float, int]]:
    """(sum of log-probabilities, token count) of each candidate completion (its tokens and the
    end-of-turn) after ``prompt``, in packed forward passes of at most ``MAX_PACKED_TOKENS``."""
    prompt_ids, n_prompt = encode(tokenizer, prompt)
    cands = [encode(tokenizer, prompt, c)[0][n_prompt:] for c in candidates]
    out: list[float] = []
    chunk: list[list[int]] = []
    for c in cands:
        if chunk and sum(map(len, chunk)) + len(c) > MAX_PACKED_TOKENS:
            out += _packed_logprobs(model, prompt_ids, chunk)
            chunk = []
        chunk.append(c)
    if chunk:
        out += _packed_logprobs(model, prompt_ids, chunk)
    return [(s, len(c)) for s, c in zip(out, cands)]


@contextmanager
def precision(model: Any, bf16: bool) -> Iterator[None]:
    """Inside: the model runs in bfloat16 mixed precision when ``bf16`` (about twice as fast on a
    CPU with native bfloat16), except its vocabulary projection, kept in float32 so that log-
    probabilities are not rounded to bfloat16's three digits. Without ``bf16``: nothing changes."""
    if not bf16:
        yield
        return
    import torch

    device = next(model.parameters()).device.type
    head = model.get_output_embeddings()
    plain = head.forward

    def fp32_head(x: Any) -> Any:
        with torch.autocast(device, enabled=False):
            return plain(x.float())

    head.forward = fp32_head
    try:
        with torch.autocast(device, dtype=torch.bfloat16):
            yield
    finally:
        del head.forward  # back to the class's forward
