"""Forgetting a VOD end to end: four short demo streams through real Dagster runs, a training set and a
LoRA adapter on both; then the inbox sensor (with [ingest] on_removed) and `chatlab forget`.

Checked: "keep" keeps every row; "forget" removes the partition, its runs, the VOD's rows from
every table (and from the lake's files and catalog), its artifacts; marks the training set and
adapter built from it stale; logs the removal; the next training set leaves it out."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from chatlab.config import Layout
from chatlab.storage import connect, table_names

pytestmark = pytest.mark.slow

CHATLAB = str(Path(sys.executable).with_name("chatlab"))
TINY_TRAIN = """
[train]
max_steps = 2
batch_size = 2
eval_steps = 2
patience = 0
warmup_steps = 0
max_prompt_tokens = 48
max_completion_tokens = 16
max_eval_rows = 4
min_train_pairs = 1
"""


def _chatlab(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([CHATLAB, *args], env=env, capture_output=True, text=True, timeout=900)


def _settings(path: Path, on_removed: str, offsets: dict[str, tuple[float, float]] | None = None) -> None:
    # A 1-minute demo stream may be too short for the alignment gate: each VOD's offset is given
    # by hand from its truth file (a manual override, as a user sets it), so both give pairs.
    if offsets is None:
        offsets = _settings.offsets
    _settings.offsets = offsets
    manual = "".join(f"\n[vods.{v}.align]\noffset_s = {o}\ndrift_s_per_h = {d}\n" for v, (o, d) in sorted(offsets.items()))
    path.write_text(f'[ingest]\non_removed = "{on_removed}"\n\n[splits]\noverrides = {{ vod_a = "train", vod_b = "train", vod_c = "validation", vod_d = "test" }}\n'
                    + TINY_TRAIN + manual, encoding="utf-8")


def _rows(layout: Layout, vod_id: str) -> dict[str, int]:
    with connect(layout) as con:
        out = {}
        for t in sorted(table_names(con)):
            cols = {r[0] for r in con.execute(f'DESCRIBE chatlab."{t}"').fetchall()}
            if "vod_id" in cols:
                out[t] = con.execute(f'SELECT count(*) FROM chatlab."{t}" WHERE vod_id = ?', [vod_id]).fetchone()[0]
    return out


def _unique_message(chat: Path, other: Path) -> str:
    """A chat message of one stream that the other stream's chat never has."""
    theirs = other.read_text(encoding="utf-8")
    for c in json.loads(chat.read_text(encoding="utf-8"))["comments"]:
        text = c["message"]["body"] if isinstance(c.get("message"), dict) else str(c.get("message", ""))
        if len(text) >= 12 and text not in theirs:
            return text
    raise AssertionError("no message unique to the stream")


def _files_holding(root: Path, needle: str, skip: list[Path]) -> list[str]:
    hits = []
    for p in root.rglob("*"):
        if p.is_file() and not any(s in p.parents for s in skip):
            if needle.encode() in p.read_bytes():
                hits.append(str(p.relative_to(root)))
    return hits


def _tick(instance, cursor, settings):
    from chatlab.defs.ingest.sensor import inbox_sensor

    ctx = dg.build_sensor_context(instance=instance, cursor=cursor, resources={"settings": settings})
    result = inbox_sensor(ctx)
    return result.cursor, result


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    from chatlab.demo import make_demo_stream, read_truth

    tmp = tmp_path_factory.mktemp("forget")
    data = tmp / "data"
    conf = tmp / "chatlab.toml"
    env = dict(os.environ, CHATLAB_DATA=str(data), CHATLAB_CONFIG=str(conf))
    env.pop("DAGSTER_HOME", None)
    streams, offsets = {}, {}
    # vod_a and vod_b train; c and d give the validation and test splits training needs.
    for name, seed in (("vod_a", 3), ("vod_b", 0), ("vod_c", 1), ("vod_d", 2)):
        s = make_demo_stream(tmp / "src" / name, name, seed=seed, minutes=0.5)
        truth = read_truth(s.truth)
        offsets[name] = (truth["offset_s"], truth["drift_s_per_h"])
        _settings(conf, "keep", offsets)
        r = _chatlab("ingest", str(s.media), "--chat", str(s.chat), env=env)
        assert r.returncode == 0, r.stderr
        streams[name] = s
    r = _chatlab("materialize", env=env)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    r = _chatlab("train", "--only", "training_set", "--only", "adapter", env=env)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return {"tmp": tmp, "data": data, "conf": conf, "env": env, "streams": streams}


