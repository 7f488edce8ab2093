"""Bounded memory for big chats (issue 16): the spilled parse gives the same rows as the
in-memory one, and the IO manager writes a lazy input in one transaction."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from chatlab.chat import parse as parse_mod
from chatlab.chat.parse import parse_file

REAL = Path(__file__).parent / "data" / "real" / "chat"


def _td_export(path: Path, n: int, seed: int) -> Path:
    """A TwitchDownloader export with what the whole-file steps look at: whole-second offsets
    refined from created_at, times out of order, a repeated id, a bad time, a record without text."""
    rng = random.Random(seed)
    comments = []
    for i in range(n):
        t = rng.randint(0, 3600)
        frac = rng.random()
        comments.append({"_id": f"id{i}" if i != 7 else "id3", "content_offset_seconds": t,
                         "created_at": f"2024-05-01T12:{(t + int(frac)) // 60 % 60:02d}:{t % 60:02d}.{int(frac * 1000):03d}Z",
                         "commenter": {"display_name": f"User{rng.randint(0, 30)}", "name": f"user{rng.randint(0, 30)}", "_id": "1"},
                         "message": {"body": rng.choice(["hi", "lol", "gg", "!cmd", "same same", "@user2 yes"]),
                                     "user_badges": [{"_id": "subscriber", "version": "1"}] if i % 3 else []}})
    comments[11]["content_offset_seconds"] = "nan"
    comments[13]["message"] = {}
    doc = {"video": {"start": 0, "end": 3600, "created_at": "2024-05-01T12:00:00Z"}, "comments": comments}
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def _irc_log(path: Path, n: int, seed: int) -> Path:
    """IRC lines without ids (stable ids from time, user, text and repeat count), repeats included."""
    rng = random.Random(seed)
    lines = []
    for i in range(n):
        ts = 1714564800000 + rng.randint(0, 600) * 1000
        user = f"u{rng.randint(0, 5)}"
        lines.append(f"@display-name={user};tmi-sent-ts={ts} :{user}!{user}@{user}.tmi.twitch.tv PRIVMSG #chan :{rng.choice(['a', 'b', 'hello'])}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _same(a, b) -> None:
    assert b.parquet is not None and b.messages.height == 0
    spilled = pl.read_parquet(b.parquet)
    assert_frame_equal(a.messages, spilled)
    assert a.count == b.count == spilled.height
    assert_frame_equal(a.rejects, b.rejects)
    assert (a.format, a.time_basis, a.start_time, a.stats, a.meta) == (b.format, b.time_basis, b.start_time, b.stats, b.meta)


@pytest.mark.parametrize("name", sorted(p.name for p in REAL.iterdir() if p.suffix != ".LICENSE") if REAL.exists() else [])
def test_spilled_parse_equals_in_memory_on_real_exports(name: str, tmp_path: Path) -> None:
    path = REAL / name
    a = parse_file(path, salt="s" * 32)
    assert a.count > 0, f"{name}: a real export of the corpus gave no messages"
    _same(a, parse_file(path, salt="s" * 32, spill=tmp_path))


def test_spilled_parse_equals_in_memory_over_many_parts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    td = _td_export(tmp_path / "td.json", 3000, seed=5)
    irc = _irc_log(tmp_path / "chan.log", 2000, seed=6)
    for path in (td, irc):
        a = parse_file(path, salt="s" * 32)
        monkeypatch.setattr(parse_mod, "SPILL_ROWS", 170)  # many small parts, cut where rows are out of order
        folder = tmp_path / f"spill-{path.stem}"
        folder.mkdir()
        b = parse_file(path, salt="s" * 32, spill=folder)
        monkeypatch.undo()
        assert a.count > 1000
        _same(a, b)
        assert len(list(folder.glob("parsed-*"))) == 0  # the parts are gone, the sorted file stays
    assert parse_file(td).stats["offsets_refined_from_created_at"] == 1


def test_io_manager_writes_a_lazy_frame_in_one_transaction_per_partition(layout, tmp_path: Path) -> None:
    """A LazyFrame over Parquet files (a table bigger than memory) is written like a frame: the
    partition's rows replaced in ONE commit, other partitions untouched, rows in their order."""
    import dagster as dg

    from chatlab.resources import DuckLakeIOManager
    from chatlab.storage import connect, current_snapshot

    parts = dg.DynamicPartitionsDefinition(name="vods")
    files = []
    for k in range(3):  # three files, the rows in descending order: the order must survive
        f = tmp_path / f"in-{k}.parquet"
        pl.DataFrame({"i": list(range(3000 - 1000 * k, 2000 - 1000 * k, -1)), "s": [f"f{k}"] * 1000}).write_parquet(f)
        files.append(f)

    @dg.asset(partitions_def=parts, metadata={"partition_expr": "vod_id"})
    def numbers(context) -> pl.LazyFrame:
        n = 3 if context.partition_key == "a" else 1
        return pl.scan_parquet(files[:n]).with_columns(pl.lit(context.partition_key).alias("vod_id"))

    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("vods", ["a", "b"])
    io = DuckLakeIOManager(data_dir=str(layout.root))
    snaps = []
    for key in ("a", "b", "a"):
        result = dg.materialize([numbers], partition_key=key, instance=instance, resources={"io_manager": io})
        assert result.success
        mat = result.asset_materializations_for_node("numbers")[0]
        assert mat.metadata["row_count"].value == (3000 if key == "a" else 1000)
        snaps.append(mat.metadata["lake_snapshot"].value)
    with connect(layout) as con:
        got = con.execute("SELECT vod_id, i FROM chatlab.numbers").pl()
        changes = con.execute("SELECT snapshot_id FROM lake.snapshots() WHERE snapshot_id > ?", [snaps[1]]).fetchall()
        now = current_snapshot(con)
    assert got.filter(pl.col("vod_id") == "a")["i"].to_list() == list(range(3000, 0, -1))
    assert got.filter(pl.col("vod_id") == "b")["i"].to_list() == list(range(3000, 2000, -1))
    assert changes == [(snaps[2],)] and now == snaps[2]  # the replace of "a" was one commit
    assert not list((layout.root / "tmp").glob("write-*"))  # the staged file is gone


