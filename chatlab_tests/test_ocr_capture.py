"""Real OCR on a real capture: a screenshot of Twitch chat in someone else's overlay (see
data/real/SOURCES.md, ## ocr), against messages transcribed by eye. Its look is none of chatlab's:
bubbles on a textured ground, each name on a line of its own above the message."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from rapidfuzz import fuzz

from chatlab.ocr.engine import RapidOcrEngine
from chatlab.ocr.reader import read_image

pytestmark = pytest.mark.slow
DATA = Path(__file__).parent / "data" / "real" / "ocr"


def test_screenshot_of_real_chat() -> None:
    expected = json.loads((DATA / "compact_chat_overlay_chat.expected.json").read_text())["messages"]
    img = np.array(Image.open(DATA / "compact_chat_overlay_chat.png").convert("RGB"))
    got = read_image(img, RapidOcrEngine(threads=2))
    assert len(got) == len(expected)  # each message once, nothing from the textured ground
    for g, e in zip(got, expected):
        # names as read; a trailing underscore is often lost at this size ("EleMira_" -> "EleMira")
        assert g.user.rstrip("_") == e["user"].rstrip("_"), (g, e)
        assert fuzz.ratio(g.text, e["text"]) >= 90, (g, e)  # the wrapped lines joined in order