def test_keep_then_forget_through_the_sensor(world, monkeypatch):
    from chatlab.forget import is_stale
    from chatlab.platform_cli import dagster_home
    from chatlab.resources import ChatlabSettings

    data, conf, streams = world["data"], world["conf"], world["streams"]
    layout = Layout(data)
    monkeypatch.setenv("CHATLAB_DATA", str(data))
    monkeypatch.setenv("CHATLAB_CONFIG", str(conf))
    dagster_home(layout)
    needle = _unique_message(streams["vod_a"].chat, streams["vod_b"].chat)
    sets = data / "artifacts" / "training_set"
    version = (sets / "CURRENT").read_text().strip()
    card = json.loads((sets / version / "card.json").read_text())
    assert "vod_a" in card["vods"]["train"] and "vod_b" in card["vods"]["train"]
    before_a, before_b = _rows(layout, "vod_a"), _rows(layout, "vod_b")
    assert before_a["chat"] > 0 and before_a["aligned_pairs"] > 0 and before_b["chat"] > 0
    media_a = data / "inbox" / streams["vod_a"].media.name
    settings = ChatlabSettings(data_dir=str(data), config_file=str(conf))

    with dg.DagsterInstance.get() as instance:
        cursor = None
        for _ in range(2):  # a file must keep its size for a tick before it counts
            cursor, result = _tick(instance, cursor, settings)
        assert not result.run_requests  # both were materialized by `chatlab materialize`

        # keep (the default): the VOD leaves the inbox, its rows stay
        held = media_a.rename(world["tmp"] / media_a.name)
        cursor, _ = _tick(instance, cursor, settings)
        assert _rows(layout, "vod_a") == before_a
        assert instance.has_dynamic_partition("vods", "vod_a")
        shutil.move(held, media_a)  # back, unchanged: nothing runs again
        for _ in range(2):
            cursor, result = _tick(instance, cursor, settings)
        assert not result.run_requests

        # forget: the media leaves the inbox again
        _settings(conf, "forget")
        from chatlab.review import overrides

        overrides.save(layout, "vod_a", None, status="accepted")  # a review-page record, to be forgotten too
        overrides.save(layout, "vod_b", None, status="accepted")
        media_a.unlink()
        cursor, result = _tick(instance, cursor, settings)
        assert not instance.has_dynamic_partition("vods", "vod_a")
        assert instance.has_dynamic_partition("vods", "vod_b")
        assert not instance.get_runs(dg.RunsFilter(tags={"dagster/partition": "vod_a"}))
        assert instance.get_runs(dg.RunsFilter(tags={"dagster/partition": "vod_b"}))
        assert not instance.get_materialized_partitions(dg.AssetKey("chat")) & {"vod_a"}
        observed = instance.fetch_observations(dg.AssetKey("training_set"), limit=1).records
        assert observed and "vod_a" in str(observed[0].asset_observation.metadata["forgotten_vod"].value)

    assert set(_rows(layout, "vod_a").values()) == {0}
    assert _rows(layout, "vod_b") == before_b  # the other VOD is untouched
    assert not list(data.glob("artifacts/*/vod_a"))
    assert list(data.glob("artifacts/*/vod_b"))
    assert not (data / "inbox" / streams["vod_a"].chat.name).exists()  # its chat export went with it
    # Stale: the training set and the adapter built from it; no CURRENT pointing at them.
    assert is_stale(sets / version)["forgotten_vod"] == "vod_a"
    assert is_stale(data / "models" / "adapters" / version)["forgotten_vod"] == "vod_a"
    assert not (sets / "CURRENT").exists()
    # The bytes are gone from the lake's Parquet files and its catalog, and from the instance
    # (run event logs); only the stale derived folders still hold them, and they say so.
    stale = [sets / version, data / "models" / "adapters" / version]
    assert _files_holding(data, needle, skip=stale) == []
    log = [json.loads(line) for line in (data / "forget.log").read_text().splitlines()]
    assert log[-1]["vod_id"] == "vod_a" and log[-1]["at"] and log[-1]["rows"]["chat"] == before_a["chat"]
    assert log[-1]["dagster"]["partition_removed"] is True and log[-1]["dagster"]["runs_deleted"] >= 1
    assert set(overrides.read(layout)) == {"vod_b"} and log[-1]["review_override"]["review"]["status"] == "accepted"

    # The next training set leaves it out.
    r = _chatlab("train", "--only", "training_set", env=world["env"])
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    new = (sets / "CURRENT").read_text().strip()
    assert new != version
    vods = json.loads((sets / new / "card.json").read_text())["vods"]
    assert "vod_a" not in sum(vods.values(), []) and "vod_b" in vods["train"]


