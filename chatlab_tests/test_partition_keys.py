"""A partition key typed into the Dagster UI never reaches a path or SQL unless it is a VOD id."""

from __future__ import annotations

import dagster as dg
import pytest

from chatlab.defs.ingest import vod_source
from chatlab.resources import build_resources

BAD_KEYS = ["../../../../x", "x') OR ('1'='1", "Upper", "a/b", "x" * 65]


@pytest.mark.parametrize("key", BAD_KEYS)
def test_layout_refuses_a_path_from_a_bad_key(layout, key):
    with pytest.raises(ValueError, match="not a VOD id"):
        layout.artifact_dir("offsets", key)


def test_bad_partition_key_fails_the_step_and_writes_nothing(instance, layout, media_factory, tmp_path):
    # A real file where the traversal would land, so a step that trusted the key would find it.
    media_factory(layout.root.parent / "x.mp4", seconds=1)
    key = "../x"
    instance.add_dynamic_partitions("vods", [key])
    result = dg.materialize([vod_source], partition_key=key, instance=instance,
                            resources=build_resources(str(layout.root)), raise_on_error=False)
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    assert "is not a VOD id" in failure.step_failure_data.error.message
    assert _vod_ids(layout) == set()


def _vod_ids(layout) -> set[str]:
    from chatlab.storage import connect, table_names

    with connect(layout) as con:
        if "vod_source" not in table_names(con):
            return set()
        return {r[0] for r in con.execute("select vod_id from chatlab.vod_source").fetchall()}
