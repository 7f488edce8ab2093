"""Synthetic alignment cases with known truth, from a seed: transcript words and a chat that
echoes them after a reaction delay, plus unrelated noise, on a chat clock with offset, drift and
cuts. No audio for the accuracy suite (it needs only times and words); `splice_audio` renders a
window of a case's audio for the audio-side evidence at cuts (chatlab.align.audiocut).

Lines are what viewers react to: every reaction's delay runs from the END of the line (as in
chatlab.demo: `t_speech = line end + reaction delay`), whichever word of it the message echoes.
A line is one sentence or, one time in three, two sentences said with a short pause between
them ("Why is the troll so strong? This is not fair."). The words come out as an ASR gives
them (measured on the demo streams against Whisper base): segments of one to three lines (a
segment end is not a line end), terminal punctuation on each sentence's last word (so a full
stop is not always a line end either), word times a little early (starts ~0.08 s, a sentence's
last word's end ~0.15 s) with ~0.04 s jitter.

A cut removes a stretch of the audio (an ad break, a muted part, a reconnect) while the chat
clock runs on, so after it the offset is larger by the length removed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from chatlab.align.curve import CurveSegment, OffsetCurve

DELAY_MEDIAN_S, DELAY_SIGMA, DELAY_RANGE_S = 4.0, 0.55, (1.0, 15.0)
# ASR-like output (see the module doc)
SENTENCES_PER_SEGMENT = (0.45, 0.35, 0.20)  # P(1, 2, 3 lines in one ASR segment)
MAX_SEGMENT_S = 30.0  # Whisper's window
TWO_SENTENCE_LINE_P = 0.35  # a line of two sentences (or a comma heard as a full stop) ...
INLINE_PAUSE_S = (0.15, 0.45)  # ... with this short pause between them
LINE_PAUSE_MEDIAN_S, LINE_PAUSE_SIGMA = 0.95, 0.45  # pauses between lines (demo streams: p10 0.55 s, median 0.95 s)
ASR_START_BIAS_S, ASR_END_BIAS_S, ASR_LAST_END_BIAS_S, ASR_JITTER_S = -0.08, -0.07, -0.15, 0.04
FILLER = ("the we are going to and i think it is so this that was a of in on for you my just really now "
          "okay look at get let me have be there what here with oh no wait").split()
PLAIN = ("LUL", "KEKW", "nice", "true", "lol", "gg", "no way", "LETS GO", "so true", "agreed", "Pog", "W", "omg")
NOISE = ("hello everyone", "hi chat", "!uptime", "first time here", "what game is this", "Kappa Kappa",
         "love the stream", "where are you from", "KEKW KEKW", "anyone else lagging", "o7", "LUL LUL LUL",
         "what time is it there", "good morning", "brb", "gn chat", "this song slaps", "PepeHands")
_SYL = ("ka", "ri", "mo", "ten", "lor", "vak", "shi", "dun", "pel", "gra", "zo", "mir", "tal", "bek", "nor", "sul",
        "fen", "dra", "kel", "vor", "ban", "tis", "quo", "rin", "hal", "mek", "sor", "lan")


def keywords(n: int = 500) -> list[str]:
    """One fixed vocabulary for every case (so a chat from another stream shares words with it)."""
    rng = np.random.default_rng(12345)
    out: list[str] = []
    seen: set[str] = set()
    while len(out) < n:
        w = "".join(rng.choice(_SYL, int(rng.integers(2, 4))))
        if w not in seen and len(w) >= 5:
            seen.add(w)
            out.append(w)
    return out


@dataclass(frozen=True)
class Case:
    words: pl.DataFrame  # seg_id (ASR segment), start_s, end_s, word (audio clock, as an ASR gives them)
    chat: pl.DataFrame  # msg_id, t_s (chat clock), text, user_hash, kind, t_speech, reaction_delay_s (truth; null for noise or a cut)
    truth: OffsetCurve
    params: dict


def _typo(w: str, rng: np.random.Generator) -> str:
    r = rng.random()
    if r < 0.08:
        return w.upper()
    if r < 0.14:
        return w + "s"
    if r < 0.20:
        i = int(rng.integers(1, len(w)))
        return w[:i] + w[i - 1] + w[i:]  # doubled letter
    return w


def make_case(seed: int, minutes: float = 30.0, *, offset_s: float | None = None, drift_s_per_h: float | None = None,
              cuts: int = 0, noise: float = 0.3, msgs_per_min: float = 40.0, chat_seed: int | None = None,
              asr_bias: bool = True, cut_at_s: tuple[float, ...] | None = None, cut_len_s: tuple[float, ...] | None = None,
              echo_p: float = 0.65, splice: str | None = None) -> Case:
    """A case of `minutes` of audio. chat_seed: the chat comes from that seed's stream instead (unrelated chat).
    asr_bias: word times early as Whisper's are against the demo's TTS truth (False: jitter only).
    cut_at_s / cut_len_s: the cuts at these audio-clock times, removing these lengths (instead of
    `cuts` random ones). echo_p: the share of reactions that echo a word of the line. splice: every
    cut of this kind (SPLICE_KINDS, or "bare": anywhere, with no mark in the words and the stream's
    own segments, as the generator made them before splices had a trace); None: drawn per cut."""
    rng = np.random.default_rng([seed, 1])
    offset = float(rng.uniform(-3600, 3600)) if offset_s is None else float(offset_s)
    drift = float(rng.uniform(-5, 5)) if drift_s_per_h is None else float(drift_s_per_h)
    duration = minutes * 60.0
    cut_len = rng.uniform(20.0, 300.0, cuts)
    if cut_at_s is not None:
        cuts, cut_len = len(cut_at_s), np.asarray(cut_len_s, np.float64)
    real_len = duration + float(cut_len.sum())
    cut_at = np.sort(rng.uniform(0.15, 0.85, cuts)) * real_len if cuts else np.zeros(0)
    if cut_at_s is not None:  # audio-clock times -> the real timeline (the removed stretches before each)
        cut_at = np.asarray(cut_at_s, np.float64) + np.concatenate([[0.0], np.cumsum(cut_len)[:-1]])
    elif cuts > 1 and np.min(np.diff(cut_at) - cut_len[:-1]) < 300:  # keep cuts apart
        cut_at = np.linspace(0.3, 0.7, cuts) * real_len
    words, seg_ends, seg_kw, line_starts = _speech(np.random.default_rng([seed, 2]), real_len, asr_bias)
    srng = np.random.default_rng([seed, 6])
    kinds = [str(srng.choice(SPLICE_KINDS, p=SPLICE_KIND_P)) if splice is None else splice for _ in range(cuts)]
    cut_at, cut_len = _snap_pauses(cut_at, cut_len, kinds, seg_ends, line_starts)
    # chat on the real timeline (as if the stream had not been cut)
    crng = np.random.default_rng([chat_seed if chat_seed is not None else seed, 3])
    if chat_seed is not None:
        _, seg_ends, seg_kw, line_starts = _speech(np.random.default_rng([chat_seed, 2]), real_len, asr_bias)
    t_real, text, kind, delays, line, echo = _chat(crng, seg_ends, seg_kw, real_len, noise, msgs_per_min, echo_p)
    # the audio clock: real time minus the cut stretches before it; words inside a cut are gone
    def to_audio(r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        shift = np.zeros(len(r))
        inside = np.zeros(len(r), bool)
        for a, j in zip(cut_at, cut_len):
            inside |= (r >= a) & (r < a + j)
            shift += np.where(r >= a + j, j, 0.0)
        return r - shift, inside

    words = _asr_marks(words, np.random.default_rng([seed, 7]))
    words, splices = _splice_words(words, cut_at, cut_len, kinds, srng)
    ws, _ = to_audio(words["start_s"].to_numpy())
    we, _ = to_audio(words["end_s"].to_numpy())
    words = words.with_columns(pl.Series("start_s", ws), pl.Series("end_s", we))
    t_speech, in_cut = to_audio(t_real)
    # the line an echo repeats a word of, on the audio clock (the bench's bound on cut placement)
    ls, ls_in = to_audio(line_starts[np.maximum(line, 0)])
    le, le_in = to_audio(seg_ends[np.maximum(line, 0)])
    echo_ok = echo & ~ls_in & ~le_in & (chat_seed is None)
    # chat clock: t_chat = (R + offset) / (1 - drift/3600), as chatlab.demo.clock.ChatClock
    k = 1.0 - drift / 3600.0
    t_chat = (t_real + offset) / k
    segs = []
    bounds = [0.0, *[float(a) for a in cut_at], real_len]
    removed = 0.0
    for i in range(len(bounds) - 1):
        r0 = bounds[i] + (cut_len[i - 1] if i else 0.0)
        start = (r0 + offset) / k
        end = (bounds[i + 1] + offset) / k
        segs.append(CurveSegment(start, end, offset + removed + drift * start / 3600.0, drift))
        if i < len(cut_len):
            removed += float(cut_len[i])
    n = len(t_real)
    chat = pl.DataFrame({
        "msg_id": [f"m{seed}-{i}" for i in range(n)],
        "t_s": np.round(t_chat, 3),
        "text": text,
        "user_hash": [f"u{int(x):04d}" for x in crng.integers(0, 500, n)],
        "kind": kind,
        "t_speech": np.where(in_cut | (np.array(kind) == "noise"), np.nan, t_speech),
        "reaction_delay_s": np.where(in_cut | (np.array(kind) == "noise"), np.nan, delays),  # from the END of the line
        "echo_line_start_s": np.where(echo_ok, ls, np.nan),  # an echo: the audio-clock line it repeats a word of
        "echo_line_end_s": np.where(echo_ok, le, np.nan),
    }).with_columns(pl.col(c).fill_nan(None) for c in ("t_speech", "reaction_delay_s", "echo_line_start_s", "echo_line_end_s")).sort("t_s")
    params = {"seed": seed, "minutes": minutes, "offset_s": offset, "drift_s_per_h": drift, "cuts": cuts,
              "cut_len_s": [round(float(x), 2) for x in cut_len],
              "cut_at_audio_s": [round(float(a - cut_len[:i].sum()), 3) for i, a in enumerate(cut_at)], "noise": noise, "unrelated": chat_seed is not None, "asr_bias": asr_bias,
              "splices": splices}
    return Case(words, chat, OffsetCurve(tuple(segs)), params)


# A splice as an ASR hears it (measured with the bundled Whisper on the committed real clips, cut
# mid-sentence: "others to... The aspect", "die dort... Wenn" with "Wenn" at p 0.11, "in which
# wisdom is" with "wisdom" at p 0.11, "Strindet. Kommen" with no mark at all). A cut lands in a
# pause between lines (no trace in the words) or anywhere (mid-sentence, mid-word): then the word
# before it may trail off ("to..."), the word cut off or the first after it gets a low
# probability, Whisper may start a new segment there, and often only some of these or none.
SPLICE_KINDS, SPLICE_KIND_P = ("pause", "mid"), (0.35, 0.65)
SPLICE_TRAIL_P, SPLICE_LOW_P, SPLICE_NEW_SEGMENT_P, SPLICE_OPEN_P = 0.4, 0.6, 0.3, 0.75
LOW_PROB = (0.03, 0.35)  # a word Whisper is unsure of
MIN_WORD_S = 0.06  # a word cut shorter than this is gone


def _asr_marks(words: pl.DataFrame, rng: np.random.Generator) -> pl.DataFrame:
    """Word probabilities and trailing-off marks as an ASR gives them where nothing was cut: each
    case draws its own rates (a speaker who hesitates, names the ASR does not know), so the marks
    of a splice must be told from this chance level of the same VOD."""
    n = words.height
    made_up = ~words["word"].str.strip_chars(".?!").is_in(FILLER).to_numpy()
    low_rate = float(rng.uniform(0.005, 0.05))
    low = rng.random(n) < np.where(made_up, 3 * low_rate, low_rate)
    prob = np.where(low, rng.uniform(*LOW_PROB, n), np.clip(1.0 - 0.08 * rng.exponential(1.0, n), LOW_PROB[1] + 0.01, 1.0))
    text = words["word"].to_list()
    ends = np.array([w[-1] in ".?!" for w in text])
    trail = (rng.random(n) < np.where(ends, float(rng.uniform(0, 0.03)), float(rng.uniform(0, 0.005))))
    text = [w.rstrip(".?!") + "..." if t else w for w, t in zip(text, trail)]
    return words.with_columns(pl.Series("word", text), pl.Series("probability", prob))


def _snap_pauses(cut_at: np.ndarray, cut_len: np.ndarray, kinds: list[str], ends: np.ndarray,
                 starts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cuts of kind "pause" moved to start and end in the middle of a pause between lines (real timeline)."""
    cut_at, cut_len = cut_at.astype(np.float64).copy(), cut_len.astype(np.float64).copy()
    if len(ends) < 3:
        return cut_at, cut_len
    mids = (ends[:-1] + starts[1:]) / 2.0
    for i, k in enumerate(kinds):
        if k != "pause":
            continue
        a = float(mids[np.argmin(np.abs(mids - cut_at[i]))])
        later = mids[mids > a + 3.0]
        if not len(later):
            continue
        b = float(later[np.argmin(np.abs(later - (cut_at[i] + cut_len[i])))])
        cut_at[i], cut_len[i] = a, b - a
    return cut_at, cut_len


