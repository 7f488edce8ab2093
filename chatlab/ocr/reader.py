"""Read the chat of a video: sample the chat region, follow the scroll, OCR only what is new.

For each sampled frame (``fps``, default 1):

- the same picture as before (to compression noise): skipped, nothing is recognised;
- a clean upward scroll by dy: only the lines below the old content are recognised, and each new
  message's first-seen time is placed on the frame (between the two samples) where the scroll had
  reached it;
- anything else (first frame, a redraw, more than a panel of new chat): the whole panel is read and
  aligned to the history (dedupe.overlap), so nothing is counted twice.

``read_naive`` is the baseline the benchmark compares with: full-page detection + recognition of
the whole panel on every sampled frame, the same line grouping and the same de-duplication.
"""

from __future__ import annotations

import re
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from rapidfuzz import fuzz

from chatlab.ocr import colours as C
from chatlab.ocr import lines as L
from chatlab.ocr import textlines as TL
from chatlab.ocr import votes as V
from chatlab.ocr.dedupe import OcrMessage, align_panel, canonical_users, name_shape, overlap
from chatlab.ocr.engine import OcrEngine
from chatlab.ocr.frames import Sample, probe, sample_region
from chatlab.ocr.region import Detection, Region, RegionError, detect_region, fit_region, parse_region
from chatlab.ocr.scroll import estimate_scroll, gray

MAX_PROBLEMS = 200  # problems kept verbatim; the rest are counted
COLOUR_MEMORY_LINES = 200  # recent new lines whose colours the text colour is taken from (about a minute of chat)
# How far (share of its height) a line under another may reach up into the other's box and still be
# under it: emote pictures under a name are taller than its letters (group_lines' near_under, below)
UNDER_OVERLAP = 0.45


@dataclass(frozen=True)
class ReadOptions:
    fps: float = 1.0
    scale: float = 2.0  # line upscaling before recognition (small text keeps its word spaces)
    min_confidence: float = 0.75  # below: the message is kept with a note
    refine: bool = True  # place first-seen times between samples
    start_s: float = 0.0
    end_s: float | None = None
    probe_s: float = 120.0  # how much video region detection looks at

    @classmethod
    def from_mapping(cls, conf: dict[str, Any]) -> "ReadOptions":
        known = {k: conf[k] for k in cls.__dataclass_fields__ if k in conf}
        opts = cls(**known)
        if opts.fps <= 0:
            raise ValueError(f"[ocr] fps must be > 0, got {opts.fps}")
        if not 1.0 <= opts.scale <= 6.0:
            raise ValueError(f"[ocr] scale must be between 1 and 6, got {opts.scale}")
        return opts


@dataclass
class OcrResult:
    video: Path
    region: Region
    region_method: str
    region_note: str
    mode: str
    messages: list[OcrMessage] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)
    detection: Detection | None = None
    line_confidences: list[float] = field(default_factory=list)

    def summary(self) -> str:
        s = self.stats
        return (f"{self.video.name}: {len(self.messages)} messages from {s.get('samples', 0)} frames "
                f"({s.get('still', 0)} unchanged, {s.get('scrolls', 0)} scrolls, {s.get('full_reads', 0)} full reads, "
                f"{s.get('bad_frames', 0)} unreadable), {s.get('lines_read', 0)} lines recognised, "
                f"{s.get('elapsed_s', 0):.1f} s = {s.get('speed_x', 0):.1f}x real time; region {self.region} "
                f"({self.region_method}, confidence {s.get('region_confidence', 1.0):.2f}); {s.get('problems', 0)} problems")


def resolve_region(video: Path, region: str | Region | None, probe_s: float = 120.0,
                   engine: OcrEngine | None = None) -> Detection:
    """The configured region fitted to the frame, or the detected one, checked by reading its
    candidates when an engine is given (RegionError when no region can be had at all)."""
    from chatlab.ocr.verify import NO_CHAT, choose

    info = probe(video)
    if region is not None and region != "":
        try:
            r = region if isinstance(region, Region) else parse_region(region)
            fitted, note = fit_region(r, info.width, info.height)
        except RegionError as e:  # say which video, and where the region comes from
            raise RegionError(f"{video}: {e}; set --region or [vods.<id>.ocr] region inside the frame, "
                              f"or leave it out to find the chat") from e
        return Detection(fitted, "config", 1.0, 0, note or "")
    det = detect_region(video, probe_s=probe_s)
    if engine is None:
        return det
    span = min(probe_s, info.duration_s) if info.duration_s == info.duration_s else probe_s
    det = choose(video, det, engine, (info.width, info.height), span)
    if det.confidence < NO_CHAT:
        raise RegionError(f"{video}: no chat region found: text moved like chat in {len(det.candidates)} places, but "
                          f"the best reads like no chat (confidence {det.confidence:.2f}: {det.reason}); give it with "
                          f"--region x,y,w,h or [vods.<id>.ocr] region", candidates=det.candidates, at_s=span / 2)
    return det


