"""What the demo streamer says: an endless, seeded stream of short lines of gaming and
just-chatting talk, built from templates and word lists.

Every word is a plain, common English word that Whisper base transcribes reliably: no rare
names, no digits (whose spelling Whisper varies: "two" / "2"), no homophones (Whisper base
wrote "knight" as "night" in a check; "bear", "bow" and "tea" went out for the same risk).
Each line keeps the words filled into its template as keywords, so chat can react to them
("castle lets go") and a benchmark can check that the reaction mentions what was said.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

PLACES = ("castle", "forest", "cave", "village", "tower", "bridge", "river", "desert", "island",
          "mountain", "temple", "garden", "swamp", "harbor", "market", "library")
ENEMIES = ("dragon", "wizard", "spider", "soldier", "wolf", "pirate", "skeleton", "zombie", "giant",
           "robot", "ghost", "troll")
ITEMS = ("sword", "shield", "potion", "torch", "helmet", "map", "lantern", "key", "armor", "rope",
         "hammer", "boots")
ADJECTIVES = ("huge", "beautiful", "scary", "weird", "cool", "dark", "tiny", "strange", "bright", "quiet")
FOODS = ("pizza", "coffee", "noodles", "sandwich", "soup", "salad", "cookies", "pancakes")
COLORS = ("red", "blue", "green", "purple", "golden", "silver")

# (template, kind). Slots: {place} {enemy} {item} {adj} {food} {color}. "question" lines make
# chat answer; "hype" lines make chat spam emotes.
TEMPLATES: tuple[tuple[str, str], ...] = (
    ("Okay chat, we are going into the {place} now.", "talk"),
    ("Look at that {place}, it is so {adj}.", "talk"),
    ("I think the {enemy} is hiding behind the {place}.", "talk"),
    ("Let me grab the {item} before we go.", "talk"),
    ("This {place} is {adj}, I have never been here before.", "talk"),
    ("Oh no, the {enemy} found us, run!", "hype"),
    ("That was close, I almost lost my {item}.", "hype"),
    ("We finally beat the {enemy}, let's go!", "hype"),
    ("Wait, is that a {color} {item} over there?", "talk"),
    ("I need a better {item} for this fight.", "talk"),
    ("Should we fight the {enemy} or just run away?", "question"),
    ("What do you think chat, the {place} or the {place2}?", "question"),
    ("Do you guys like the {color} {item} or the old one?", "question"),
    ("My {food} is getting cold, hold on a second.", "talk"),
    ("I had {food} for lunch today and it was great.", "talk"),
    ("Has anyone tried the new {place} in this game?", "question"),
    ("The music in this {place} is really nice.", "talk"),
    ("Why is the {enemy} so strong, this is not fair.", "talk"),
    ("I keep falling off this {bridge_or_place}, sorry chat.", "talk"),
    ("Thank you so much for the follow, I really appreciate it.", "thanks"),
    ("Welcome everyone, grab a snack and hang out.", "thanks"),
    ("Be careful, the {enemy} can hit really hard.", "talk"),
    ("I love this part of the game, the {place} looks amazing.", "talk"),
    ("Let's use the {item} on the {enemy} and see what happens.", "talk"),
    ("Chat, remind me to drink some water, okay?", "question"),
)

# Lines before a long silence (the streamer steps away): VAD and alignment must live with gaps.
AWAY_LINES = (
    "Okay, be right back chat, I need to grab a drink.",
    "Give me a moment, someone is at the door.",
    "Hold on chat, I need to check something real quick.",
)
BACK_LINES = (
    "Alright, I am back, what did I miss?",
    "Okay sorry about that, let's keep going.",
)


@dataclass(frozen=True)
class Line:
    """One sentence the streamer says; keywords are the words chat may echo."""

    text: str
    kind: str  # "talk" | "hype" | "question" | "thanks" | "away" | "back"
    keywords: tuple[str, ...]


def _fill(template: str, rng: np.random.Generator) -> tuple[str, tuple[str, ...]]:
    place, place2 = rng.choice(PLACES, size=2, replace=False)
    values = {
        "place": str(place),
        "place2": str(place2),
        "bridge_or_place": str(rng.choice(("bridge", "tower", "mountain"))),
        "enemy": str(rng.choice(ENEMIES)),
        "item": str(rng.choice(ITEMS)),
        "adj": str(rng.choice(ADJECTIVES)),
        "food": str(rng.choice(FOODS)),
        "color": str(rng.choice(COLORS)),
    }
    keywords = tuple(v for k, v in values.items() if "{" + k + "}" in template and k not in ("adj", "color"))
    return template.format(**values), keywords


def lines(rng: np.random.Generator) -> Iterator[Line]:
    """Endless talk; never the same template twice in a row."""
    last = -1
    while True:
        i = int(rng.integers(len(TEMPLATES)))
        if i == last:
            continue
        last = i
        template, kind = TEMPLATES[i]
        text, keywords = _fill(template, rng)
        yield Line(text, kind, keywords)


def away_line(rng: np.random.Generator) -> Line:
    return Line(str(rng.choice(AWAY_LINES)), "away", ())


def back_line(rng: np.random.Generator) -> Line:
    return Line(str(rng.choice(BACK_LINES)), "back", ())