def _splice_words(words: pl.DataFrame, cut_at: np.ndarray, cut_len: np.ndarray, kinds: list[str],
                  rng: np.random.Generator) -> tuple[pl.DataFrame, list[dict]]:
    """(the words left once each cut's stretch is removed, real timeline; per splice what trace the
    ASR left: see SPLICE_KINDS). Words inside a cut are gone, one it cuts in two is shortened."""
    st, en = words["start_s"].to_numpy().copy(), words["end_s"].to_numpy().copy()
    text, prob, seg = words["word"].to_list(), words["probability"].to_numpy().copy(), words["seg_id"].to_numpy().copy()
    keep = np.ones(len(st), bool)
    marks: list[dict] = []
    for a, j, kind in zip(cut_at, cut_len, kinds):
        b = a + j
        keep &= ~((st >= a) & (en <= b))
        head = keep & (st < a) & (en > a)  # said up to the cut, the rest removed
        tail = keep & (st < b) & (en > b) & ~head
        en[head], st[tail] = a, b
        keep &= (en - st) >= MIN_WORD_S
        before = np.flatnonzero(keep & (en <= a + 1e-9))
        after = np.flatnonzero(keep & (st >= b - 1e-9))
        row = {"kind": kind, "trail": False, "low": False, "new_segment": False, "open": False, "word_cut": bool((head | tail).any())}
        if kind == "mid" and len(before) and len(after):
            i, k = int(before[-1]), int(after[0])
            if rng.random() < SPLICE_TRAIL_P:
                text[i], row["trail"] = text[i].rstrip(".?!") + "...", True
            elif rng.random() < SPLICE_OPEN_P and text[i][-1] in ".?!" and head[i]:
                text[i], row["open"] = text[i].rstrip(".?!"), True  # a sentence cut off has no full stop
            if rng.random() < SPLICE_LOW_P:
                w = i if head[i] else k if tail[k] else int(rng.choice((i, k)))
                prob[w], row["low"] = float(rng.uniform(*LOW_PROB)), True
            # the ASR hears the spliced audio as one: its segment runs on across the splice (the
            # stream's own segments after it keep their bounds) unless it starts a new one there
            new = rng.random() < SPLICE_NEW_SEGMENT_P
            seg[k:] += seg[i] - seg[k] + int(new)
            row["new_segment"] = bool(new)
        marks.append(row)
    out = pl.DataFrame({"seg_id": seg, "start_s": st, "end_s": en, "word": text, "probability": prob},
                       schema={"seg_id": pl.Int64, "start_s": pl.Float64, "end_s": pl.Float64, "word": pl.String, "probability": pl.Float64})
    return out.filter(pl.Series(keep)), marks


