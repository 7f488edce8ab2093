"""Per-VOD settings are laid over the global ones key by key, at every depth."""

from __future__ import annotations

from chatlab.config import load_config, section


def test_one_per_vod_key_keeps_the_rest_of_the_global_table(tmp_path):
    p = tmp_path / "chatlab.toml"
    p.write_text(
        "[chat.clean]\nbots_extra = ['mybot']\nmax_chars = 300\n\n"
        "[vods.friday.chat.clean]\nmax_chars = 500\n\n"
        "[vods.friday.chat]\nstart_time = '2026-01-01T00:00:00Z'\n",
        encoding="utf-8",
    )
    conf = load_config(p)
    friday = section(conf, "chat", "friday")
    assert friday["clean"] == {"bots_extra": ["mybot"], "max_chars": 500}
    assert friday["start_time"] == "2026-01-01T00:00:00Z"
    assert section(conf, "chat", "other")["clean"] == {"bots_extra": ["mybot"], "max_chars": 300}
    assert section(conf, "chat")["clean"]["max_chars"] == 300  # the global table is not changed by the merge
