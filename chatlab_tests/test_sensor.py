"""The inbox sensor, evaluated tick by tick against a real ephemeral instance."""

import os
from pathlib import Path

import dagster as dg

from chatlab.defs.ingest.sensor import inbox_sensor
from chatlab.resources import ChatlabSettings


def tick(instance, layout, cursor=None) -> tuple[dg.SensorResult, list[str]]:
    ctx = dg.build_sensor_context(
        instance=instance, cursor=cursor, resources={"settings": ChatlabSettings(data_dir=str(layout.root))}
    )
    result = inbox_sensor(ctx)
    # Apply what the daemon would: register the new partitions.
    for req in result.dynamic_partitions_requests or []:
        instance.add_dynamic_partitions(req.partitions_def_name, list(req.partition_keys))
    return result, [r.partition_key for r in result.run_requests or []]


def write(path: Path, size: int) -> None:
    path.write_bytes(os.urandom(size))


def test_new_file_waits_one_tick_then_runs(instance, layout):
    write(layout.inbox / "stream_a.mp4", 5000)
    write(layout.inbox / "stream_a.json", 300)
    r1, runs1 = tick(instance, layout)
    assert runs1 == []
    r2, runs2 = tick(instance, layout, r1.cursor)
    assert runs2 == ["stream_a"]
    assert instance.get_dynamic_partitions("vods") == ["stream_a"]
    assert r2.run_requests[0].tags["chatlab/file"] == "stream_a.mp4"
    r3, runs3 = tick(instance, layout, r2.cursor)
    assert runs3 == []  # nothing changed: no new run


def test_file_still_growing_waits(instance, layout):
    f = layout.inbox / "big.mkv"
    write(f, 1000)
    r1, _ = tick(instance, layout)
    with open(f, "ab") as out:
        out.write(b"more bytes")
    r2, runs2 = tick(instance, layout, r1.cursor)
    assert runs2 == []
    r3, runs3 = tick(instance, layout, r2.cursor)
    assert runs3 == ["big"]


def test_changed_file_runs_again_with_a_new_run_key(instance, layout):
    f = layout.inbox / "v.mp4"
    write(f, 2000)
    r1, _ = tick(instance, layout)
    r2, runs = tick(instance, layout, r1.cursor)
    first_key = r2.run_requests[0].run_key
    write(f, 2500)
    r3, _ = tick(instance, layout, r2.cursor)
    r4, runs = tick(instance, layout, r3.cursor)
    assert runs == ["v"]
    assert r4.run_requests[0].run_key != first_key
    # a chat export arriving later belongs to the VOD: it runs again too
    write(layout.inbox / "v.json", 100)
    r5, _ = tick(instance, layout, r4.cursor)
    r6, runs = tick(instance, layout, r5.cursor)
    assert runs == ["v"]


def test_bad_files_are_reported_once_and_others_go_on(instance, layout, tmp_path, capfd):
    write(layout.inbox / "My Stream (final).mp4", 1000)
    write(layout.inbox / "empty.mp4", 0)
    write(layout.inbox / "readme.docx", 10)
    write(tmp_path / "elsewhere.mp4", 10)
    os.symlink(tmp_path / "elsewhere.mp4", layout.inbox / "escape.mp4")
    write(layout.inbox / "ok.wav", 1000)
    before = set(layout.inbox.iterdir()), {p: p.stat().st_mtime_ns for p in layout.inbox.iterdir() if p.is_file()}

    r1, _ = tick(instance, layout)
    logged = capfd.readouterr().err  # the sensor's log goes to Dagster's console handler
    assert "empty.mp4: empty file" in logged
    assert "readme.docx: unsupported file type" in logged
    assert "escape.mp4: symlink pointing outside the inbox" in logged
    r2, runs = tick(instance, layout, r1.cursor)
    logged = capfd.readouterr().err
    assert sorted(runs) == sorted(["ok", [k for k in runs if k.startswith("my_stream_final-")][0]])
    assert "not a valid VOD id" in logged
    assert "empty.mp4" not in logged  # reported once, not every tick
    # nothing in the inbox was modified or deleted
    after = set(layout.inbox.iterdir()), {p: p.stat().st_mtime_ns for p in layout.inbox.iterdir() if p.is_file()}
    assert after == before


def test_vod_already_materialized_with_same_fingerprint_is_not_rerun(instance, layout):
    from chatlab.ingest.inbox import find_vod, vod_fingerprint

    write(layout.inbox / "done.mp4", 1000)
    fp = vod_fingerprint(find_vod(layout.inbox, "done"))
    instance.add_dynamic_partitions("vods", ["done"])
    instance.report_runless_asset_event(
        dg.AssetMaterialization(asset_key="vod_source", partition="done", metadata={"fingerprint": fp})
    )
    r1, _ = tick(instance, layout)
    _, runs = tick(instance, layout, r1.cursor)
    assert runs == []


def test_corrupt_cursor_does_not_crash(instance, layout):
    write(layout.inbox / "x.mp4", 1000)
    r1, _ = tick(instance, layout, cursor="{not json")
    _, runs = tick(instance, layout, r1.cursor)
    assert runs == ["x"]