def _speech(rng: np.random.Generator, length: float, asr_bias: bool = True) -> tuple[pl.DataFrame, np.ndarray, list[list[str]], np.ndarray]:
    """(ASR-like words, true line ends, keywords per line, true line starts). A line is what viewers react to: one
    sentence, or two said in one breath (a short pause between them)."""
    kws = keywords()
    zipf = 1.0 / np.arange(1, len(kws) + 1) ** 0.7
    zipf /= zipf.sum()
    rows, ends, seg_kw, starts = [], [], [], []
    t, seg, seg_left, seg_t0 = float(rng.uniform(0.5, 2.0)), -1, 0, 0.0
    while True:
        n = int(rng.integers(6, 15))
        kw = [kws[i] for i in rng.choice(len(kws), int(rng.integers(1, 4)), p=zipf)]
        toks = list(rng.choice(FILLER, n - len(kw)))
        for w in kw:
            toks.insert(int(rng.integers(0, len(toks) + 1)), w)
        durs = rng.uniform(0.15, 0.5, len(toks))
        gaps = rng.uniform(0.03, 0.15, len(toks))
        texts = [str(w) for w in toks]
        texts[-1] += str(rng.choice((".", ".", ".", "?", "!")))
        if rng.random() < TWO_SENTENCE_LINE_P:  # "Why is the troll so strong? This is not fair."
            i = int(rng.integers(2, len(toks) - 3))
            texts[i] += str(rng.choice((".", ".", "?")))
            gaps[i] = rng.uniform(*INLINE_PAUSE_S)
        if t + float((durs + gaps).sum()) > length - 0.5:
            break
        if seg_left <= 0 or t + float((durs + gaps).sum()) - seg_t0 > MAX_SEGMENT_S:  # a new ASR segment
            seg, seg_left, seg_t0 = seg + 1, int(rng.choice(3, p=SENTENCES_PER_SEGMENT)) + 1, t
        seg_left -= 1
        for w, d, g in zip(texts, durs, gaps):
            rows.append((seg, t, t + d, w, w[-1] in ".?!"))
            t += d + g
        ends.append(rows[-1][2])  # the line ends where its last word does (true time)
        starts.append(rows[-len(texts)][1])
        seg_kw.append(kw)
        t += float(rng.uniform(5.0, 15.0)) if rng.random() < 0.03 else float(np.clip(LINE_PAUSE_MEDIAN_S * np.exp(LINE_PAUSE_SIGMA * rng.standard_normal()), 0.3, 3.0))
    seg_ids, start, end, word, last = (list(x) for x in zip(*rows)) if rows else ([], [], [], [], [])
    b = 1.0 if asr_bias else 0.0
    start = np.asarray(start, np.float64) + b * ASR_START_BIAS_S + ASR_JITTER_S * rng.standard_normal(len(rows))
    end = np.asarray(end, np.float64) + b * np.where(last, ASR_LAST_END_BIAS_S, ASR_END_BIAS_S) + ASR_JITTER_S * rng.standard_normal(len(rows))
    end = np.maximum(end, start + 0.05)
    words = pl.DataFrame({"seg_id": seg_ids, "start_s": start, "end_s": end, "word": word},
                         schema={"seg_id": pl.Int64, "start_s": pl.Float64, "end_s": pl.Float64, "word": pl.String})
    return words, np.array(ends), seg_kw, np.array(starts)