class ChatReader:
    """The reader; feed it samples in time order, then ``finish()``.

    Per sampled frame: unchanged since the last one (to compression noise) -> skipped; else the
    detection model finds the text lines, lines that are the previous frame's lines moved up (or
    not moved) keep their text, only the others go through the recogniser. Lines are grouped into
    messages (a line that starts with ``name:`` opens one, a line right under it at the left edge
    continues it), and the panel's messages are aligned with those already kept, so each is kept
    once, at the frame it was first read on.
    """

    def __init__(self, engine: OcrEngine, options: ReadOptions = ReadOptions()) -> None:
        self.engine = engine
        self.opt = options
        self.history: list[OcrMessage] = []
        self.problems: list[str] = []
        self.n_problems = 0
        self.stats = {"samples": 0, "still": 0, "scrolls": 0, "full_reads": 0, "bad_frames": 0, "lines_read": 0,
                      "lines_reused": 0, "ocr_s": 0.0, "det_s": 0.0, "orphan_lines": 0, "frames_with_text": 0,
                      "frames_text_unread": 0, "lines_seen": 0, "start_lines": 0}
        self.line_confidences: list[float] = []  # every recognised line that opened or continued a message
        self._prev_g: np.ndarray | None = None
        self._prev_lines: list[TL.TextLine] = []
        self._prev_img: np.ndarray | None = None
        # the right halves' ink colours of recent frames' lines: the text colour is the one most
        # lines share over time, not in one frame (colours.text_colour)
        self._line_colours: deque[np.ndarray] = deque(maxlen=COLOUR_MEMORY_LINES)

    # -- bookkeeping ---------------------------------------------------------------------------------
    def problem(self, msg: str) -> None:
        self.n_problems += 1
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(msg)

    def _emit(self, msg: L.PanelMessage, t: float, seen: float) -> None:
        note = msg.problem
        if msg.confidence < self.opt.min_confidence:
            low = f"low confidence {msg.confidence:.2f} (unclear text, emotes, or a script the model does not read)"
            note = f"{note}; {low}" if note else low
        if note:
            self.problem(f"{seen:.1f} s: {note}: {msg.user or '?'}: {msg.text[:60]!r}")
        kept = OcrMessage(round(t, 3), msg.user, msg.text, msg.confidence, round(seen, 3), note)
        kept.readings.append(V.Reading(msg.user, msg.text, msg.confidence))
        self.history.append(kept)

    def _read_again(self, h: OcrMessage, msg: L.PanelMessage) -> None:
        """A kept message on this frame again: one more reading; it takes the name read most often
        and the text most like the others (votes.vote). Lines carried over from the frame before
        (not recognised again) are no new reading: counted, they would make the first reading win
        every vote however often a later frame read it right."""
        if msg.lines and all(getattr(ln, "reused", False) for ln in msg.lines):
            return
        h.readings.append(V.Reading(msg.user, msg.text, msg.confidence))
        best = V.vote(h.readings)
        h.user, h.text = best.user, best.text

    def _usable(self, sample: Sample) -> bool:
        """Count the sample; a frame that failed to decode is recorded and skipped."""
        self.stats["samples"] += 1
        if sample.error or sample.image is None:
            self.stats["bad_frames"] += 1
            self.problem(sample.error or f"{sample.t_s:.2f} s: empty frame")
            return False
        return True

    # -- frames ----------------------------------------------------------------------------------------
    def feed(self, sample: Sample) -> None:
        if not self._usable(sample):
            return
        img = sample.image
        g = gray(img)
        if self._prev_g is not None and self._prev_g.shape != g.shape:
            self.problem(f"{sample.t_s:.2f} s: frame size changed {self._prev_g.shape} -> {g.shape}; reading it whole")
            self._prev_g, self._prev_lines = None, []
        if self._prev_g is not None and estimate_scroll(self._prev_g, g, candidates=[]).kind == "still":
            self.stats["still"] += 1
            return
        self._prev_g = g
        lines = self._lines(img)
        self._read(img, lines)
        self._prev_lines, self._prev_img = lines, img
        msgs, orphans = group_lines(lines, img.shape[1])
        self.stats["orphan_lines"] += len(orphans)
        if lines:
            self.stats["frames_with_text"] += 1
            if not msgs:
                self.stats["frames_text_unread"] += 1
        self.stats["start_lines"] += len(msgs)
        for m in msgs:
            L.finish(m)
            self.line_confidences.extend(ln.confidence for ln in m.lines if not getattr(ln, "reused", False))
        self._take_panel(msgs, sample.t_s)

    def _take_panel(self, msgs: list[L.PanelMessage], t: float) -> None:
        """One frame's messages against the kept ones: a kept message read again gets one more
        reading; a new one is emitted unless it completes or re-reads one kept a moment ago."""
        window = self.history[-40:]
        new, again = align_panel(window, [(m.user, m.text) for m in msgs])
        for i, j in again:
            self._read_again(window[i], msgs[j])
        on_panel = {id(window[i]) for i, _ in again}
        for j in new:
            if self._completes(msgs[j], t):
                continue
            h = reread_of(self.history[-12:], msgs[j].user, msgs[j].text, t, on_panel)
            if h is not None:
                self._read_again(h, msgs[j])
                continue
            self._emit(msgs[j], t, t)

    def _completes(self, msg: L.PanelMessage, t: float) -> bool:
        """The message is one kept a moment ago, read with more (or fewer) of its lines: the kept
        one takes the longer text and keeps its first-seen time."""
        for h in reversed(self.history[-12:]):
            if t - h.seen_s > 10:
                break
            if not same_user(h, msg.user) or abs(len(h.text) - len(msg.text)) < 5:
                continue
            short, long_ = sorted((h.text, msg.text), key=len)
            if short and fuzz.ratio(short, long_[:len(short)]) >= 85:
                if len(msg.text) > len(h.text):
                    h.text = msg.text
                h.readings.append(V.Reading(h.user, h.text, msg.confidence))
                return True
        return False

    def _lines(self, img: np.ndarray) -> list[TL.TextLine]:
        t0 = time.perf_counter()
        # a 4K picture's chat is large: the detector needs no more than about 960 px of it
        k = min(1.0, 960 / max(img.shape[:2]))
        boxes = self.engine.detect(np.ascontiguousarray(img[:, :, ::-1]), scale=k) if k < 1 else \
            self.engine.detect(np.ascontiguousarray(img[:, :, ::-1]))
        self.stats["det_s"] += time.perf_counter() - t0
        self.stats["full_reads"] += 1
        lines = TL.join_rows(boxes)
        if not lines:
            return []
        med = float(np.median([ln.height for ln in lines]))
        # a line cut by the region's top edge, or a sliver (half a line scrolled out), is unreadable
        keep = [ln for ln in lines if ln.top > 1 and ln.height >= 0.6 * med]
        self.stats["lines_seen"] += len(keep)
        return keep

    def _read(self, img: np.ndarray, lines: list[TL.TextLine]) -> None:
        """Texts for the lines: carried over from the previous frame's same line where there is one."""
        prev = self._prev_lines
        todo = []
        if prev:
            dy = TL.line_shift(prev, lines, img.shape[0])
            if dy:
                self.stats["scrolls"] += 1
            def alike(a: TL.TextLine, b: TL.TextLine) -> bool:
                return self._prev_img is not None and TL.same_ink(self._prev_img, a, img, b)

            for b in lines:
                a = next((a for a in prev if TL.same_line(a, b, dy) and alike(a, b)), None)
                if a is None and dy:
                    a = next((a for a in prev if TL.same_line(a, b, 0) and alike(a, b)), None)
                if a is not None and a.text:
                    b.text, b.confidence, b.reused, b.colour_start = a.text, a.confidence, True, a.colour_start
                    b.name_colour = getattr(a, "name_colour", None)
                    self.stats["lines_reused"] += 1
                else:
                    todo.append(b)
        else:
            todo = list(lines)
        if not todo:
            return
        pol = C.polarity(img, lines)
        text_rgb = C.text_colour(img, lines, pol, earlier=self._line_colours)
        self._line_colours.extend(C.line_colours(img, todo, pol))  # new lines only: no line counts twice
        pieces, owners = [], []
        for ln in todo:
            end = C.name_end(img, ln, text_rgb, pol) if text_rgb is not None else None
            ln.colour_start = None if text_rgb is None else end is not None
            if end is not None:
                name, rest = TL.split_at(ln, *end)
                full = [(end[0] + 1, y0, x1, y1) if i == 0 else (x0, y0, x1, y1)
                        for i, (x0, y0, x1, y1) in enumerate(ln.pieces)]
                # and the line whole, badges and all (on a busy ground the colour's edges can fall inside the name)
                parts = [("name", b) for b in name] + [("text", b) for b in rest] + [("full", b) for b in full] + \
                    [("line", (ln.x0, ln.top, ln.x1, ln.bottom))]
            else:
                x = C.text_start(img, ln, pol)  # not the badges before the name
                parts = [("text", (max(x0, x + 1) if i == 0 else x0, y0, x1, y1))
                         for i, (x0, y0, x1, y1) in enumerate(ln.pieces)]
            if text_rgb is not None:  # emote pictures are no text
                parts = [(k, b) for k, b in parts if k != "text" or not C.body_is_picture(img, ln, b, text_rgb, pol)]
            for kind, b in parts:
                pieces.extend(TL.crops(img, ln, scale=self.opt.scale, pieces=[b]))
                owners.append((ln, kind))
        t0 = time.perf_counter()
        res = self.engine.recognize(pieces)
        self.stats["ocr_s"] += time.perf_counter() - t0
        self.stats["lines_read"] += len(todo)
        texts: dict[int, list[tuple[str, str, float]]] = {}
        for (ln, kind), (t, c) in zip(owners, res):
            texts.setdefault(id(ln), []).append((kind, t.strip(), c))
        for ln in todo:
            parts = [(k, t, c) for k, t, c in texts.get(id(ln), []) if t]
            # a user name has no spaces; what the colon's edge read as goes
            words = " ".join(t for k, t, _ in parts if k == "name").split()
            if len(words) > 1 and len(words[0]) <= 2:
                words = words[1:]  # the edge of a badge before the name
            name, _, spill = "".join(words).partition(":")  # the colour ran on past the colon
            name = re.sub(r"[^A-Za-z0-9_]+$", "", name)
            body = " ".join(x for x in [spill] + [t for k, t, _ in parts if k == "text"] if x).lstrip(":;： ")
            body = re.sub(r"^[:;.,1|]\s+", "", body)  # the colon read as a mark of its own
            full = " ".join(t for k, t, _ in parts if k == "full")
            whole_line = " ".join(t for k, t, _ in parts if k == "line")
            alone = L.name_alone(whole_line, True) if ln.colour_start and ":" not in whole_line else None
            if alone and (not body.strip() or fuzz.ratio((name + body).replace(" ", "").lower(),
                                                         whole_line.replace(" ", "").lower()) >= 80):
                ln.colour_start = None  # a name alone on its line, its text below it (the colour split fell inside it)
                ln.text = whole_line
                first = L.strip_badges(whole_line).split(" ", 1)[0]
                if body.strip() and " " in whole_line.strip() and re.fullmatch(r"[A-Za-z0-9_]{3,25}", name) and \
                        fuzz.ratio(first.lower(), name.lower()) >= 85:
                    # or 'name: one word' with its colon lost, the colour split at the space: the
                    # panel's layout says which (group_lines)
                    ln.split_text = f"{name}: {body}"
            elif ln.colour_start and not (re.fullmatch(r"[A-Za-z0-9_]{3,25}", name) and re.search(r"[A-Za-z]", name)):
                ln.colour_start = None  # no user name in that colour: a HUD figure, a ticker, an emote
                ln.text = full
            elif ln.colour_start and L.starts_message(full):
                # the colon was read: the whole line says where the name ends; and where its first
                # letters went into the badge's cut, the line read whole, badges and all, has them
                ln.text = _name_from_whole(full, whole_line) or full
            elif ln.colour_start and re.match(r"^[A-Za-z0-9_]{1,20}[:;]", body):
                # the colour changed inside the name (a pale name): the colon says where it ends
                ln.text, ln.colour_start = full, None
            elif ln.colour_start and (recut := _recut_name(name, body, whole_line)) is not None:
                ln.text = recut  # the colour's edge fell inside the name, or past it: the line read whole says where
            else:
                ln.text = f"{name}: {body}" if ln.colour_start and name else body
            # the line is as sure as its pieces, weighted by length
            used = [(k, t, c) for k, t, c in parts if k != "line" and (k == "full") == (end is not None and ln.text == full)]
            n = sum(len(t) for _, t, _ in used)
            ln.confidence = sum(len(t) * c for _, t, c in used) / n if n else 0.0
        self._reread_whole(img, [ln for ln in todo if not ln.colour_start])
        for ln in todo:
            ln.text = L.strip_stamp(ln.text)
            # a name alone on its line is in a colour of its own (a text line of one word is not)
            # (emote pictures are in colours of their own too, but no name: say nothing of them)
            ln.name_colour = None if text_rgb is None or len(ln.text.split()) > 3 or L.picture_read(ln.text) else \
                C.body_is_picture(img, ln, (ln.x0, ln.top, ln.x1, ln.bottom), text_rgb, pol)

    def _reread_whole(self, img: np.ndarray, lines: list[TL.TextLine]) -> None:
        """Lines the colour did not split, read once more whole: where the pieces lost the name (the
        badge cut took a dark name for a picture, every piece looked like an emote because the text
        colour was taken from them), the whole line still opens with 'name:'."""
        todo = [ln for ln in lines if not L.starts_message(L.strip_stamp(ln.text))]
        if not todo:
            return
        t0 = time.perf_counter()
        res = self.engine.recognize([c for ln in todo
                                     for c in TL.crops(img, ln, scale=self.opt.scale, pieces=[(ln.x0, ln.top, ln.x1, ln.bottom)])])
        self.stats["ocr_s"] += time.perf_counter() - t0
        self.stats["lines_reread"] = self.stats.get("lines_reread", 0) + len(todo)
        for ln, (t, c) in zip(todo, res):
            t = t.strip()
            if t and (not ln.text.strip() or L.starts_message(L.strip_stamp(t))):
                ln.text, ln.confidence = t, c

    def finish(self) -> list[OcrMessage]:
        fix = canonical_users(self.history)
        for m in self.history:
            m.user = fix.get(m.user, m.user)
        return self.history