def _tables(layout) -> tuple[pl.DataFrame, pl.DataFrame]:
    from chatlab.storage import connect

    with connect(layout) as con:
        return (con.execute("SELECT * FROM chatlab.chat WHERE vod_id = 'big'").pl(),
                con.execute("SELECT * FROM chatlab.chat_clean WHERE vod_id = 'big'").pl())


def test_chat_assets_spilled_and_batched_store_the_same_rows(layout, instance, monkeypatch: pytest.MonkeyPatch) -> None:
    """`chat` parsed with spill and `chat_clean` cleaned in many batches store exactly the rows
    of the in-memory parse and of `clean` over the whole table (what both assets did before)."""
    from chatlab.chat.clean import CleanConfig, clean
    from chatlab.chat.privacy import anonymize_text
    from chatlab.defs.chat import assets as chat_assets
    from chatlab_tests.conftest import make_media
    from chatlab_tests.test_chat_dagster import meta, run, sane

    make_media(layout.inbox / "big.wav", seconds=4, video=False)
    _td_export(layout.inbox / "big.json", 4000, seed=9)
    first = run(layout, instance, "big")
    chat_mem, clean_mem = _tables(layout)
    assert chat_mem.height == 3998
    expected = clean(chat_mem.drop("vod_id"), CleanConfig()).with_columns(anonymize_text(pl.col("text")).alias("text"))
    expected = expected.with_columns(pl.lit("big").alias("vod_id")).select(clean_mem.columns)
    assert_frame_equal(clean_mem, expected)

    monkeypatch.setattr(chat_assets, "SPILL_ABOVE_BYTES", 0)  # spill this small export too
    monkeypatch.setattr(chat_assets, "BATCH_ROWS", 333)  # and clean it in 13 batches
    monkeypatch.setattr(parse_mod, "SPILL_ROWS", 700)
    second = run(layout, instance, "big")
    chat_sp, clean_sp = _tables(layout)
    assert_frame_equal(chat_sp, chat_mem)
    assert_frame_equal(clean_sp, clean_mem)
    m1, m2 = meta(first, "chat"), meta(second, "chat")
    assert {k: m1[k] for k in ("parsed", "rejected", "users")} == {k: m2[k] for k in ("parsed", "rejected", "users")}
    assert sane(first).metadata == sane(second).metadata and sane(first).passed == sane(second).passed
    assert not list((layout.root / "tmp").iterdir())  # spill folders removed


