"""One slur list for the chat filter and the generation guardrails; a setting adds to it."""

from __future__ import annotations

from chatlab.chat.clean import CleanConfig
from chatlab.slurs import SLURS
from chatlab.train.generate import Guardrails


def test_both_defaults_are_the_one_list():
    assert set(CleanConfig().blocklist) == set(SLURS)
    assert set(Guardrails().banned_words) == set(SLURS)


def test_a_user_list_adds_to_the_defaults_in_both_places():
    clean = CleanConfig.from_settings({"blocklist": ["spoilerword"]})
    guard = Guardrails.from_mapping({"banned_words": ["spoilerword"]})
    for words in (clean.blocklist, guard.banned_words):
        assert "spoilerword" in words and set(SLURS) <= set(words)


def test_an_empty_user_list_never_removes_the_slurs_from_generation():
    assert set(SLURS) <= set(Guardrails.from_mapping({"banned_words": []}).banned_words)
    assert set(SLURS) <= set(CleanConfig.from_settings({"blocklist": []}).blocklist)
