"""`chat` without its VOD's vod_source row says so and fails chat_sane with the reason (it
used to go on silently with no start time and no duration bound)."""

from __future__ import annotations

import json

import dagster as dg

from chatlab.definitions import defs
from chatlab.resources import build_resources


def test_chat_without_vod_source_fails_chat_sane_with_the_reason(instance, layout, media_factory):
    media_factory(layout.inbox / "nosource.mp4", seconds=2)
    (layout.inbox / "nosource.json").write_text(json.dumps({"comments": [
        {"content_offset_seconds": 1.0, "commenter": {"display_name": "viewer"}, "message": {"body": "hello there"}}]}))
    instance.add_dynamic_partitions("vods", ["nosource"])
    resources = {**dict(defs.resources), **build_resources(str(layout.root))}
    result = dg.materialize(list(defs.assets), selection=[dg.AssetKey("chat"), dg.AssetKey("chat_rejects")],
                            partition_key="nosource", instance=instance, resources=resources, raise_on_error=False)
    checks = {c.check_name: c for c in result.get_asset_check_evaluations()}
    assert not checks["chat_sane"].passed
    assert "no vod_source row for VOD 'nosource'" in checks["chat_sane"].description
    mats = [e for e in result.get_asset_materialization_events() if e.asset_key == dg.AssetKey("chat")]
    assert "start time and duration are unknown" in mats[0].materialization.metadata["vod_source"].value