def test_table_stream_reads_what_a_whole_read_gives(tmp_path: Path) -> None:
    """TableStream (the IO manager's input for big tables): batches in table order, `where`,
    `order_by` (DuckDB's sort, spilling under tmp_dir) and `columns`, as Polars would give them."""
    from chatlab.resources import TableStream
    from chatlab.storage import LakeConfig, replace_rows

    lake = LakeConfig(catalog=f"sqlite:{tmp_path / 'lake.sqlite'}", data_path=str(tmp_path / "lake") + "/")
    rng = random.Random(4)
    n = 5000
    df = pl.DataFrame({"vod_id": [rng.choice(["a", "b"]) for _ in range(n)], "msg_id": [f"m{rng.randint(0, 9999)}" for _ in range(n)],
                       "t_s": [float(rng.randint(0, 50)) for _ in range(n)], "keep": [rng.random() < 0.7 for _ in range(n)]})
    replace_rows(lake, "t", df)
    whole = TableStream(lake, "t", "vod_id", ["a"], None).collect()
    assert_frame_equal(pl.concat(list(TableStream(lake, "t", "vod_id", ["a"], None).batches(333))), whole)
    got = TableStream(lake, "t", "vod_id", ["a"], ["msg_id", "t_s"], where="keep", order_by=["t_s", "msg_id"],
                      tmp_dir=tmp_path / "tmp").frame()
    want = df.filter((pl.col("vod_id") == "a") & pl.col("keep")).select("msg_id", "t_s").sort("t_s", "msg_id", maintain_order=True)
    assert got.height > 1000
    assert_frame_equal(got.sort("t_s", "msg_id", maintain_order=True), want)  # the same rows
    assert got.select("t_s", "msg_id").equals(want.select("t_s", "msg_id"))  # in prepare_chat's order
    assert TableStream(lake, "t", "vod_id", [], None).frame().height == 0


def _chat_to_pair(seed: int, base: float = 30.0) -> tuple[pl.DataFrame, pl.DataFrame, "object"]:
    """Words and a chat of 40 minutes with what block reading must get right: a cut whose chat
    runs back on the audio clock, drift, a doubtful stretch, a long silent stretch (a block's chat
    context lies far back), a burst of messages at one time, dropped messages, rows with no time
    or no text, and messages before the audio starts."""
    from chatlab.align.curve import CurveSegment, OffsetCurve
    from chatlab.align.synth import make_case

    case = make_case(seed, 40.0, offset_s=base, drift_s_per_h=2.0)
    rng = np.random.default_rng(seed)
    chat = case.chat.select("msg_id", "t_s", "text").with_columns(
        pl.Series("user_hash", [f"u{i}" for i in rng.integers(0, 50, case.chat.height)]))
    chat = chat.filter((pl.col("t_s") < 300) | (pl.col("t_s") > 800))  # eight quiet minutes
    burst = pl.DataFrame({"msg_id": [f"b{i:03d}" for i in range(300)], "t_s": [1000.0] * 300,
                          "text": [f"same moment {i}" for i in range(300)], "user_hash": ["ub"] * 300})
    early = pl.DataFrame({"msg_id": ["e1", "e2"], "t_s": [-40.0, -3.0], "text": ["before", "the start"], "user_hash": ["x", "y"]})
    chat = pl.concat([chat, burst, early]).with_columns(keep=pl.Series(rng.random(chat.height + 302) > 0.1))
    chat = chat.with_columns(
        pl.when(pl.int_range(pl.len()) % 97 == 5).then(None).otherwise(pl.col("t_s")).alias("t_s"),
        pl.when(pl.int_range(pl.len()) % 89 == 7).then(None).otherwise(pl.col("text")).alias("text"))
    # offset jumps up by 400 s at 1900 s (removed audio: that chat goes back on the audio clock)
    cut = 1900.0 - (base + 400.0)
    curve = OffsetCurve((CurveSegment(-100.0, 1800.0, base, 2.0, offset_se_s=0.4),
                         CurveSegment(1900.0, 2500.0, base + 400.0, -1.0, cut_lo_s=cut - 15.0, cut_hi_s=cut + 10.0,
                                      doubt=((2200.0, 2230.0),), offset_se_s=1.5)))
    return case.words, chat.sort("t_s", "msg_id", maintain_order=True), curve


