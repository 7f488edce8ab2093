"""Chat for a demo stream, and its TwitchDownloader JSON export.

Viewers react to what the streamer just said: for each sentence a few of them type after a
reaction delay (lognormal, median 4 s, clipped to 1-15 s), often echoing one of its keywords.
Around that is the noise every real chat has: greetings, emote spam, ``!commands`` and the bots
answering them, a copypasta pasted by several users, subs, cheers, mods, the broadcaster.

Messages are made on the audio clock (``t_speech``: when the viewer typed); the export moves them
to the chat clock with a ChatClock and drops those that land before the recording started.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

import numpy as np

from .clock import ChatClock

if TYPE_CHECKING:
    from .truth import Segment

DELAY_MEDIAN_S = 4.0
DELAY_SIGMA = 0.55  # of log(delay): 95% of delays fall in about 1.4-12 s
DELAY_RANGE_S = (1.0, 15.0)
REACTION_DISTRIBUTION = f"lognormal(median={DELAY_MEDIAN_S}, sigma={DELAY_SIGMA}) clipped to {list(DELAY_RANGE_S)} s"

# Twitch global emotes and their ids; the third-party ones (KEKW, OMEGALUL...) are plain text
# in a Twitch export, as they are in real ones.
TWITCH_EMOTES = {"Kappa": "25", "LUL": "425618", "PogChamp": "305954156", "BibleThump": "86",
                 "Kreygasm": "41", "ResidentSleeper": "245", "NotLikeThis": "58765", "SeemsGood": "64138",
                 "HeyGuys": "30259", "VoHiYo": "81274", "CoolCat": "58127", "<3": "555555584"}
THIRD_PARTY_EMOTES = ("KEKW", "OMEGALUL", "Pog", "monkaS", "PepeHands", "Sadge", "catJAM", "EZ")
SPAM_EMOTES = ("PogChamp", "LUL", "KEKW", "OMEGALUL", "Kappa", "Pog", "monkaS", "Kreygasm", "catJAM")

STREAMERS = ("CozyQuest", "PixelMaple", "LunaPlays", "RiverFox", "MossyKnight", "SunnyByte")
GAME = "Castle Quest Adventures"
BOTS = ("Nightbot", "StreamElements")

_NAME_ADJ = ("lazy", "sleepy", "cosmic", "frosty", "spicy", "silent", "tiny", "mega", "salty", "happy",
             "shadow", "pixel", "turbo", "cozy", "grumpy", "lucky", "noisy", "crispy", "fuzzy", "neon")
_NAME_NOUN = ("panda", "wolf", "potato", "ninja", "toast", "otter", "gamer", "wizard", "pickle", "falcon",
              "cactus", "noodle", "goose", "dragon", "muffin", "raccoon", "turtle", "badger", "waffle", "comet")
_COLORS = ("#FF0000", "#0000FF", "#008000", "#B22222", "#FF7F50", "#9ACD32", "#FF4500", "#2E8B57",
           "#DAA520", "#D2691E", "#5F9EA0", "#1E90FF", "#FF69B4", "#8A2BE2", "#00FF7F")

REACT_WITH_KEYWORD = ("{kw} lets go", "that {kw} is huge LUL", "the {kw} again KEKW", "wait the {kw}??",
                      "I love the {kw}", "{kw} PogChamp", "not the {kw} LUL", "the {kw} looks so good",
                      "careful with the {kw}", "that {kw} is so op", "we need that {kw}", "{kw} Pog",
                      "why the {kw} though", "is the {kw} worth it?", "{kw} {kw} {kw}")
REACT_PLAIN = ("LETS GO", "true", "no way", "LUL", "so true", "agreed", "KEKW", "nice", "gg", "lol",
               "real", "same", "W", "clean", "hahaha")
ANSWERS = ("fight", "run", "fight it", "RUN", "{kw}", "definitely the {kw}", "the {kw} for sure", "yes",
           "no", "both", "the {kw} obviously", "hmm the {kw}?", "yes please", "nah")
REACT_BY_KIND = {
    "hype": ("LETS GOOO", "PogChamp", "OMEGALUL", "monkaS", "that was so close", "CLUTCH", "EZ Clap", "GG"),
    "thanks": ("<3", "np", "ofc", "love the stream", "happy to be here", "HeyGuys"),
    "away": ("brb o7", "hydrate", "we wait", "ResidentSleeper", "take your time", "o7"),
    "back": ("wb", "welcome back", "wb {streamer}", "you missed nothing", "hey again"),
}
GREETINGS = ("hi chat", "hello {streamer}", "hey everyone", "HeyGuys", "yo {streamer}", "VoHiYo hi",
             "good evening chat", "hello hello", "hi {streamer} <3", "just got here, hi all")
OTHER = ("lurking", "what game is this?", "first time here, this is cool", "how long have you been playing?",
         "the audio is good today", "chat is so fast today", "this game looks fun", "what rank are you?",
         "anyone else here from the raid?", "I should be sleeping")
MOD_LINES = ("please be nice in chat", "keep it friendly chat", "no spoilers please")
COMMANDS = {
    "!uptime": ("Nightbot", "{streamer} has been live for {minutes} minutes"),
    "!discord": ("StreamElements", "Join the community discord: discord.gg/{login}"),
    "!socials": ("Nightbot", "Follow {streamer} everywhere: @{streamer}"),
    "!lurk": ("StreamElements", "{user} is now lurking, enjoy the stream!"),
    "!game": ("Nightbot", "{streamer} is playing " + GAME),
    "!followage": ("StreamElements", "@{user}, {user} has been following {streamer} for a while"),
}
COPYPASTAS = (
    "I am not saying this game is hard but my controller just filed a complaint PogChamp",
    "This is the best stream on the whole internet and nobody can change my mind Kappa",
    "Chat remember to drink water and stretch your legs, the streamer cares about you <3",
)
# Mean reactions per sentence, by what kind of sentence it was.
REACTIONS_PER_LINE = {"talk": 1.6, "hype": 2.6, "question": 3.2, "thanks": 1.4, "away": 2.0, "back": 1.6}
# Noise per minute of stream, on top of one of each kind that every stream gets.
NOISE_PER_MIN = {"greeting": 1.5, "emote_spam": 2.0, "command": 0.8, "copypasta": 0.4, "other": 2.0,
                 "sub": 0.4, "cheer": 0.3, "mod": 0.2}


@dataclass(frozen=True)
class Viewer:
    login: str
    display_name: str
    user_id: str
    color: str
    badges: tuple[tuple[str, str], ...]  # (badge id, version)
    role: str  # "viewer" | "mod" | "bot" | "broadcaster"


@dataclass(frozen=True)
class ChatMessage:
    msg_id: str
    user: Viewer
    text: str
    kind: str  # "reaction" | "emote_spam" | "command" | "bot" | "copypasta" | "greeting" | "other"
    t_speech: float  # audio clock: when the viewer typed
    reaction_delay_s: float | None = None
    reacts_to: int | None = None  # segment index
    bits: int = 0
    notice: str | None = None  # user_notice_params msg-id: "sub", "resub"


# -- who is in chat -----------------------------------------------------------------------------


def _viewer_name(rng: np.random.Generator) -> str:
    adj, noun = str(rng.choice(_NAME_ADJ)), str(rng.choice(_NAME_NOUN))
    style = int(rng.integers(5))
    if style == 0:
        return adj.capitalize() + noun.capitalize()
    if style == 1:
        return f"{adj}_{noun}"
    if style == 2:
        return f"{noun.capitalize()}{int(rng.integers(1, 9999))}"
    if style == 3:
        return f"{adj.capitalize()}{noun.capitalize()}{rng.choice(('TV', 'GG', '_', 'XD', 'Live'))}"
    return f"xX{adj.capitalize()}{noun.capitalize()}Xx"


def _user_id(rng: np.random.Generator) -> str:
    return str(int(rng.integers(10_000_000, 999_999_999)))


def make_cast(rng: np.random.Generator) -> tuple[Viewer, list[Viewer], dict[str, Viewer]]:
    """The broadcaster, 20-50 viewers (a few subscribers, a VIP, one or two mods) and the bots."""
    name = str(rng.choice(STREAMERS))
    streamer = Viewer(name.lower(), name, _user_id(rng), "#9146FF", (("broadcaster", "1"), ("subscriber", "0")),
                      "broadcaster")
    n = int(rng.integers(20, 51))
    names: list[str] = []
    while len(names) < n:
        candidate = _viewer_name(rng)
        if candidate.lower() not in {x.lower() for x in names}:
            names.append(candidate)
    viewers = []
    for i, display in enumerate(names):
        badges: list[tuple[str, str]] = []
        role = "viewer"
        if i < 1 + int(rng.integers(2)):
            badges.append(("moderator", "1"))
            role = "mod"
        elif i == 3:
            badges.append(("vip", "1"))
        if rng.random() < 0.4:
            badges.append(("subscriber", str(int(rng.choice((0, 3, 6, 12, 24))))))
        if rng.random() < 0.15:
            badges.append(("bits", str(int(rng.choice((100, 1000, 5000))))))
        viewers.append(Viewer(display.lower(), display, _user_id(rng), str(rng.choice(_COLORS)), tuple(badges), role))
    bots = {b: Viewer(b.lower(), b, _user_id(rng), "#7C7CE1", (("moderator", "1"), ("partner", "1")), "bot")
            for b in BOTS}
    return streamer, viewers, bots


# -- what they write ----------------------------------------------------------------------------


def reaction_delay(rng: np.random.Generator) -> float:
    d = DELAY_MEDIAN_S * float(np.exp(DELAY_SIGMA * rng.standard_normal()))
    return float(np.clip(d, *DELAY_RANGE_S))


class _Writer:
    """Draws messages; `pick` favours a few chatty viewers, as real chats do."""

    def __init__(self, rng: np.random.Generator, streamer: Viewer, viewers: list[Viewer], bots: dict[str, Viewer]):
        self.rng, self.streamer, self.viewers, self.bots = rng, streamer, viewers, bots
        weights = 1.0 / np.arange(1, len(viewers) + 1) ** 0.8
        self.weights = weights[rng.permutation(len(viewers))] / weights.sum()
        self.out: list[ChatMessage] = []

    def pick(self) -> Viewer:
        return self.viewers[int(self.rng.choice(len(self.viewers), p=self.weights))]

    def fill(self, template: str, user: Viewer | None = None, kw: str = "", minutes: int = 0) -> str:
        return template.format(kw=kw, streamer=self.streamer.display_name, login=self.streamer.login,
                               user=user.display_name if user else "", minutes=minutes)

    def add(self, user: Viewer, text: str, kind: str, t: float, **extra: Any) -> None:
        msg_id = str(uuid.UUID(bytes=self.rng.bytes(16), version=4))
        self.out.append(ChatMessage(msg_id, user, text, kind, round(float(t), 3), **extra))

    # reactions to one sentence
    def react(self, index: int, seg: Segment, duration_s: float) -> None:
        n = int(self.rng.poisson(REACTIONS_PER_LINE.get(seg.kind, 1.5)))
        for _ in range(n):
            delay = round(reaction_delay(self.rng), 3)
            t = seg.end + delay
            if t >= duration_s:
                continue
            user = self.pick()
            kw = str(self.rng.choice(seg.keywords)) if seg.keywords else ""
            if seg.kind == "question":
                template = str(self.rng.choice(ANSWERS))
            elif seg.kind in REACT_BY_KIND and self.rng.random() < 0.6:
                template = str(self.rng.choice(REACT_BY_KIND[seg.kind]))
            elif kw and self.rng.random() < 0.65:
                template = str(self.rng.choice(REACT_WITH_KEYWORD))
            else:
                template = str(self.rng.choice(REACT_PLAIN))
            if "{kw}" in template and not kw:
                template = str(self.rng.choice(REACT_PLAIN))
            self.add(user, self.fill(template, user, kw), "reaction", t, reaction_delay_s=delay, reacts_to=index)

    # noise, one event of a kind at time t
    def noise(self, kind: str, t: float) -> None:
        rng = self.rng
        user = self.pick()
        if kind == "greeting":
            self.add(user, self.fill(str(rng.choice(GREETINGS))), "greeting", t)
        elif kind == "emote_spam":
            for i in range(int(rng.integers(1, 5))):  # a burst: others join in within seconds
                emote = str(rng.choice(SPAM_EMOTES))
                self.add(self.pick(), " ".join([emote] * int(rng.integers(1, 5))), "emote_spam", t + 0.7 * i)
        elif kind == "command":
            command = str(rng.choice(list(COMMANDS)))
            bot, reply = COMMANDS[command]
            self.add(user, command, "command", t)
            text = self.fill(reply, user, minutes=int(t // 60))
            self.add(self.bots[bot], text, "bot", t + float(rng.uniform(0.4, 1.5)))
        elif kind == "copypasta":
            pasta = str(rng.choice(COPYPASTAS))
            for i in range(int(rng.integers(3, 7))):
                self.add(self.pick(), pasta, "copypasta", t + float(rng.uniform(0, 8)) if i else t)
        elif kind == "sub":
            months = int(rng.integers(1, 25))
            notice = "resub" if months > 1 else "sub"
            text = f"{user.display_name} subscribed at Tier 1." + (
                f" They've subscribed for {months} months!" if months > 1 else "")
            self.add(user, text, "other", t, notice=notice)
            self.add(self.streamer, f"thank you for the sub {user.display_name} <3", "other", t + 6.0)
        elif kind == "cheer":
            bits = int(rng.choice((100, 200, 500)))
            self.add(user, f"Cheer{bits} {rng.choice(('great stream', 'for the dragon', 'love this'))}",
                     "other", t, bits=bits)
        elif kind == "mod":
            mod = next((v for v in self.viewers if v.role == "mod"), user)
            self.add(mod, str(rng.choice(MOD_LINES)), "other", t)
        else:
            self.add(user, str(rng.choice(OTHER)), "other", t)


def make_chat(segments: Sequence[Segment], duration_s: float, rng: np.random.Generator,
              cast: tuple[Viewer, list[Viewer], dict[str, Viewer]]) -> list[ChatMessage]:
    """Every message of the stream on the audio clock, sorted by t_speech."""
    writer = _Writer(rng, *cast)
    for i, seg in enumerate(segments):
        writer.react(i, seg, duration_s)
    minutes = duration_s / 60.0
    span = max(duration_s - 2.0, 0.5 * duration_s)  # room after an event for its bot reply
    for kind, per_min in NOISE_PER_MIN.items():
        n = int(rng.poisson(per_min * minutes))
        if kind in ("greeting", "emote_spam", "command", "copypasta", "other"):
            n = max(n, 1)  # every stream shows every kind of noise, even a 20 s one
        for _ in range(n):
            # greetings crowd the start; the rest is spread evenly
            u = rng.beta(1.0, 3.0) if kind == "greeting" else rng.random()
            writer.noise(kind, float(span * u))
    messages = [m for m in writer.out if m.t_speech < duration_s]
    return sorted(messages, key=lambda m: m.t_speech)


# -- the export ----------------------------------------------------------------------------------


def _iso(t: datetime) -> str:
    return t.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def _fragments(text: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Twitch splits a message into text and emote fragments; emoticons give char ranges."""
    fragments: list[dict[str, Any]] = []
    emoticons: list[dict[str, Any]] = []
    pos = 0
    buf = ""
    for i, word in enumerate(text.split(" ")):
        sep = " " if i else ""
        if word in TWITCH_EMOTES:
            if buf or sep:
                fragments.append({"text": buf + sep, "emoticon": None})
            fragments.append({"text": word, "emoticon": {"emoticon_id": TWITCH_EMOTES[word]}})
            start = pos + len(sep)
            emoticons.append({"_id": TWITCH_EMOTES[word], "begin": start, "end": start + len(word) - 1})
            buf = ""
        else:
            buf += sep + word
        pos += len(sep) + len(word)
    if buf:
        fragments.append({"text": buf, "emoticon": None})
    return fragments, emoticons


