"""`dataset_export`: every VOD's pairs, by split, as Hugging Face Parquet + dataset card. Not
partitioned: it reads all VODs (only those whose offsets passed, with their current offsets)."""


import json

import dagster as dg

from chatlab.align.export import read_dataset, write_export
from chatlab.resources import ChatlabSettings

EXPORT_DEPS = [dg.AssetDep(k, partition_mapping=dg.AllPartitionMapping()) for k in ("aligned_pairs", "splits")]


@dg.asset(
    deps=EXPORT_DEPS,
    group_name="align",
    kinds={"parquet"},
    description="data/artifacts/dataset_export/<dataset version>/ (the training set's version for the same pairs): data/{train,validation,test}-00000-of-00001.parquet "
    "(prompt, completion, provenance) and README.md (dataset card); the same as `chatlab export`.",
)
def dataset_export(context: dg.AssetExecutionContext, settings: ChatlabSettings) -> dg.MaterializeResult:
    layout = settings.layout()
    try:
        ds = read_dataset(layout)  # the pairs as they are at one lake snapshot, and their version
    except LookupError as e:
        raise dg.Failure(description=str(e)) from e
    out = layout.artifacts / "dataset_export" / ds.version
    res = write_export(out, ds.pairs, ds.splits, ds.offsets, {"name": f"chatlab {ds.version}", "dataset_version": ds.version,
                                                              "lake_snapshot": ds.lake_snapshot, "settings": settings.section("align")})
    return dg.MaterializeResult(data_version=dg.DataVersion(ds.version), metadata={
        "dataset_version": ds.version, "lake_snapshot": ds.lake_snapshot,
        "path": dg.MetadataValue.path(str(out)),
        **{f"pairs_{k}": v for k, v in res["counts"].items()},
        "vods": ds.splits.height, "card": dg.MetadataValue.md((out / "README.md").read_text(encoding="utf-8")),
        "files": dg.MetadataValue.json(json.loads(json.dumps(res["files"]))),
    })