def same_user(h: OcrMessage, user: str) -> bool:
    """`user` is the kept message's name, or one of its readings' (the vote may have taken a misread
    spelling for now: 'SunmyByte'), or alike but for a letter or two."""
    if not user:
        return False
    if user == h.user or any(r.user == user for r in h.readings):
        return True
    a, b = user.lower(), h.user.lower()
    if name_shape(a) == name_shape(b):  # letters the recogniser confuses (1/l, 0/o)
        return True
    # one letter (not a digit: Wolf294 and Wolf2945, user3 and user35 are two viewers) read otherwise
    return len(a) == len(b) and len(a) >= 5 and sum(x != y for x, y in zip(a, b)) == 1 and \
        all(x.isalpha() and y.isalpha() for x, y in zip(a, b) if x != y)


def reread_of(recent: list[OcrMessage], user: str, text: str, t: float, on_panel: set[int],
              within_s: float = 10.0) -> OcrMessage | None:
    """The kept message that a message the panel alignment took for new is a re-read of: the same
    name (alike) and text (90 % alike), kept within `within_s`, and not itself read on this frame
    (a real repeat stands beside its first on the panel; a re-read is the first read again where
    the alignment lost its place: a line misread, a message faded out of order)."""
    for h in reversed(recent):
        if t - h.seen_s > within_s:
            break
        if id(h) in on_panel or h.seen_s >= t or not same_user(h, user):  # (kept on this frame: a real repeat)
            continue
        if fuzz.ratio(h.text, text) >= 90 or any(fuzz.ratio(r.text, text) >= 90 for r in h.readings):
            return h
    return None