def _chat(rng: np.random.Generator, seg_ends: np.ndarray, seg_kw: list[list[str]], length: float, noise: float,
          per_min: float, echo_p: float = 0.65) -> tuple[np.ndarray, list[str], list[str], np.ndarray, np.ndarray, np.ndarray]:
    """(real time, text, kind, reaction delay, line reacted to (-1: noise), whether it echoes a word of it)"""
    n_total = int(per_min * length / 60.0)
    n_react = int(round(n_total * (1.0 - noise)))
    seg = rng.integers(0, len(seg_ends), n_react)
    delay = np.clip(DELAY_MEDIAN_S * np.exp(DELAY_SIGMA * rng.standard_normal(n_react)), *DELAY_RANGE_S)
    t = seg_ends[seg] + delay
    texts, kinds = [], []
    echo = rng.random(n_react) < echo_p
    for i in range(n_react):
        if echo[i]:
            kw = _typo(str(rng.choice(seg_kw[seg[i]])), rng)
            texts.append(str(rng.choice(("{} lets go", "the {} again", "{} {}", "wait the {}??", "I love the {}", "{} Pog"))).format(kw, kw))
        else:
            texts.append(str(rng.choice(PLAIN)))
        kinds.append("reaction")
    n_noise = n_total - n_react
    kws = keywords()
    t_noise = rng.uniform(0, length, n_noise)
    for _ in range(n_noise):
        x = str(rng.choice(NOISE))
        texts.append(x + " " + str(rng.choice(kws)) if rng.random() < 0.15 else x)  # an unrelated mention
        kinds.append("noise")
    t_all = np.concatenate([t, t_noise])
    d_all = np.concatenate([delay, np.full(n_noise, np.nan)])
    line = np.concatenate([seg, np.full(n_noise, -1)])
    echo_all = np.concatenate([echo, np.zeros(n_noise, bool)])
    keep = t_all < length
    return (t_all[keep], [x for x, k in zip(texts, keep) if k], [x for x, k in zip(kinds, keep) if k], d_all[keep],
            line[keep], echo_all[keep])


