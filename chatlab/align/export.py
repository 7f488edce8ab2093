"""The dataset export: Hugging Face `datasets`-compatible Parquet, one file per split, in TRL's
conversational prompt-completion form: `prompt` is the system and user messages chatlab's own
model trains on (chatlab.train.prompt, the one template), `completion` the viewer's message as
the assistant turn. Any model's chat template applies to them; chatlab's SmolLM2 renders them in
ChatML. The plain `transcript` and `chat_context` go beside them, with provenance, and a dataset
card (README.md with the `configs` header `load_dataset` reads)."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from chatlab.align.context import CONTEXT_S
from chatlab.align.splits import SPLITS
from chatlab.config import Layout
from chatlab.storage.lake import SCHEMA
from chatlab.train.prompt import TEMPLATE_VERSION, Context, completion_text, messages

EXPORT_COLUMNS = ("prompt", "completion", "transcript", "chat_context", "vod_id", "msg_id", "user_hash", "t_speech_s",
                  "offsets_version", "asr_model", "filter_set")
MESSAGE = pl.Struct({"role": pl.String, "content": pl.String})


def _conversation(rows: pl.DataFrame) -> tuple[pl.Series, pl.Series]:
    prompts = [messages(Context.of(r["transcript"], r["chat_context"], r.get("title"), r.get("streamer")))
               for r in rows.iter_rows(named=True)]
    completions = [[{"role": "assistant", "content": completion_text(t)}] for t in rows["target"].to_list()]
    return pl.Series("prompt", prompts, dtype=pl.List(MESSAGE)), pl.Series("completion", completions, dtype=pl.List(MESSAGE))


# Pairs turned into chat-message structs at a time: the Python objects of one batch, never of
# every pair, are alive at once (a long VOD list has millions of pairs).
BATCH_ROWS = 20_000


def _split_frames(pairs: pl.DataFrame, splits: pl.DataFrame) -> dict[str, pl.DataFrame]:
    """pairs joined to their VOD's split (columnar, no per-pair objects); one frame per split, sorted."""
    j = pairs.join(splits.select("vod_id", "split"), on="vod_id", how="inner").sort("vod_id", "t_speech_s", "msg_id")
    return {s: j.filter(pl.col("split") == s) for s in SPLITS}


def export_frames(pairs: pl.DataFrame, splits: pl.DataFrame) -> dict[str, pl.DataFrame]:
    """pairs (aligned_pairs rows) joined to their VOD's split; one frame per split, sorted, with
    the prompt/completion columns (all in memory: write_export streams instead)."""
    return {s: f.with_columns(*_conversation(f)).select(EXPORT_COLUMNS) for s, f in _split_frames(pairs, splits).items()}


def _write_parquet(path: Path, parts: Iterable[pl.DataFrame], empty: Callable[[], pl.DataFrame]) -> None:
    """One split's Parquet file of the export columns, a part (pairs rows) at a time, renamed into
    place when whole; with no part, the columns and types of ``empty()`` (a frame of no rows)."""
    import pyarrow.parquet as pq

    tmp = path.with_suffix(".tmp")
    writer = None

    def write(part: pl.DataFrame) -> None:
        nonlocal writer
        table = part.with_columns(*_conversation(part)).select(EXPORT_COLUMNS).to_arrow()
        if writer is None:
            writer = pq.ParquetWriter(tmp, table.schema)
        writer.write_table(table)

    try:
        for part in parts:
            write(part)
        if writer is None:
            write(empty())
    finally:
        if writer is not None:
            writer.close()
    tmp.replace(path)


def _write_split(rows: pl.DataFrame, path: Path) -> None:
    """One split's Parquet file, written BATCH_ROWS rows at a time."""
    _write_parquet(path, (rows.slice(a, BATCH_ROWS) for a in range(0, rows.height, BATCH_ROWS)), lambda: rows.clear())