def _name_from_whole(text: str, whole: str) -> str | None:
    """'name: text' with the name as the line read whole has it, when that is the name with the
    first letters the cut after the badges lost ('unnyByte' of 'SunnyByte', '467' of 'Comet1467',
    'dowPanda'); None when it has no more letters before the name. One 'I' or 'l' more is no letter
    of the name but the badge read as one ('Isleepy_muffin': canonical_users settles those)."""
    parts = L.split_user(text)
    if parts is None or not parts[0]:
        return None
    name, body = parts
    m = L.START_RE.match(L.strip_badges(L.strip_stamp(whole)))
    if not m:
        return None
    first = m.group(1)
    extra = len(first) - len(name)
    if not 1 <= extra <= 6 or not first.lower().endswith(name.lower()):
        return None
    if extra == 1 and first[0] in "Il|1":
        return None
    return f"{first}: {body}"


def _recut_name(name: str, body: str, whole: str) -> str | None:
    """'name: text' with the name as the line read whole (one box, badges and all) has it, when
    the name read from the colour run is that word cut short or run on (a shadow or a busy ground
    moves the colour's edge: 'Nightb' + 'ot is playing', 'RiverFoxt' + 'hanks'); the text is the
    colour split's, re-cut at the whole word's end. None when the two names are not alike."""
    first = L.strip_badges(whole).split(" ", 1)[0].rstrip(":;：.,")
    if not name or first == name or not re.fullmatch(r"[A-Za-z0-9_]{3,25}", first):
        return None
    if fuzz.ratio(name.lower(), first.lower()) < 75:
        al = fuzz.partial_ratio_alignment(name.lower(), first.lower())
        # the colour run missed the name's first letters ('yByte' of 'SunnyByte')
        if al is None or al.score < 80 or len(first) - al.dest_end > 1 or len(name) < 3 or len(first) < len(name):
            return None
    cut = len(first) - len(name)
    if cut < 0 and not (cut >= -2 and name[cut:].isalpha()):
        return None  # the whole line lost a part of the name (an underscore read as a space): keep the colour's
    if cut > 0 and body[:cut].isalnum() and first.lower().startswith(name.lower()):
        body = body[cut:]  # the name's end was read with the text
    elif cut < 0 and name.lower().startswith(first.lower()):
        body = name[cut:] + body  # the text's first letters were read with the name
    body = body.lstrip(":;： ")
    return f"{first}: {body}" if body else None


