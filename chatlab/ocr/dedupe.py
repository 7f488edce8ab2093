"""Cross-frame de-duplication: each message once, at the time it first appeared.

A panel shows a window of the message stream: the end of what was already read, then what is new.
When a panel is read whole (the first frame, a change that is not a clean scroll, the naive
baseline), its messages are aligned to the end of the history with fuzzy matching (rapidfuzz), and
only those after the overlap are new. Aligning the *sequence* rather than looking each message up
keeps real repeats (one viewer pasting the same copypasta twice) while dropping re-reads.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from rapidfuzz import fuzz

SIMILAR = 80.0  # rapidfuzz ratio (0-100) of "user: text" for "the same message read twice"


@dataclass
class OcrMessage:
    t_s: float  # first seen
    user: str
    text: str
    confidence: float
    seen_s: float = 0.0  # time of the sample it was read on (t_s can be earlier: refined between samples)
    note: str | None = None  # why it may be wrong (low confidence, no user, ...)
    # every reading of it, one per frame that showed it (votes.py)
    readings: list = field(default_factory=list, repr=False, compare=False)

    def to_json(self) -> dict:
        d = {"t_s": round(self.t_s, 3), "user": self.user, "text": self.text, "confidence": round(self.confidence, 4)}
        if self.note:
            d["note"] = self.note
        return d


def same(a_user: str, a_text: str, b_user: str, b_text: str, threshold: float = SIMILAR) -> bool:
    """One message read twice: 'user: text' as a whole alike (a misread letter in a short text
    alone would fall below the threshold)."""
    return fuzz.ratio(f"{a_user.lower()}: {a_text}", f"{b_user.lower()}: {b_text}") >= threshold


def overlap(history: Sequence[OcrMessage], panel: Sequence[tuple[str, str]], min_share: float = 0.8) -> int:
    """How many of the panel's first messages are the last ones of `history` (0 when none)."""
    for k in range(min(len(history), len(panel)), 0, -1):
        tail = history[len(history) - k:]
        hits = sum(same(h.user, h.text, u, t) for h, (u, t) in zip(tail, panel[:k]))
        if hits >= max(1, math.ceil(min_share * k)):
            return k
    return 0


NOVEL = 60.0  # below this ratio to every recent message, an unaligned panel message is new


def align_panel(history: Sequence[OcrMessage], panel: Sequence[tuple[str, str]]) -> tuple[list[int], list[tuple[int, int]]]:
    """(indices of the panel's messages that are not in `history` (its recent end), (history index,
    panel index) of those that are: the same message read again).

    The panel and the history are aligned as sequences (longest common subsequence under
    ``same``): messages after the last aligned one are new; an unaligned one before it is new only
    when it is like nothing recent (``NOVEL``), else it is a misread of one already kept. Real
    repeats stay: one viewer's second "lets go" aligns with nothing once the first is matched.
    """
    n, m = len(history), len(panel)
    if m == 0:
        return [], []
    if n == 0:
        return list(range(m)), []
    eq = [[same(h.user, h.text, u, t) for (u, t) in panel] for h in history]
    dp = [[0] * (m + 1) for _ in range(n + 1)]
    for i in range(n - 1, -1, -1):
        for j in range(m - 1, -1, -1):
            dp[i][j] = max(dp[i + 1][j], dp[i][j + 1], dp[i + 1][j + 1] + 1 if eq[i][j] else 0)
    matched: set[int] = set()
    pairs: list[tuple[int, int]] = []
    i = j = 0
    while i < n and j < m:
        if eq[i][j] and dp[i][j] == dp[i + 1][j + 1] + 1:
            matched.add(j)
            pairs.append((i, j))
            i, j = i + 1, j + 1
        elif dp[i + 1][j] >= dp[i][j + 1]:
            i += 1
        else:
            j += 1
    last = max(matched) if matched else -1
    out = []
    for j in range(m):
        if j in matched:
            continue
        if j > last:
            out.append(j)
            continue
        u, t = panel[j]
        key = f"{u.lower()}: {t}"
        if max(fuzz.ratio(key, f"{h.user.lower()}: {h.text}") for h in history) < NOVEL:
            out.append(j)
    return out, pairs


_CONFUSABLE = str.maketrans({"0": "o", "1": "l", "i": "l", "|": "l", "5": "s", "8": "b", "-": "_", "2": "z"})


def name_shape(name: str) -> str:
    """A user name with the letters the recogniser confuses made one (1/l, 0/o, case) and no trailing underscore."""
    return name.lower().translate(_CONFUSABLE).strip("_")  # a trailing underscore is often lost


def _dropped_letter(rare: str, common: str) -> bool:
    """`rare` is `common` with one letter lost (Wizard1558 read as Wzard1558); never a digit, so
    Wolf294 and Wolf2945 stay two viewers."""
    if len(common) != len(rare) + 1 or len(rare) < 5:
        return False
    for i in range(len(common)):
        if common[:i] + common[i + 1:] == rare:
            return common[i].isalpha()
    return False


def canonical_users(messages: Sequence[OcrMessage], min_count_ratio: float = 3.0) -> dict[str, str]:
    """Spellings of a name misread now and then (``Falc0n1650``) -> the common spelling: only when
    they differ by characters the recogniser confuses (0/o, 1/l, 5/S, case) and the common one is
    seen far more often, so two real viewers with similar names stay apart."""
    counts = Counter(m.user for m in messages if m.user)
    names = [n for n, _ in counts.most_common()]
    fix: dict[str, str] = {}
    # a badge before the name read as a letter ("Isleepy_dragon"): the name without it, also seen, is
    # the name, however often each was read (a real name rarely starts with I and a small letter)
    known = {name_shape(n): n for n in reversed(names)}
    shapes = Counter(name_shape(n) for n in names)
    for n in names:
        # not when the name is also read with its first letter as another look-alike ('Iucky_wolf'
        # beside 'lucky_wolf': the l is the name's own, and a one-off 'ucky_wolf' must not take both)
        if len(n) >= 5 and n[0] in "Il|1!" and (n[1].islower() or n[1] in "_") and name_shape(n[1:]) in known \
                and shapes[name_shape(n)] == 1:
            fix[n] = known[name_shape(n[1:])]
    # a trailing underscore is lost now and then, never added: where the name is read with it on
    # two frames or more (any of its messages' readings), its spellings without it are that name
    read = Counter(r.user for m in messages for r in (m.readings or [m]) if r.user)
    for n in names:
        if n in fix or n.endswith("_"):
            continue
        under = [u for u in read if u.rstrip("_") == n and u != n and read[u] >= 2]
        if under:
            fix[n] = max(under, key=lambda u: read[u])
    for i, rare in enumerate(names):
        if rare in fix:
            continue
        for common in names[:i]:
            if common in fix:
                continue
            if counts[common] >= min_count_ratio * counts[rare] and (name_shape(rare) == name_shape(common) or _dropped_letter(rare, common)):
                fix[rare] = common
                break
    return fix
