"""Cleaning rules one by one, the filter report, and anonymization."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from chatlab.chat.clean import RULES, CleanConfig, clean, report
from chatlab.chat.parse import finalize
from chatlab.chat.privacy import anonymize_text, hash_users, load_salt, user_hash
from chatlab.chat.schema import PARSED, conform


def chat(rows: list[tuple]) -> pl.DataFrame:
    """rows: (t_s, login, text[, extra dict]) -> a chat table as parse_file makes it."""
    recs = []
    for i, r in enumerate(rows):
        t, login, text = r[:3]
        rec = {"msg_id": f"m{i}", "t_s": float(t), "user": login.title(), "user_login": login, "text": text, "source_index": i}
        rec.update(r[3] if len(r) > 3 else {})
        recs.append(rec)
    return finalize(conform(pl.DataFrame(recs, infer_schema_length=None), PARSED), "test", "test")


def rules(df: pl.DataFrame, cfg: CleanConfig | None = None) -> list:
    return clean(df, cfg)["drop_rule"].to_list()


KAPPA = [{"id": "25", "begin": 0, "end": 5}]


def test_each_simple_rule() -> None:
    df = chat([
        (1, "ann", "hello"),
        (2, "nightbot", "follow the socials"),
        (3, "bob", "!uptime"),
        (4, "cat", "   "),
        (5, "dan", "x" * 600),
        (6, "eve", "just KYS already"),
        (7, "fay", "sub hype", {"msg_type": "notice"}),
        (8, "gil", "spam link", {"moderated": True}),
        (9, "ann", "hello", {"msg_id": "m0"}),  # the same message twice in the export
        (10, "hal", "skyscraper"),  # 'kys' inside a word is not a match
    ])
    assert rules(df) == [None, "bot", "command", "empty", "too_long", "blocklist", "notice", "moderated", "duplicate", None]


def test_configurable_bots_and_blocklist() -> None:
    df = chat([(1, "mybot", "beep"), (2, "ann", "potato"), (3, "bob", "fine")])
    cfg = CleanConfig.from_settings({"bots_extra": ["MyBot"], "blocklist": ["potato"]})
    assert rules(df, cfg) == ["bot", "blocklist", None]
    with pytest.raises(ValueError, match="unknown settings"):
        CleanConfig.from_settings({"emote_max": 3})


def test_emote_spam_capped_per_window() -> None:
    rows = [(i * 1.0, f"u{i}", "Kappa", {"emotes": KAPPA}) for i in range(6)] + [(30.0, "u9", "Kappa", {"emotes": KAPPA})]
    df = chat(rows)
    assert df["emote_only"].all()
    out = rules(df, CleanConfig(emote_only_max=3, emote_only_window_s=10, burst_max=100))
    assert out == [None, None, None, "emote_spam", "emote_spam", "emote_spam", None]


def test_identical_burst_and_copypasta() -> None:
    burst = [(i * 0.5, f"u{i}", "W STREAM" if i % 2 else "w   stream") for i in range(5)]
    assert rules(chat(burst), CleanConfig(burst_max=2, burst_window_s=20)) == [None, None, "burst", "burst", "burst"]
    pasta = "this is a very long copypasta that people paste again and again in chat"
    rows = [(i * 100.0, f"u{i}", pasta) for i in range(3)]  # far apart: no burst, still copypasta
    assert rules(chat(rows), CleanConfig(copypasta_max=1)) == [None, "copypasta", "copypasta"]


def test_rate_limit_per_user_counts_only_kept_messages() -> None:
    rows = [(i * 1.0, "ann", f"msg {i}") for i in range(6)] + [(2.5, "bob", "hi")]
    out = clean(chat(rows), CleanConfig(user_max=3, user_window_s=30))
    by = dict(zip(out["text"], out["drop_rule"]))
    assert [by[f"msg {i}"] for i in range(6)] == [None, None, None, "rate_limit", "rate_limit", "rate_limit"]
    assert by["hi"] is None
    # commands dropped first do not use up the quota
    rows = [(0, "ann", "!a"), (1, "ann", "!b"), (2, "ann", "real 1"), (3, "ann", "real 2")]
    assert rules(chat(rows), CleanConfig(user_max=2)) == ["command", "command", None, None]


def test_report_lists_every_rule() -> None:
    out = clean(chat([(1, "ann", "hi"), (2, "bob", "!x")]))
    rep = report(out)
    assert set(RULES) <= set(rep) and rep["command"] == 1 and rep["kept"] == 1 and rep["total"] == 2
    assert out["keep"].to_list() == [True, False]
    empty = clean(chat([]).head(0))
    assert report(empty)["total"] == 0


def test_salt_and_hashes(tmp_path: Path) -> None:
    salt = load_salt(tmp_path)
    assert load_salt(tmp_path) == salt and len(salt) == 64  # created once, then reused
    assert load_salt(tmp_path / "other") != salt  # per project
    df = chat([(1, "Ann", "hi"), (2, "ann", "again"), (3, "bob", "yo")])
    h = hash_users(df, salt)
    assert h[0] == h[1] != h[2] and h[0] == user_hash("ann", salt) and len(h[0]) == 16
    assert user_hash("ann", salt) != user_hash("ann", load_salt(tmp_path / "other"))


def test_anonymized_text_has_no_user_names() -> None:
    df = chat([(1, "streamfan_42", "hi @Streamer and @streamfan_42 :)"), (2, "bob", "email me a@b.c")])
    out = df.select(anonymize_text(pl.col("text")))["text"].to_list()
    assert out == ["hi @user and @user :)", "email me a@b.c"]
