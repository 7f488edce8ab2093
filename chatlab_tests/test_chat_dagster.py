"""The chat assets in an ephemeral instance: tables in DuckDB, metadata, chat_sane, VODs without chat."""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import pytest

from chatlab.config import Layout
from chatlab.defs.chat import chat_clean, chat_import
from chatlab.defs.ingest import vod_source
from chatlab.resources import build_resources
from chatlab_tests.conftest import make_media
from chatlab_tests.test_chat_formats import IRC, comment, td_doc
from chatlab.storage import connect


def run(layout: Layout, instance: dg.DagsterInstance, key: str, raise_on_error: bool = True) -> dg.ExecuteInProcessResult:
    if key not in instance.get_dynamic_partitions("vods"):
        instance.add_dynamic_partitions("vods", [key])
    return dg.materialize([vod_source, chat_import, chat_clean], partition_key=key, instance=instance,
                          resources=build_resources(data_dir=str(layout.root)), raise_on_error=raise_on_error)


def query(layout: Layout, sql: str) -> list[tuple]:
    with connect(layout) as con:
        return con.execute(sql).fetchall()


def meta(result: dg.ExecuteInProcessResult, key: str) -> dict:
    mats = [m for m in result.asset_materializations_for_node("chat_import") if m.asset_key.to_user_string() == key]
    return {k: v.value for k, v in mats[0].metadata.items()}


def sane(result: dg.ExecuteInProcessResult) -> dg.AssetCheckEvaluation:
    (ev,) = [e for e in result.get_asset_check_evaluations() if e.check_name == "chat_sane"]
    return ev


def test_vod_with_twitchdownloader_export(layout: Layout, instance: dg.DagsterInstance) -> None:
    make_media(layout.inbox / "vod1.wav", seconds=12, video=False)
    cs = [comment(0, 1.5, "alice", "hello @bob"), comment(1, 2.5, "bob", "!uptime"), comment(2, 3.5, "nightbot", "hi"),
          comment(3, 4.5, "carol", "nice one")]
    text = json.dumps(td_doc(cs))
    text = text.replace('"comments": [', '"comments": ["junk", ')  # one unreadable record
    (layout.inbox / "vod1.json").write_text(text)
    result = run(layout, instance, "vod1")
    assert result.success
    cols = [r[0] for r in query(layout, "SELECT column_name FROM information_schema.columns WHERE table_schema='chatlab' AND table_name='chat' ORDER BY ordinal_position")]
    assert cols[0] == "vod_id" and cols[1:4] == ["msg_id", "t_s", "t_abs"]
    rows = query(layout, "SELECT msg_id, t_s, \"user\", user_hash, is_bot, is_command FROM chatlab.chat WHERE vod_id='vod1' ORDER BY t_s")
    assert [r[0] for r in rows] == ["id-0", "id-1", "id-2", "id-3"] and rows[0][1] == pytest.approx(1.5)
    assert rows[2][4] and rows[1][5] and all(len(r[3]) == 16 for r in rows)
    rej = query(layout, "SELECT vod_id, source_file, source_index, reason FROM chatlab.chat_rejects")
    assert rej == [("vod1", "vod1.json", 0, rej[0][3])] and rej[0][3].startswith("not_an_object")
    m = meta(result, "chat")
    assert m["parsed"] == 4 and m["rejected"] == 1 and m["rejected_not_an_object"] == 1
    assert m["format"] == "twitchdownloader_json" and "offsets in the export" in m["time_basis"]
    ev = sane(result)
    assert not ev.passed and "reject rate" in ev.description  # 1 of 5 records is over 5 %
    # chat_clean: rules as columns, no raw names anywhere
    clean_cols = [r[0] for r in query(layout, "SELECT column_name FROM information_schema.columns WHERE table_name='chat_clean' ORDER BY ordinal_position")]
    assert clean_cols[0] == "vod_id" and "user" not in clean_cols and "user_login" not in clean_cols
    rows = query(layout, "SELECT msg_id, text, keep, drop_rule FROM chatlab.chat_clean ORDER BY t_s")
    assert [r[3] for r in rows] == [None, "command", "bot", None]
    dump = json.dumps(query(layout, "SELECT * FROM chatlab.chat_clean"), default=str).lower()
    assert not any(name in dump for name in ("alice", "bob", "carol", "nightbot"))
    mats = result.asset_materializations_for_node("chat_clean")
    assert mats[0].metadata["dropped_command"].value == 1 and mats[0].metadata["kept"].value == 2
    # re-running the partition replaces its rows
    assert run(layout, instance, "vod1").success
    assert query(layout, "SELECT count(*) FROM chatlab.chat WHERE vod_id='vod1'") == [(4,)]


def test_vod_without_chat_export_gives_empty_table(layout: Layout, instance: dg.DagsterInstance) -> None:
    make_media(layout.inbox / "vod2.wav", seconds=3, video=False)
    result = run(layout, instance, "vod2")
    assert result.success
    m = meta(result, "chat")
    assert m["parsed"] == 0 and m["chat_export"].startswith("none")
    assert query(layout, "SELECT count(*) FROM chatlab.chat WHERE vod_id='vod2'") == [(0,)]
    assert len(query(layout, "SELECT * FROM information_schema.columns WHERE table_name='chat'")) == 25
    assert sane(result).passed


def test_absolute_times_from_vod_source_then_config(layout: Layout, instance: dg.DagsterInstance) -> None:
    make_media(layout.inbox / "vod3.mkv", seconds=10, creation_time="2024-05-01T18:00:00Z")
    (layout.inbox / "vod3.irc").write_text(IRC)
    result = run(layout, instance, "vod3")
    m = meta(result, "chat")
    started = query(layout, "SELECT started_at FROM chatlab.vod_source WHERE vod_id='vod3'")[0][0]
    if started is not None:
        assert "vod_source.started_at" in m["time_basis"]
        assert query(layout, "SELECT min(t_s) FROM chatlab.chat WHERE vod_id='vod3'") == [(1.0,)]
    else:
        assert "first message" in m["time_basis"]
    Path(layout.root.parent / "chatlab.toml").write_text('[vods.vod3.chat]\nstart_time = "2024-05-01T17:59:59Z"\n')
    result = run(layout, instance, "vod3")
    assert "config" in meta(result, "chat")["time_basis"]
    assert query(layout, "SELECT min(t_s) FROM chatlab.chat WHERE vod_id='vod3'") == [(2.0,)]
    moderated = query(layout, "SELECT count(*) FROM chatlab.chat_clean WHERE vod_id='vod3' AND drop_rule='moderated'")
    assert moderated == [(2,)]


def test_unreadable_export_fails_the_check_not_the_run(layout: Layout, instance: dg.DagsterInstance) -> None:
    make_media(layout.inbox / "vod4.wav", seconds=3, video=False)
    (layout.inbox / "vod4.txt").write_bytes(b"\x89PNG\r\n\x1a\n not chat at all")
    result = run(layout, instance, "vod4")
    assert result.success
    ev = sane(result)
    assert not ev.passed
    assert query(layout, "SELECT reason FROM chatlab.chat_rejects WHERE vod_id='vod4'")[0][0].startswith("file_error")