def group_lines(lines: list[TL.TextLine], width: int) -> tuple[list[L.PanelMessage], list[TL.TextLine]]:
    """Lines -> messages. A line that starts with a user name and a colon opens one; so does a line
    holding a name alone with text right under it (the name above the text). A line continues the
    message above when it is its wrapped rest: right under its last line, as tall, from the chat's
    left edge, and that line was full (its end plus this line's first word reach the chat's right
    edge; chat wraps only then, so packed lines of short messages are not run together). Under a
    name-above message, a line apart from it (a bubble of its own) is another message of the same
    user. Lines before any message's start (its first line scrolled away) or apart from one are
    orphans."""
    msgs: list[L.PanelMessage] = []
    orphans: list[TL.TextLine] = []
    if not lines:
        return msgs, orphans

    # a coloured word and a word in the text colour, no colon: a name alone above its text, or
    # 'name: word' with the colon lost. Where lines open with 'name:' (and no name stands alone
    # above text) it is the latter.
    split = [ln for ln in lines if getattr(ln, "split_text", None)]
    if split:
        ids = {id(ln) for ln in split}
        strong = sum(L.strong_start(L.strip_stamp(ln.text)) for ln in lines if id(ln) not in ids)
        if strong >= 2:
            for ln in split:
                ln.text, ln.colour_start = ln.split_text, True  # type: ignore[attr-defined]

    def opens(ln: TL.TextLine) -> bool:
        return bool(ln.colour_start) or L.starts_message(L.strip_stamp(ln.text))

    def runs_out(ln: TL.TextLine) -> bool:  # scene text (a ticker) running out of the region at a side
        return ln.x0 <= 1 or ln.x1 >= width - 3

    # the chat's right edge: its longest line, but not scene text running out of the region at either
    # side (a ticker scrolling out on the left ends inside the region, far right of the chat)
    ends = [ln.x1 for ln in lines if not runs_out(ln)]
    right = max(ends) if ends else max(ln.x1 for ln in lines)

    def full(last: TL.TextLine, ln: TL.TextLine) -> bool:
        # the line above reached the right edge less this line's first word: chat wraps only then
        words = ln.text.split()
        first_w = (len(words[0]) + 1) / max(1, len(ln.text)) * (ln.x1 - ln.x0) if words else 0.0
        return last.x1 + first_w >= right - (0.6 * ln.height + 4)

    def weak_wrap(prev: TL.TextLine | None, ln: TL.TextLine) -> bool:
        """A line that reads like a start only loosely ('two words:' alone, a name alone not in a
        name colour) right under a full line is its wrapped rest."""
        return prev is not None and close_under(prev, ln) and full(prev, ln) and abs(ln.x0 - prev.x0) <= 0.5 * right \
            and getattr(ln, "name_colour", None) is not True and not ln.colour_start \
            and not L.strong_start(L.strip_stamp(ln.text))

    def close_under(a: TL.TextLine, b: TL.TextLine, k: float = 0.9) -> bool:
        return b.top - a.bottom <= k * max(a.height, b.height) and abs(a.height - b.height) <= max(4, 0.35 * a.height)

    def near_under(a: TL.TextLine, b: TL.TextLine) -> bool:
        # (a name in a bubble of its own may be smaller than the text under it; emote pictures
        # under a name are taller than its letters and reach up into its line's box)
        return -UNDER_OVERLAP * a.height <= b.top - a.bottom <= 0.8 * max(a.height, b.height) \
            and max(a.height, b.height) <= 1.8 * min(a.height, b.height)

    def name_colon_alone(ln: TL.TextLine) -> bool:
        parts = L.split_user(L.join_split_name(L.strip_stamp(ln.text)))
        return parts is not None and not parts[1]

    # a name alone with a line right under it takes that line as its text (so that line is no name)
    alone = [False] * len(lines)

    x_min = min(ln.x0 for ln in lines)

    def below(i: int) -> int | None:
        """The next line under line i (not one beside it on its row)."""
        return next((j for j in range(i + 1, len(lines)) if lines[j].top >= lines[i].bottom - UNDER_OVERLAP * lines[i].height), None)

    def name_over(i: int, wraps: bool) -> bool:
        j = below(i)
        if j is None or abs(lines[i].x0 - x_min) > 2 * lines[i].height:
            return False
        ln, nxt = lines[i], lines[j]
        lc, nc = getattr(ln, "name_colour", None), getattr(nxt, "name_colour", None)
        # (the line under a name is not itself in a name colour, unless the name's is unknown)
        return not opens(ln) and L.name_alone(ln.text, lc is True) is not None and near_under(ln, nxt) \
            and not opens(nxt) and not (nc is True and lc is not True) \
            and not (wraps and weak_wrap(lines[i - 1] if i else None, ln))

    # where names stand above their text all over the panel (and hardly any line opens with 'name:'),
    # a name alone under a full line is still a name
    above = sum(name_over(i, True) for i in range(len(lines)))
    names_first = above >= 2 and sum(L.strong_start(L.strip_stamp(ln.text)) for ln in lines) <= above / 2
    taken: set[int] = set()  # lines taken as a name's text (so they are no names)
    for i in range(len(lines)):
        if i not in taken and name_over(i, not names_first):
            alone[i] = True
            taken.add(below(i))  # type: ignore[arg-type]
    # the chat's left edge: where its messages start (scene text in the region must not move it)
    starts = [ln.x0 for ln, a in zip(lines, alone) if (a or opens(ln)) and not runs_out(ln)]
    left = min(starts) if starts else min(ln.x0 for ln in lines)
    # lines cut by the region's edge left of that are scene text only where they are few: where most
    # of the chat's own lines run into the edge (a box given tight), they are the chat
    cut_starts = sum(1 for ln, a in zip(lines, alone) if (a or opens(ln)) and runs_out(ln))
    few_cut = cut_starts <= len(starts)

    def handle_start(ln: TL.TextLine) -> bool:
        h = L.HANDLE_START_RE.match(L.strip_badges(ln.text))
        if not h or abs(ln.x0 - left) > max(8, 1.5 * ln.height):
            return False
        msgs.append(L.PanelMessage([ln], given_user=h.group(1)))  # type: ignore[list-item]
        ln.text = h.group(2)
        return True

    # where names are drawn in colours of their own, a 'word:' line that starts in the text colour
    # is no name but a wrapped line ('discord: discord.gg/...' under 'Join the community')
    coloured_names = sum(bool(ln.colour_start) for ln in lines) >= 2

    def text_colour_wrap(prev: TL.TextLine, ln: TL.TextLine) -> bool:
        return coloured_names and ln.colour_start is False and getattr(ln, "name_colour", None) is not True \
            and bool(re.match(r"[a-z]{2,}[:;]", L.strip_stamp(ln.text).lstrip())) and close_under(prev, ln) \
            and full(prev, ln) and abs(ln.x0 - left) <= max(6, 0.4 * ln.height)

    for k, (ln, is_name) in enumerate(zip(lines, alone)):
        if few_cut and runs_out(ln) and left - ln.x0 > max(8, 0.8 * ln.height):
            orphans.append(ln)  # scene text (a ticker) cut by the region's edge, starting left of the chat
            continue
        if msgs and opens(ln) and lines[k - 1] is msgs[-1].lines[-1] and \
                (weak_wrap(lines[k - 1], ln) or text_colour_wrap(lines[k - 1], ln)):
            msgs[-1].lines.append(ln)  # type: ignore[arg-type]
            continue
        if opens(ln):
            msgs.append(L.PanelMessage([ln]))  # type: ignore[list-item]
            continue
        if is_name:
            msgs.append(L.PanelMessage([ln], name_line=True,  # type: ignore[list-item]
                                       given_user=L.name_alone(ln.text, getattr(ln, "name_colour", None) is True)))
            continue
        if msgs:
            m = msgs[-1]
            last = m.lines[-1]
            if not m.name_line and ln.x0 >= last.x1 - 2 and min(ln.bottom, last.bottom) - max(ln.top, last.top) >= 0.5 * min(ln.height, last.height):
                m.lines.append(ln)  # type: ignore[arg-type]  # the same row, after a wide gap (emote pictures)
                continue
            if len(m.lines) == 1 and ln.top >= last.bottom - 0.3 * last.height and \
                    (m.name_line or name_colon_alone(last) and near_under(last, ln)):
                m.lines.append(ln)  # type: ignore[arg-type]  # the text under the name
                continue
            text_x0 = m.lines[1].x0 if m.name_line and len(m.lines) > 1 else left
            # where names are handles ('@name'), a line opening with one is a row of its own
            if msgs[-1].lines[0].text.lstrip().startswith("@") and handle_start(ln):
                continue
            if close_under(last, ln) and abs(ln.x0 - text_x0) <= max(6, 0.4 * ln.height) and full(last, ln):
                m.lines.append(ln)  # type: ignore[arg-type]  # a wrapped line
                continue
            if (m.name_line and len(m.lines) > 1 or m.bubble) and getattr(ln, "name_colour", None) is not True and \
                    abs(ln.x0 - m.lines[-1].x0) <= max(6, 0.4 * ln.height) and ln.top - last.bottom <= 1.8 * ln.height:
                user = m.given_user
                if user:
                    msgs.append(L.PanelMessage([ln], given_user=user, bubble=True))  # type: ignore[list-item]
                    continue
        if handle_start(ln):
            continue
        orphans.append(ln)
    return msgs, orphans