# Audio at a splice (splice_audio): a room's background (noise between a low and a broad band) at
# BG_DB, speech at SPEECH_DB over it. Real splices vary: a cut changes the room only with
# SPLICE_CHANGE_P (level by 3-10 dB either way, half of them the spectrum too); otherwise by under
# 1 dB. The room also changes where nothing was cut (ROOM_CHANGES_PER_MIN: music starts, a door),
# and its level wanders slowly, so a step is evidence, not proof.
BG_DB, SPEECH_DB, SPLICE_CHANGE_P, ROOM_CHANGES_PER_MIN = -50.0, -20.0, 0.5, 0.1


def splice_rooms(case: Case) -> dict:
    """The background's regimes on the audio clock: change times, level (dB) and low-band share
    per regime, and per cut whether the splice changed the room (the truth the bench counts)."""
    rng = np.random.default_rng([case.params["seed"], 4])
    length = case.params["minutes"] * 60.0
    cuts = [float(g) for g in case.params["cut_at_audio_s"]]
    changed = [bool(rng.random() < SPLICE_CHANGE_P) for _ in cuts]
    others = np.sort(rng.uniform(0, length, rng.poisson(ROOM_CHANGES_PER_MIN * length / 60.0))).tolist()
    times = sorted([(g, c) for g, c in zip(cuts, changed)] + [(t, True) for t in others])
    level, share = [BG_DB + float(rng.uniform(-5, 5))], [float(rng.uniform(0.3, 0.7))]
    for _, big in times:
        step = float(rng.uniform(3, 10) * rng.choice((-1, 1))) if big else float(rng.uniform(-1, 1))
        level.append(float(np.clip(level[-1] + step, BG_DB - 15, BG_DB + 15)))
        spec = big and rng.random() < 0.5
        share.append(float(np.clip(share[-1] + rng.choice((-1, 1)) * rng.uniform(0.3, 0.5), 0.05, 0.95)) if spec else share[-1])
    return {"times": [t for t, _ in times], "level_db": level, "low_share": share, "cut_changed_room": changed,
            "wander_phase": float(rng.uniform(0, 2 * np.pi))}