def card(frames: dict[str, pl.DataFrame], splits: pl.DataFrame, offsets: pl.DataFrame, info: dict[str, Any]) -> str:
    asr = sorted(set(f for fr in frames.values() for f in fr["asr_model"].unique().to_list()))
    filters = sorted(set(f for fr in frames.values() for f in fr["filter_set"].unique().to_list()))
    return _card({s: f.height for s, f in frames.items()}, asr, filters, splits, offsets, info)


def _card(counts: dict[str, int], asr: list[str], filters: list[str], splits: pl.DataFrame, offsets: pl.DataFrame,
          info: dict[str, Any]) -> str:
    vods = {s: sorted(splits.filter(pl.col("split") == s)["vod_id"].to_list()) for s in SPLITS}
    header = ["---", "configs:", "- config_name: default", "  data_files:"]
    header += [f"  - split: {s}\n    path: data/{s}-00000-of-00001.parquet" for s in SPLITS]
    header += ["task_categories:", "- text-generation", "---", ""]
    lines = [
        f"# {info.get('name', 'chatlab dataset')}", "",
        "What the streamer just said -> what chat wrote next. Built by chatlab: the transcript of the "
        f"{info.get('context_s', CONTEXT_S):g} s before the moment a viewer typed (chat time minus the estimated offset), "
        "the last chat messages before it, and the message itself. Users are salted hashes; @mentions are replaced.", "",
        f"`prompt` / `completion` are chat messages (TRL's conversational prompt-completion form, template {TEMPLATE_VERSION}): "
        "the text chatlab's own model trains on. `transcript` and `chat_context` hold the same context as plain text.", "",
        "## Splits", "", "| split | pairs | VODs |", "|---|---|---|",
        *[f"| {s} | {counts[s]} | {len(vods[s])} |" for s in SPLITS], "",
        "Whole VODs per split (hash of seed and VOD id; near-duplicate streams kept together; overrides recorded).", "",
        "## Offsets per VOD", "", "| VOD | offset_s | drift_s_per_h | segments | confidence | method | version |", "|---|---|---|---|---|---|---|",
    ]
    for r in offsets.sort("vod_id").iter_rows(named=True):
        lines.append(f"| {r['vod_id']} | {r['offset_s']} | {r['drift_s_per_h']} | {r['n_segments']} | {r['confidence']} | {r['method']} | {r['offsets_version']} |")
    lines += ["", "## Provenance", "",
              *([f"- dataset version: {info['dataset_version']}, read at lake snapshot {info['lake_snapshot']} "
                 "(`chatlab.align.export.read_dataset(layout, snapshot=N)` reads the same pairs again)"]
                if "lake_snapshot" in info else []),
              f"- ASR model: {', '.join(asr) or 'n/a'}", f"- filter sets: {', '.join(filters) or 'n/a'}",
              f"- settings: `{json.dumps(info.get('settings', {}), sort_keys=True, default=str)}`", "",
              "Load with `datasets.load_dataset(\"parquet\", data_dir=...)` or `load_dataset(\"path/to/this/folder\")`.", ""]
    return "\n".join(header + lines)


def write_export(out_dir: Path, pairs: pl.DataFrame, splits: pl.DataFrame, offsets: pl.DataFrame, info: dict[str, Any]) -> dict[str, Any]:
    """Write data/<split>-00000-of-00001.parquet and README.md under out_dir (and dataset.json, the
    version and lake snapshot, when ``info`` has them); returns counts and paths."""
    out_dir = Path(out_dir)
    (out_dir / "data").mkdir(parents=True, exist_ok=True)
    frames = _split_frames(pairs, splits)
    files = {}
    for s, f in frames.items():
        p = out_dir / "data" / f"{s}-00000-of-00001.parquet"
        _write_split(f, p)
        files[s] = str(p.relative_to(out_dir))
    (out_dir / "README.md").write_text(card(frames, splits, offsets, info), encoding="utf-8")
    if "lake_snapshot" in info:  # what `chatlab storage compact` keeps: this export can be made again
        (out_dir / "dataset.json").write_text(json.dumps({k: info[k] for k in ("dataset_version", "lake_snapshot")}), encoding="utf-8")
    return {"counts": {s: f.height for s, f in frames.items()}, "files": files, "card": "README.md"}