@pytest.mark.parametrize(("seed", "base"), [(3, 30.0), (8, -700.0)])
@pytest.mark.parametrize("margin", [-1.0, 1.0])
def test_pairs_made_block_by_block_equal_the_whole_chat_in_memory(seed: int, base: float, margin: float) -> None:
    """iter_pairs over small time blocks (what aligned_pairs does with a big chat) gives the rows
    of build_pairs over the whole chat, in the same order, and the same filter report."""
    from chatlab.align.config import AlignConfig
    from chatlab.align.pairs import FrameChat, build_pairs, iter_pairs

    words, chat, curve = _chat_to_pair(seed, base)
    cfg = AlignConfig(context_margin_se=margin)
    prov = {"offsets_version": "v", "asr_model": "m", "filter_set": "f"}
    whole, want = build_pairs("vod", words, chat, curve, cfg, **prov)
    assert whole.height > 500 and want["in_cut"] > 50 and want["dropped_by_chat_clean"] > 100
    for block_rows in (1, 37, 400, 10**9):
        got: dict = {}
        parts = list(iter_pairs("vod", words, FrameChat(chat), curve, cfg, report=got, block_rows=block_rows, **prov))
        assert len(parts) > (10 if block_rows < 400 else 0)
        assert_frame_equal(pl.concat(parts), whole)
        assert got == want


def test_pairs_block_reading_equals_whole_with_no_chat_context_and_no_chat() -> None:
    from chatlab.align.config import AlignConfig
    from chatlab.align.pairs import FrameChat, build_pairs, iter_pairs

    words, chat, curve = _chat_to_pair(5)
    for cfg, c in ((AlignConfig(chat_k=0), chat), (AlignConfig(chat_k=1), chat), (AlignConfig(), chat.head(0)),
                   (AlignConfig(), chat.with_columns(keep=pl.lit(False)))):
        whole, want = build_pairs("vod", words, c, curve, cfg, offsets_version="v", asr_model="m", filter_set="f")
        got: dict = {}
        parts = list(iter_pairs("vod", words, FrameChat(c), curve, cfg, report=got, block_rows=50,
                                offsets_version="v", asr_model="m", filter_set="f"))
        assert_frame_equal(pl.concat(parts) if parts else whole.head(0), whole)
        assert got == want


def test_aligned_pairs_streamed_stores_the_rows_of_the_in_memory_path(layout, instance, monkeypatch: pytest.MonkeyPatch) -> None:
    """aligned_pairs over a chat above STREAM_ABOVE (read a time block at a time from the lake,
    pairs written to Parquet parts) stores exactly the rows, order and figures of the in-memory
    path, in one partition replace; the parts are removed."""
    from chatlab.defs.align import assets as align_assets
    from chatlab_tests.test_align_dagster import _query, _run, _write
    from chatlab.align.synth import make_case
    from chatlab.storage import connect

    _write(layout, {"cut": make_case(41, 25.0, offset_s=-60.0, drift_s_per_h=1.5, cuts=1, msgs_per_min=50.0),
                    "other": make_case(42, 6.0, offset_s=20.0, drift_s_per_h=0.0)})
    with connect(layout, read_only=False) as con:  # dropped messages, and a quiet stretch
        con.execute("UPDATE chatlab.chat_clean SET keep = false WHERE vod_id = 'cut' AND hash(msg_id) % 7 = 0")
        con.execute("DELETE FROM chatlab.chat_clean WHERE vod_id = 'cut' AND t_s BETWEEN 200 AND 500")

    def table() -> pl.DataFrame:
        with connect(layout) as con:
            # a table has no row order of its own (DuckDB scans in parallel): compared by message
            return con.execute("SELECT * FROM chatlab.aligned_pairs WHERE vod_id = 'cut' ORDER BY t_chat_s, msg_id").pl()

    assert _run(layout, instance, "other").success
    r1 = _run(layout, instance, "cut")
    assert r1.success
    whole = table()
    monkeypatch.setattr(align_assets, "STREAM_ABOVE", 10)
    monkeypatch.setattr(align_assets, "BLOCK_ROWS", 90)
    r2 = _run(layout, instance, "cut")
    assert r2.success
    m1, m2 = (r.asset_materializations_for_node("aligned_pairs")[0].metadata for r in (r1, r2))
    assert m2["parts"].value > 10 and m1["parts"].value == 0  # streamed: Parquet parts; in memory: none
    assert whole.height > 500
    assert_frame_equal(table(), whole)
    for k in m1:
        if k.startswith("filter_") or k in ("dagster/row_count", "preview"):
            assert m1[k] == m2[k], k
    assert _query(layout, "SELECT count(*) FROM chatlab.aligned_pairs WHERE vod_id = 'other'")[0][0] > 50
    assert not list((layout.root / "tmp").glob("pairs-*"))
