"""`dataset_export`: every VOD's pairs, by split, as Hugging Face Parquet + dataset card. Not
partitioned: it reads all VODs (only those whose offsets passed, with their current offsets)."""


import json

import dagster as dg

from chatlab.align.export import dataset_version, load_tables, write_export
from chatlab.resources import ChatlabSettings
from chatlab.storage import connect, current_snapshot

EXPORT_DEPS = [dg.AssetDep(k, partition_mapping=dg.AllPartitionMapping()) for k in ("aligned_pairs", "splits")]


@dg.asset(
    deps=EXPORT_DEPS,
    group_name="align",
    kinds={"parquet"},
    description="data/artifacts/dataset_export/<version>/: data/{train,validation,test}-00000-of-00001.parquet "
    "(prompt, completion, provenance) and README.md (dataset card); the same as `chatlab export`.",
)
def dataset_export(context: dg.AssetExecutionContext, settings: ChatlabSettings) -> dg.MaterializeResult:
    layout = settings.layout()
    with connect(layout) as con:
        snapshot = current_snapshot(con)  # the rows read below are exactly this lake snapshot's
    try:
        pairs, splits, offsets = load_tables(layout, snapshot=snapshot)
    except LookupError as e:
        raise dg.Failure(description=str(e)) from e
    version = dataset_version(pairs, splits)
    out = layout.artifacts / "dataset_export" / version
    res = write_export(out, pairs, splits, offsets, {"name": f"chatlab {version}", "settings": settings.section("align")})
    return dg.MaterializeResult(metadata={
        "dataset_version": version, "pairs_version": version, "lake_snapshot": snapshot,
        "path": dg.MetadataValue.path(str(out)),
        **{f"pairs_{k}": v for k, v in res["counts"].items()},
        "vods": splits.height, "card": dg.MetadataValue.md((out / "README.md").read_text(encoding="utf-8")),
        "files": dg.MetadataValue.json(json.loads(json.dumps(res["files"]))),
    })