def splice_audio(case: Case, t0: float, t1: float, sr: int = 8000, rooms: dict | None = None) -> tuple[np.ndarray, int]:
    """The case's audio from t0 to t1 (audio clock): the rooms' background plus each word as a
    voiced burst, as float samples at `sr`."""
    rooms = rooms or splice_rooms(case)
    t0 = max(0.0, t0)
    n = max(0, int((t1 - t0) * sr))
    t = t0 + np.arange(n) / sr
    k = np.searchsorted(np.asarray(rooms["times"]), t, side="right")
    level = np.asarray(rooms["level_db"])[k] + 0.7 * np.sin(2 * np.pi * t / 97.0 + rooms["wander_phase"])
    share = np.asarray(rooms["low_share"])[k]
    rng = np.random.default_rng([case.params["seed"], 5, int(t0 * 1000)])
    white = rng.standard_normal(n + 7)
    low = np.convolve(white, np.ones(8) / np.sqrt(8), mode="valid")[:n]  # a low band (box filter), same power
    x = 10 ** (level / 20.0) * (share * low + (1 - share) * white[:n]) / np.sqrt(share ** 2 + (1 - share) ** 2)
    w = case.words.filter((pl.col("end_s") > t0) & (pl.col("start_s") < t1))
    for a, b in zip(w["start_s"].to_list(), w["end_s"].to_list()):
        i, j = max(0, int((a - t0) * sr)), min(n, int((b - t0) * sr))
        if j - i < 4:
            continue
        tt = np.arange(j - i) / sr
        f0 = 120.0 + 80.0 * rng.random()
        voice = sum(np.sin(2 * np.pi * h * f0 * tt) / h for h in (1, 2, 3, 4))
        x[i:j] += 10 ** (SPEECH_DB / 20.0) * np.hanning(j - i) * voice
    return x, sr