def load_tables(layout: Layout, schema: str = SCHEMA, snapshot: int | None = None) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """(pairs, splits, offsets) of every VOD from the tables, read-only (at lake ``snapshot`` if
    given). Only pairs built with the VOD's current offsets, and only VODs whose offsets passed
    `alignment_confident`, count."""
    from chatlab.storage import connect, table_names

    with connect(layout, snapshot=snapshot) as con:
        missing = {"aligned_pairs", "splits", "offsets"} - table_names(con, schema)
        if missing:
            raise LookupError(f"{layout.root}: no table(s) {sorted(missing)} in schema {schema}; materialize offsets, aligned_pairs and splits first")
        offsets = con.execute(f"SELECT * FROM {schema}.offsets WHERE passed").pl()
        splits = con.execute(f"SELECT * FROM {schema}.splits").pl()
        pairs = con.execute(
            f"SELECT p.* FROM {schema}.aligned_pairs p JOIN {schema}.offsets o "
            "ON p.vod_id = o.vod_id AND p.offsets_version = o.offsets_version WHERE o.passed"
        ).pl()
    return pairs, splits, offsets


@dataclass(frozen=True)
class Dataset:
    """The pairs every dataset is made of, read at one lake snapshot, and their one version."""

    pairs: pl.DataFrame
    splits: pl.DataFrame
    offsets: pl.DataFrame
    lake_snapshot: int
    version: str


def read_dataset(layout: Layout, snapshot: int | None = None) -> Dataset:
    """The pairs, splits and offsets at lake ``snapshot`` (default: the current one, taken once,
    so the rows read are exactly that snapshot's), with their version. `dataset_export`, `chatlab
    export` and `training_set` read through here: the same pairs get the same name, and
    ``read_dataset(layout, snapshot=N)`` reads a recorded dataset again, whatever came after.
    A snapshot the lake no longer holds (expired) is a LookupError saying so."""
    from chatlab.storage import connect, current_snapshot

    if snapshot is None:
        with connect(layout) as con:
            snapshot = current_snapshot(con)
    try:
        pairs, splits, offsets = load_tables(layout, snapshot=snapshot)
    except duckdb.Error as e:
        if "snapshot" in str(e).lower():
            raise LookupError(f"{layout.root}: lake snapshot {snapshot} is not in the catalog any more (expired, e.g. by "
                              f"`chatlab forget`); its rows cannot be read again ({str(e).splitlines()[0]})") from e
        raise
    return Dataset(pairs, splits, offsets, int(snapshot), dataset_version(pairs, splits))


HASH_BATCH_ROWS = 50_000


def dataset_version(pairs: pl.DataFrame, splits: pl.DataFrame) -> str:
    """The one version of a dataset: sha256 of the pairs (every column), each with its VOD's
    split, and the prompt template that turns them into rows. The same pairs give the same
    version on any machine (same Polars); any changed pair, split or template gives another."""
    import hashlib

    j = pairs.join(splits.select("vod_id", "split").unique("vod_id", keep="last"), on="vod_id", how="left")
    cols = sorted(j.columns)
    h = hashlib.sha256(json.dumps({"template": TEMPLATE_VERSION, "columns": cols}).encode())
    # One JSON line per pair, sorted: row order is not content.
    lines = j.select(pl.struct(cols).struct.json_encode().alias("line")).sort("line")["line"]
    for start in range(0, lines.len(), HASH_BATCH_ROWS):
        h.update("\n".join(lines.slice(start, HASH_BATCH_ROWS).to_list()).encode())
        h.update(b"\n")
    return "ds-" + h.hexdigest()[:16]