class NaiveReader(ChatReader):
    """Baseline: detection + recognition of the whole panel (upscaled 2x) on every sampled frame."""

    def __init__(self, engine: OcrEngine, options: ReadOptions = ReadOptions(), page_scale: float = 2.0) -> None:
        super().__init__(engine, options)
        self.page_scale = page_scale

    def feed(self, sample: Sample) -> None:
        import cv2

        if not self._usable(sample):
            return
        self.stats["full_reads"] += 1
        img = sample.image
        panel = L.analyse(img)  # only for which band starts a message (colour), as the reader does
        big = cv2.resize(img, None, fx=self.page_scale, fy=self.page_scale, interpolation=cv2.INTER_CUBIC)[:, :, ::-1]
        t0 = time.perf_counter()
        page = self.engine.read_page(np.ascontiguousarray(big))
        self.stats["ocr_s"] += time.perf_counter() - t0
        self.stats["lines_read"] += len(page)
        for ln in panel.lines:
            ln.text, ln.confidence = "", 1.0
        for pl_ in sorted(page, key=lambda p: p.box[0]):
            yc = (pl_.box[1] + pl_.box[3]) / 2 / self.page_scale
            best = min(panel.lines, key=lambda ln: abs((ln.top + ln.bottom) / 2 - yc), default=None)
            if best is None or not best.top - 4 <= yc <= best.bottom + 4:
                continue
            best.text = f"{best.text} {pl_.text}".strip()
            best.confidence = min(best.confidence, pl_.confidence)
        lines = [ln for ln in panel.lines if not (ln.cut and ln.top == 0) and ln.text]
        msgs, _ = L.group(lines)
        for m in msgs:
            L.finish(m)
        k = overlap(self.history[-(len(msgs) + 8):], [(m.user, m.text) for m in msgs])
        for m in msgs[k:]:
            self._emit(m, sample.t_s, sample.t_s)


