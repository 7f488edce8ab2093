"""From a chat panel picture to text lines, and from recognised lines to messages.

The panel is a flat background with text on it. Rows with ink form text lines (bands). Badges and
emote images are solid blobs, not glyphs: they are painted over with the background before
recognition. A line that *starts* in colour (a badge or the user's coloured name) opens a message;
a line that starts in the plain text colour continues the one above (a wrapped line). Each line is
cut tightly around its ink, turned grey, contrast-stretched and upscaled (small chat text loses its
word spaces in the recogniser otherwise).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

INK_THR = 40  # max channel distance from the background that counts as ink
SAT_START, SAT_CONT = 0.2, 0.06  # saturation of a line's first ink: a name or badge / plain text
MIN_BAND_H = 5
STRICT_NAME_RE = re.compile(r"^[A-Za-z0-9_]{2,25}\s?:")
NAME_RE = re.compile(r"^\s*([^\s:]{1,32}(?: [^\s:]{1,12})?)\s*[:;]\s?(.*)$")


@dataclass
class Line:
    top: int
    bottom: int  # exclusive
    x0: int
    x1: int  # exclusive
    starts_message: bool | None  # None: colour undecided, the text decides (a 'user:' prefix)
    cut: bool = False  # touches the panel's top or bottom edge: partly outside the view
    text: str = ""
    confidence: float = 0.0


@dataclass
class PanelMessage:
    """A message as read off one panel: its lines and where it sits."""

    lines: list[Line]
    user: str = ""
    text: str = ""
    confidence: float = 0.0
    problem: str | None = None
    name_line: bool = False  # the first line is the user name alone (the text is on the lines below)
    given_user: str | None = None  # the user when it is not on the first line (name above, a handle's event row)
    bubble: bool = False  # a second bubble of the name-above message before it (same user)

    @property
    def top(self) -> int:
        return self.lines[0].top

    @property
    def bottom(self) -> int:
        return self.lines[-1].bottom


@dataclass
class Panel:
    image: np.ndarray  # RGB, badges painted over
    background: np.ndarray  # RGB
    lines: list[Line] = field(default_factory=list)


def background(img: np.ndarray) -> np.ndarray:
    """The panel's background colour: the most common (quantised) colour."""
    q = (img[::2, ::2] // 8).reshape(-1, 3).astype(np.int32)
    key = q[:, 0] * 1024 + q[:, 1] * 32 + q[:, 2]
    mode = int(np.bincount(key).argmax())
    sel = key == mode
    return img[::2, ::2].reshape(-1, 3)[sel].mean(axis=0)


def ink_mask(img: np.ndarray, bg: np.ndarray) -> np.ndarray:
    return np.abs(img.astype(np.int16) - bg.astype(np.int16)).max(axis=2) > INK_THR


def _paint_blobs(img: np.ndarray, ink: np.ndarray, bg: np.ndarray) -> np.ndarray:
    """Badges and emote images (solid, roughly square blobs) -> background."""
    import cv2

    n, _, stats, _ = cv2.connectedComponentsWithStats(ink.astype(np.uint8), connectivity=8)
    out = img
    for i in range(1, n):
        x, y, w, h, area = (int(v) for v in stats[i])
        # nearly every pixel of the box inked, in one flat colour: a picture, not glyphs (bold
        # letters run together, like "Wi" or "55", fill their box too, but not evenly)
        if w >= 7 and h >= 7 and area >= 0.8 * w * h and 0.5 <= w / h <= 2.0 \
                and float(img[y + 1:y + h - 1, x + 1:x + w - 1].std(axis=(0, 1)).max()) < 40:
            if out is img:
                out = img.copy()
            out[y:y + h, x:x + w] = bg.astype(np.uint8)
            ink[y:y + h, x:x + w] = False
    return out


def analyse(img: np.ndarray) -> Panel:
    """Bands of ink in the panel, each marked as message start or continuation."""
    bg = background(img)
    ink = ink_mask(img, bg)
    # colour of each line's first ink, taken before badges are painted over (a badge marks a start too)
    mx = img.max(axis=2).astype(np.float32)
    saturation = (mx - img.min(axis=2)) / np.maximum(mx, 1.0)
    strength = np.abs(img.astype(np.int16) - bg.astype(np.int16)).max(axis=2)
    clean = _paint_blobs(img, ink.copy(), bg)
    ink_clean = ink_mask(clean, bg)
    rows = ink_clean.any(axis=1)
    panel = Panel(clean, bg)
    h = img.shape[0]
    y = 0
    while y < h:
        if not rows[y]:
            y += 1
            continue
        top = y
        while y < h and rows[y]:
            y += 1
        bottom = y
        if bottom - top < MIN_BAND_H and 0 < top and bottom < h:
            continue  # specks (a stray pixel row), not text
        cols = np.flatnonzero(ink_clean[top:bottom].any(axis=0))
        first = np.flatnonzero(ink[top:bottom].any(axis=0))
        x_first = int(first[0])
        # saturation of the strong ink at the line's start; 4:2:0 compression bleeds a little colour
        # from a name into the white line below it, hence an undecided middle band
        strong = strength[top:bottom, x_first:x_first + 12] > 100
        sat = saturation[top:bottom, x_first:x_first + 12][strong]
        score = float(np.median(sat)) if sat.size else 0.0
        start = True if score >= SAT_START else False if score < SAT_CONT else None
        panel.lines.append(Line(top, bottom, int(cols[0]), int(cols[-1]) + 1, start, cut=top == 0 or bottom == h))
    return panel


def line_crop(panel: Panel, line: Line, scale: float = 3.0, margin: int = 2, widen_gaps: int = 0) -> np.ndarray:
    """A line ready for the recogniser: BGR, luma, stretched contrast, upscaled; optionally gaps of
    at least `widen_gaps` pixels (word spaces) doubled. Measured on labelled demo lines: luma beats
    per-channel ink strength (4:2:0 chroma smears coloured names), 3x beats 2x (85% vs 74% of
    lines exact), widening gaps does not help once the line is upscaled."""
    import cv2

    img = panel.image
    y0, y1 = max(0, line.top - margin), min(img.shape[0], line.bottom + margin)
    x0, x1 = max(0, line.x0 - margin), min(img.shape[1], line.x1 + margin)
    crop = img[y0:y1, x0:x1]
    g = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY)
    if widen_gaps:
        g = _widen_gaps(g, ink_mask(crop, panel.background).any(axis=0), widen_gaps)
    g = cv2.normalize(g, None, 0, 255, cv2.NORM_MINMAX)
    if scale != 1:
        g = cv2.resize(g, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
    return cv2.cvtColor(g, cv2.COLOR_GRAY2BGR)


def _widen_gaps(g: np.ndarray, occupied: np.ndarray, min_gap: int) -> np.ndarray:
    cols = []
    x, n = 0, len(occupied)
    while x < n:
        if occupied[x]:
            cols.append(x)
            x += 1
            continue
        s = x
        while x < n and not occupied[x]:
            x += 1
        run = list(range(s, x))
        cols.extend(run)
        if x - s >= min_gap and s > 0 and x < n:
            cols.extend(run)  # repeat the blank columns
    return g[:, cols]


def group(lines: list[Line]) -> tuple[list[PanelMessage], list[Line]]:
    """Lines -> messages (a start line and its continuations); orphans are continuation lines with
    no start above them in view (the message's first line scrolled off the top)."""
    msgs: list[PanelMessage] = []
    orphans: list[Line] = []
    for ln in lines:
        start = ln.starts_message
        if start is None:  # strict here: a wrapped line may hold a colon too ("discord: discord.gg/...")
            start = bool(STRICT_NAME_RE.match(ln.text.strip()))
        if start:
            msgs.append(PanelMessage([ln]))
        elif msgs:
            msgs[-1].lines.append(ln)
        else:
            orphans.append(ln)
    return msgs, orphans


_O_IN_WORD = re.compile(r"(?<=[a-z])0(?=[a-z])")
_L_IN_WORD = re.compile(r"(?<=[a-z])1(?=[a-z])")
_NAME_FIX = str.maketrans({"-": "_", "—": "_", "｜": "l", "|": "l"})


# what a badge picture before the name reads as: a lone symbol or letter-like blot
_LEAD_JUNK = re.compile(r"^(?:(?!@[A-Za-z0-9_])[^A-Za-z0-9_\s@]{1,3}\s*|[A-Za-z0-9][^A-Za-z0-9\s]?\s(?=[A-Za-z0-9_]{2,25}\s?[:;]))+")
START_RE = re.compile(r"^@?([A-Za-z0-9_]{2,25})\s?[:;：]")
# a name whose underscore was read as a space (or with a space next to it): "orbital _cat:", "Halcyon_ Tv:"
_SPLIT_NAME_RE = re.compile(r"^(@?[A-Za-z0-9_]{1,24}_? _?[A-Za-z0-9_]{1,24})\s?[:;：]")
_SPLIT_NAME_FIX = re.compile(r"^(@?[A-Za-z0-9_]{1,24}?)(_? _?)([A-Za-z0-9_]{1,24})(?=\s?[:;：])")
# a YouTube handle opening a line with no colon after it (an event row: "@name sent a gift")
HANDLE_START_RE = re.compile(r"^@([A-Za-z0-9_.-]{3,30})\s+(\S.*)$")


# a clock time before the message ("18:35", "[14:50:41]", "9:05 PM"); the recogniser may put a space
# after its colon ("18: 35")
_STAMP = re.compile(r"^\s*[\[(]?\d{1,2}\s?:\s?\d{2}\d?(?:\s?:\s?\d{2})?(?:\s?[AaPp]\.?[Mm]\.?)?[\])]?(?=\D|$)\s*")


def strip_stamp(text: str) -> str:
    """The line without a clock time at its start."""
    return _STAMP.sub("", text, count=1)


def strip_badges(text: str) -> str:
    """The line without what badge pictures before the name were read as (up to three short
    blots: 'W $ mattyeast: hi' -> 'mattyeast: hi', when what is left opens with 'name:')."""
    t = _LEAD_JUNK.sub("", text.strip())
    words = t.split(" ")
    for k in range(1, min(4, len(words))):
        w = words[k - 1]
        if len(w) > 2 or w.isalpha() and (len(w) > 1 or w in "IaA"):
            break
        rest = " ".join(words[k:]).lstrip()
        m = _SPLIT_NAME_RE.match(rest)
        if START_RE.match(rest) or m and "_" in m.group(1):
            return rest
    return t


def starts_message(text: str) -> bool:
    """A line that opens a message: a Twitch-style user name and a colon first."""
    t = strip_badges(text)
    if START_RE.match(t):
        return True
    m = _SPLIT_NAME_RE.match(t)
    # with nothing after the colon (a message of emote pictures) no underscore is needed
    return bool(m and ("_" in m.group(1) or m.group(1).startswith("@") or not t[m.end():].strip()))


def strong_start(text: str) -> bool:
    """Opens a message beyond doubt: 'name:' whole, or a name split only next to an underscore or after '@'."""
    t = strip_badges(text)
    m = _SPLIT_NAME_RE.match(t)
    return bool(START_RE.match(t) or m and ("_" in m.group(1) or m.group(1).startswith("@")))


def join_split_name(text: str) -> str:
    """'Halcyon_ Tv: hi' -> 'Halcyon_Tv: hi' (the space the recogniser put next to an underscore)."""
    t = strip_badges(text)
    m = _SPLIT_NAME_FIX.match(t)
    if not m:
        return text
    return f"{m.group(1)}_{m.group(3)}{t[m.end():]}"


def split_user(first_line: str) -> tuple[str, str] | None:
    """'user: text' -> (user, text); None when the line has no name part."""
    m = NAME_RE.match(strip_badges(first_line))
    if not m:
        return None
    user = m.group(1).replace(" ", "").translate(_NAME_FIX).strip(".,'\"") or m.group(1)
    user = _O_IN_WORD.sub("o", _L_IN_WORD.sub("l", user))  # Falc0n -> Falcon; digits in runs stay
    if re.fullmatch(r"XX[A-Z]\w*Xx", user):  # the gamer tag's mirrored "xX...Xx": its small x reads as capital
        user = "xX" + user[2:]
    # its opening "xX" read with a badge glued on ('JxXShadowFalconXx', 'KXFuzzyDragonXx') or with
    # its small x lost ('XPixelCactusXx'): the closing "Xx" says which shape it is
    tag = re.fullmatch(r"[A-Za-z|]?[xX]{1,2}([A-Z][A-Za-z0-9]+?)Xx", user)
    if tag and not user.startswith("xX"):
        user = f"xX{tag.group(1)}Xx"
    return user, m.group(2).strip()


# Emotes that chat writes as words (Twitch globals and the common BTTV/FFZ/7TV ones). Small text
# loses their odd capitals (monkaS -> monkas); a token equal to one ignoring case takes its spelling.
EMOTES = frozenset("""Kappa LUL PogChamp BibleThump Kreygasm ResidentSleeper NotLikeThis SeemsGood HeyGuys VoHiYo
    CoolCat KEKW OMEGALUL Pog monkaS PepeHands Sadge catJAM EZ Clap PogU Pepega FeelsBadMan FeelsGoodMan
    4Head WutFace TriHard cmonBruh Jebaited LULW monkaW PepeLaugh widepeepoHappy peepoHappy KEKL ICANT
    Kappapride GivePLZ TakeNRG DansGame SwiftRage PJSalt BabyRage FailFish Keepo MrDestructoid""".split())
# Bot commands, so a leading "!" misread as "I"/"l" can be put back (Ilurk -> !lurk).
COMMANDS = frozenset("""lurk unlurk discord uptime socials game followage commands so sr song songrequest points
    watchtime youtube twitter instagram tiktok specs pc settings sens rank schedule prime sub merch""".split())
# commands nobody types as a bare word: alone in a message, their "!" was lost
BARE_COMMANDS = frozenset("lurk unlurk uptime socials followage commands songrequest watchtime discord game".split())
_EMOTE_BY_LOWER = {e.lower(): e for e in EMOTES}
_SPLIT_CAP = re.compile(r"(?<![A-Za-z0-9])([B-HJ-Z]) ([a-z]{2,})")
_ZERO_IN_CAPS = re.compile(r"\b([A-Z]+)(0+)\b")


def fix_text(text: str, emotes: dict[str, str] | None = None) -> str:
    """Recogniser confusions that context settles: emote spellings, zeros ending a word in capitals
    (GOOO read as G000)."""
    # a capital split from its word ("C ozyQuest"): no English word is one capital but I and A
    text = _SPLIT_CAP.sub(r"\1\2", text)
    lex = _EMOTE_BY_LOWER if emotes is None else emotes
    words = [lex.get(w.lower(), w) for w in text.split(" ")]
    if len(words) >= 2 and words[0][:1] in ("I", "l", "|", "1") and words[0][1:] + words[1] in COMMANDS:
        words[:2] = [words[0] + words[1]]  # and a space read inside the command ('lup time', 'lupt ime')
    if words and len(words[0]) > 2 and words[0][0] in "Il|1" and words[0][1:] in COMMANDS:
        words[0] = "!" + words[0][1:]  # a chat command's "!" reads as I or l
    elif len(words) == 1 and words[0] in BARE_COMMANDS:
        # or is lost (a thin mark at the line's start, next to the colon's gap): a message that is a
        # command's word alone, in small letters, is that command (not words chat types bare: 'so', 'rank')
        words[0] = "!" + words[0]
    # a zero ending a word in small letters is an o ('s0 true'); words with other digits stay
    words = [re.sub(r"0+$", lambda m: "o" * len(m.group()), w) if re.fullmatch(r"[a-z]{1,3}0+", w) else w
             for w in words]
    text = _ZERO_IN_CAPS.sub(lambda m: m.group(1) + "O" * len(m.group(2)), " ".join(words))
    # round emote pictures the colour test missed read as 0s and 8s; chat writes no such message
    if re.fullmatch(r"[08oO]{1,3}(?: [08oO]{1,3})?", text) and re.search(r"[08]", text):
        return ""
    # nor one of wide dots and colons alone ('·', '·：：', '。'): a small picture's read (English chat
    # types '...' but not these)
    return "" if re.fullmatch(r"[·。：、•:. ]+", text) and re.search(r"[·。：、•]", text) else text


NAME_ALONE_RE = re.compile(r"^@?[A-Za-z0-9_]{2,25}$")


def picture_read(text: str) -> bool:
    """What round emote pictures read as ('808', '0o', 'ee', 'e80'): a few 0s, 8s, os and es. No
    user name (a name alone over them took them for its text, or they took the next name for
    theirs); a reaction of os alone ('ooo') is text, though."""
    t = text.strip()
    return bool(re.fullmatch(r"[08oOeE]{1,4}", t)) and not re.fullmatch(r"[oO]+", t)


def name_alone(text: str, coloured: bool = False) -> str | None:
    """The user name of a line that holds nothing else (no colon: the text is below it). A line
    in a name colour may have a space read into the name ('xXFuzzyToas tXx')."""
    # (a dot after the name is the recogniser's: 'TinyMuffin_.'; names have none)
    t = strip_badges(strip_stamp(text)).strip().rstrip(".,'`")
    if coloured and t.count(" ") == 1:
        t = t.replace(" ", "")
    if not NAME_ALONE_RE.match(t) or t.lstrip("@").lower() in _EMOTE_BY_LOWER or picture_read(t):
        return None
    name = split_user(f"{t}:")
    return (name[0] if name else t).lstrip("@")


def finish(msg: PanelMessage) -> PanelMessage:
    """Join a message's recognised lines and split off the user name."""
    first = join_split_name(msg.lines[0].text.strip())
    rest = " ".join(ln.text.strip() for ln in msg.lines[1:] if ln.text.strip())
    parts = split_user(first)
    if msg.name_line:
        parts, rest = (msg.given_user or name_alone(first) or first, rest), ""
    elif msg.given_user is not None:
        parts, rest = (msg.given_user, first), rest
    if parts is None:
        msg.user, msg.text = "", " ".join(x for x in (first, rest) if x)
        msg.problem = "no 'user:' at the start of the message"
    else:
        msg.user, msg.text = parts[0].lstrip("@") or parts[0], " ".join(x for x in (parts[1], rest) if x)
    read = re.sub(r"\s+", " ", msg.text).strip()
    msg.text = fix_text(read)
    if read and not msg.text:  # kept, with what was read, so a real "8" is not lost unseen
        msg.problem = f"read only as {read!r}: taken for emote pictures, text left empty"
    confs = [ln.confidence for ln in msg.lines]
    msg.confidence = float(min(confs)) if confs else 0.0
    return msg