# Above this many pairs dataset_export streams them: DuckDB sorts them (memory-limited, spilling
# under data/tmp/) and hands them over a batch at a time; fewer are read whole (read_dataset).
STREAM_ABOVE_PAIRS = 500_000
STREAM_MEMORY = "512MB"  # DuckDB's limit while it sorts the pairs


def _pairs_sql(schema: str = SCHEMA) -> str:
    """load_tables' pairs: only those built with the VOD's current offsets, of VODs that passed."""
    return (f"SELECT p.* FROM {schema}.aligned_pairs p JOIN {schema}.offsets o "
            "ON p.vod_id = o.vod_id AND p.offsets_version = o.offsets_version WHERE o.passed")


def _limited(con: duckdb.DuckDBPyConnection, tmp: Path) -> None:
    tmp.mkdir(parents=True, exist_ok=True)
    con.execute(f"SET memory_limit = '{STREAM_MEMORY}'")
    con.execute("SET threads = 1")  # the scan cannot run ahead of the reader
    con.execute("SET preserve_insertion_order = false")
    con.execute("SET temp_directory = '" + str(tmp).replace("'", "''") + "'")


def stream_dataset_version(con: duckdb.DuckDBPyConnection, splits: pl.DataFrame, tmp: Path, schema: str = SCHEMA) -> str:
    """dataset_version(pairs, splits) of the pairs in the lake (con: at one snapshot, limits set),
    never all in memory: each batch's JSON lines go to Parquet, DuckDB sorts them (byte order, as
    Polars does) and they are hashed in that order. The same version as the in-memory function."""
    import hashlib

    import pyarrow.parquet as pq

    s = splits.select("vod_id", "split").unique("vod_id", keep="last")
    con.register("chatlab_splits_one", s.to_arrow())
    rows = f"SELECT q.*, s.split FROM ({_pairs_sql(schema)}) q LEFT JOIN chatlab_splits_one s ON q.vod_id = s.vod_id"
    try:
        reader = con.execute(rows).to_arrow_reader(HASH_BATCH_ROWS)
        cols: list[str] | None = None
        parts = []
        for batch in reader:
            j = pl.from_arrow(batch)
            if cols is None:
                cols = sorted(j.columns)
            lines = j.select(pl.struct(cols).struct.json_encode().alias("line"))
            parts.append(tmp / f"lines-{len(parts):05d}.parquet")
            pq.write_table(lines.to_arrow(), parts[-1])
        if cols is None:  # no pairs: the columns a whole read gives
            cols = sorted([r[0] for r in con.execute("DESCRIBE " + rows).fetchall()])
    finally:
        con.unregister("chatlab_splits_one")
    h = hashlib.sha256(json.dumps({"template": TEMPLATE_VERSION, "columns": cols}).encode())
    if parts:
        names = ", ".join("'" + str(f).replace("'", "''") + "'" for f in parts)
        for batch in con.execute(f"SELECT line FROM read_parquet([{names}]) ORDER BY line").to_arrow_reader(HASH_BATCH_ROWS):
            h.update("\n".join(batch.column(0).to_pylist()).encode())
            h.update(b"\n")
        for f in parts:
            f.unlink()
    return "ds-" + h.hexdigest()[:16]