def test_forget_cli_refuses_a_vod_still_in_the_inbox_and_an_unknown_key(world):
    r = _chatlab("forget", "vod_b", env=world["env"])
    assert r.returncode == 1 and "still in the inbox" in r.stderr and "vod_b" in r.stderr
    assert _rows(Layout(world["data"]), "vod_b")["chat"] > 0
    r = _chatlab("forget", "../x", env=world["env"])
    assert r.returncode == 1 and "is not a VOD id" in r.stderr


def test_bad_on_removed_setting_is_a_clear_error():
    from chatlab.forget import on_removed_setting

    with pytest.raises(ValueError, match=r"on_removed = 'delete': expected one of 'keep', 'forget'"):
        on_removed_setting({"on_removed": "delete"})


def test_forget_takes_the_vods_review_override_out_and_logs_it(tmp_path):
    """A correction saved on the review page must not outlive its VOD (a new VOD under the same
    id would inherit the offset and the accept/reject); other VODs' corrections stay."""
    from chatlab.config import load_config, section
    from chatlab.forget import forget_vod
    from chatlab.review import overrides

    layout = Layout(tmp_path / "data").ensure()
    overrides.save(layout, "gone", {"anchors": [[10.0, 7.0], [20.0, 17.0]]}, status="rejected")
    overrides.save(layout, "kept", {"offset_s": 2.5})
    report = forget_vod(layout, "gone", reason="asked by the streamer")
    assert report.review_override["align"]["anchors"] == [[10.0, 7.0], [20.0, 17.0]]
    assert report.review_override["review"]["status"] == "rejected"
    assert "review override removed" in report.summary()
    assert set(overrides.read(layout)) == {"kept"}
    conf = load_config(tmp_path / "none.toml", layout.root)
    assert section(conf, "align", "gone") == {} and section(conf, "review", "gone") == {}
    assert section(conf, "align", "kept")["offset_s"] == 2.5
    log = json.loads((layout.root / "forget.log").read_text().splitlines()[-1])
    assert log["vod_id"] == "gone" and log["review_override"]["review"]["status"] == "rejected"
    again = forget_vod(layout, "gone", reason="again")  # a second forget finds nothing to take out
    assert again.review_override is None and set(overrides.read(layout)) == {"kept"}


@pytest.mark.parametrize("policy", ["keep", "forget"])
def test_a_renamed_file_with_on_removed(policy, instance, layout, tmp_path):
    """"forget": a renamed recording is the old VOD forgotten plus a new one, so the stream does not
    enter training twice; "keep" (the default) keeps the old partition and says so."""
    from chatlab.resources import ChatlabSettings

    conf = tmp_path / "chatlab.toml"
    conf.write_text(f'[ingest]\non_removed = "{policy}"\n', encoding="utf-8")
    settings = ChatlabSettings(data_dir=str(layout.root), config_file=str(conf))

    def tick(cursor):
        cursor, result = _tick(instance, cursor, settings)
        for req in result.dynamic_partitions_requests or []:
            instance.add_dynamic_partitions(req.partitions_def_name, list(req.partition_keys))
        return cursor, [r.partition_key for r in result.run_requests or []]

    (layout.inbox / "friday.wav").write_bytes(os.urandom(4000))
    cursor, _ = tick(None)
    cursor, runs = tick(cursor)
    assert runs == ["friday"] and instance.get_dynamic_partitions("vods") == ["friday"]
    (layout.inbox / "friday.wav").rename(layout.inbox / "friday_stream.wav")
    cursor, _ = tick(cursor)
    cursor, runs = tick(cursor)
    assert runs == ["friday_stream"]
    log = layout.root / "forget.log"
    if policy == "forget":
        assert instance.get_dynamic_partitions("vods") == ["friday_stream"]
        entry = json.loads(log.read_text().splitlines()[-1])
        assert entry["vod_id"] == "friday" and "on_removed = forget" in entry["reason"]
    else:
        assert sorted(instance.get_dynamic_partitions("vods")) == ["friday", "friday_stream"]
        assert not log.exists()
