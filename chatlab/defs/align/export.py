"""`dataset_export`: every VOD's pairs, by split, as Hugging Face Parquet + dataset card. Not
partitioned: it reads all VODs (only those whose offsets passed, with their current offsets)."""


import json

import dagster as dg

from chatlab.align.export import export_dataset
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
        # the pairs as they are at one lake snapshot, and their version (many pairs: streamed)
        res = export_dataset(layout, layout.artifacts / "dataset_export", {"settings": settings.section("align")})
    except LookupError as e:
        raise dg.Failure(description=str(e)) from e
    out, version = res["out"], res["dataset_version"]
    return dg.MaterializeResult(data_version=dg.DataVersion(version), metadata={
        "dataset_version": version, "lake_snapshot": res["lake_snapshot"],
        "path": dg.MetadataValue.path(str(out)),
        **{f"pairs_{k}": v for k, v in res["counts"].items()},
        "vods": res["vods"], "streamed": res["streamed"], "card": dg.MetadataValue.md((out / "README.md").read_text(encoding="utf-8")),
        "files": dg.MetadataValue.json(json.loads(json.dumps(res["files"]))),
    })