def _stream_split(con: duckdb.DuckDBPyConnection, split: str, path: Path, schema: str = SCHEMA) -> tuple[int, set[str], set[str]]:
    """One split's Parquet file from the lake, sorted as _split_frames sorts, BATCH_ROWS at a time;
    (rows, ASR models, filter sets)."""
    rows = f"SELECT q.*, s.split FROM ({_pairs_sql(schema)}) q JOIN chatlab_splits s ON q.vod_id = s.vod_id"
    n, asr, filters = 0, set(), set()

    def parts() -> Iterator[pl.DataFrame]:
        nonlocal n
        sql = rows + " WHERE s.split = ? ORDER BY q.vod_id NULLS FIRST, q.t_speech_s NULLS FIRST, q.msg_id NULLS FIRST"
        for batch in con.execute(sql, [split]).to_arrow_reader(BATCH_ROWS):
            part = pl.from_arrow(batch)
            if part.height:
                n += part.height
                asr.update(part["asr_model"].unique().to_list())
                filters.update(part["filter_set"].unique().to_list())
                yield part

    # no rows: the columns and types of an empty split, as write_export makes them
    _write_parquet(path, parts(), lambda: con.execute(rows + " LIMIT 0").pl())
    return n, asr - {None}, filters - {None}


def export_dataset(layout: Layout, out_root: Path | None = None, info: dict[str, Any] | None = None,
                   out_dir: Path | None = None) -> dict[str, Any]:
    """dataset_export and `chatlab export`: the pairs at the current lake snapshot written as the
    dataset under ``out_dir`` (default ``out_root/<dataset version>``), with their version. A few
    pairs are read whole (read_dataset + write_export); many are streamed from DuckDB (sorted by it
    with a memory limit), with the same files and version. Returns dataset_version, lake_snapshot,
    out, vods, counts, files."""
    from chatlab.storage import connect, current_snapshot, table_names

    info = dict(info or {})
    with connect(layout) as con:
        snapshot = current_snapshot(con)
        missing = {"aligned_pairs", "splits", "offsets"} - table_names(con, SCHEMA)
        n = 0 if missing else con.execute(f"SELECT count(*) FROM ({_pairs_sql()})").fetchone()[0]
    if missing or n <= STREAM_ABOVE_PAIRS:
        ds = read_dataset(layout, snapshot=snapshot)
        out = Path(out_dir or Path(out_root) / ds.version)
        res = write_export(out, ds.pairs, ds.splits, ds.offsets, {"name": f"chatlab {ds.version}", **info,
                                                                  "dataset_version": ds.version, "lake_snapshot": ds.lake_snapshot})
        return {"dataset_version": ds.version, "lake_snapshot": ds.lake_snapshot, "out": out, "vods": ds.splits.height,
                "streamed": False, **res}
    (layout.root / "tmp").mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="export-", dir=layout.root / "tmp") as tmp_s:
        tmp = Path(tmp_s)
        with connect(layout, snapshot=snapshot) as con:
            _limited(con, tmp / "duckdb")
            offsets = con.execute(f"SELECT * FROM {SCHEMA}.offsets WHERE passed").pl()
            splits = con.execute(f"SELECT * FROM {SCHEMA}.splits").pl()
            version = stream_dataset_version(con, splits, tmp)
            out = Path(out_dir or Path(out_root) / version)
            (out / "data").mkdir(parents=True, exist_ok=True)
            con.register("chatlab_splits", splits.select("vod_id", "split").to_arrow())
            counts, files, asr, filters = {}, {}, set(), set()
            for s in SPLITS:
                p = out / "data" / f"{s}-00000-of-00001.parquet"
                counts[s], a, f = _stream_split(con, s, p)
                asr |= a
                filters |= f
                files[s] = str(p.relative_to(out))
            con.unregister("chatlab_splits")
    info = {"name": f"chatlab {version}", **info, "dataset_version": version, "lake_snapshot": int(snapshot)}
    (out / "README.md").write_text(_card(counts, sorted(asr), sorted(filters), splits, offsets, info), encoding="utf-8")
    (out / "dataset.json").write_text(json.dumps({k: info[k] for k in ("dataset_version", "lake_snapshot")}), encoding="utf-8")
    return {"dataset_version": version, "lake_snapshot": int(snapshot), "out": out, "vods": splits.height, "streamed": True,
            "counts": counts, "files": files, "card": "README.md"}