def read_image(image: np.ndarray, engine: OcrEngine, options: ReadOptions = ReadOptions()) -> list[OcrMessage]:
    """The messages of one picture of chat (RGB), e.g. a screenshot: the whole picture is the region."""
    reader = ChatReader(engine, options)
    reader.feed(Sample(0.0, np.ascontiguousarray(image[:, :, :3])))
    return reader.finish()


def read_samples(samples: Iterable[Sample], reader: ChatReader) -> list[OcrMessage]:
    for s in samples:
        reader.feed(s)
    return reader.finish()


def read_video(video: str | Path, *, region: str | Region | None = None, engine: OcrEngine | None = None,
               options: ReadOptions = ReadOptions(), naive: bool = False,
               progress: Callable[[float, int], None] | None = None) -> OcrResult:
    """OCR the chat of one video. Raises VideoError / RegionError with a clear message when there
    is nothing to read; frame-level trouble is kept in ``problems`` and the run goes on."""
    from chatlab.ocr.engine import make_engine

    video = Path(video)
    t0 = time.perf_counter()
    cpu0 = time.process_time()
    info = probe(video)
    eng = engine or make_engine("rapidocr")
    det = resolve_region(video, region, options.probe_s, engine=eng)
    t_region = time.perf_counter() - t0
    reader: ChatReader = NaiveReader(eng, options) if naive else ChatReader(eng, options)
    if det.note and det.method == "config":
        reader.problem(det.note)
    last_report = time.perf_counter()
    t = options.start_s
    for s in sample_region(video, det.region, options.fps, start_s=options.start_s, end_s=options.end_s,
                           max_between=32 if options.refine and not naive else 0):
        reader.feed(s)
        t = s.t_s
        if progress and time.perf_counter() - last_report > 10:
            progress(t, len(reader.history))
            last_report = time.perf_counter()
    messages = reader.finish()
    elapsed = time.perf_counter() - t0
    cpu = time.process_time() - cpu0
    end = options.end_s if options.end_s is not None and options.end_s < info.duration_s else info.duration_s
    covered = max(1e-9, (end if end == end else t) - options.start_s)  # NaN-safe duration
    stats = dict(reader.stats)
    stats.update(elapsed_s=round(elapsed, 3), region_s=round(t_region, 3), ocr_s=round(stats["ocr_s"], 3),
                 video_s=round(covered, 3), speed_x=round(covered / elapsed, 2), problems=reader.n_problems,
                 cpu_s=round(cpu, 3), speed_x_cpu_2cores=round(covered / max(1e-9, cpu / 2), 2),
                 engine=f"{eng.name} {eng.version}", region_confidence=det.confidence)
    return OcrResult(video, det.region, det.method, det.note, "naive" if naive else "incremental",
                     messages, reader.problems, stats, det, list(reader.line_confidences))