def chat_export(messages: Sequence[ChatMessage], clock: ChatClock, streamer: Viewer, *, video_id: str, title: str,
                recorded_at: datetime, duration_s: float) -> tuple[dict[str, Any], dict[str, float]]:
    """(TwitchDownloader JSON, t_chat per msg_id) for the messages that fall inside the recording.

    content_offset_seconds keeps 3 decimals (old exports had floats; new ones round to whole
    seconds) and created_at the exact moment, so both ways of reading it get the same time."""
    timed = sorted(((round(float(clock.to_chat(m.t_speech)), 3), m) for m in messages), key=lambda p: p[0])
    t_chat = {m.msg_id: t for t, m in timed}
    comments = []
    for t, m in timed:
        if t < 0:
            continue  # typed before the recording started: not in the VOD's chat
        fragments, emoticons = _fragments(m.text)
        user = m.user
        comments.append({
            "_id": m.msg_id,
            "created_at": _iso(recorded_at + timedelta(seconds=t)),
            "channel_id": streamer.user_id,
            "content_type": "video",
            "content_id": video_id,
            "content_offset_seconds": t,
            "commenter": {"display_name": user.display_name, "_id": user.user_id, "name": user.login,
                          "bio": None, "created_at": "2019-06-01T12:00:00.000Z", "updated_at": "2024-01-01T12:00:00.000Z",
                          "logo": None},
            "message": {
                "body": m.text,
                "bits_spent": m.bits,
                "fragments": fragments,
                "user_badges": [{"_id": b, "version": v} for b, v in user.badges],
                "user_color": user.color,
                "user_notice_params": {"msg-id": m.notice},
                "emoticons": emoticons,
            },
        })
    length = int(np.ceil(duration_s))
    created = recorded_at + timedelta(seconds=length + 3600)
    export = {
        "FileInfo": {"Version": {"Major": 1, "Minor": 4, "Patch": 0}, "CreatedAt": _iso(created), "UpdatedAt": _iso(created)},
        "streamer": {"name": streamer.display_name, "login": streamer.login, "id": int(streamer.user_id)},
        "video": {"title": title, "description": None, "id": video_id, "created_at": _iso(recorded_at), "start": 0,
                  "end": length, "length": length, "viewCount": 0, "game": GAME, "chapters": []},
        "comments": comments,
        "embeddedData": None,
    }
    return export, t_chat
