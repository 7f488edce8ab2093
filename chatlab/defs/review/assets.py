"""`review_peaks`: the waveform peaks of a VOD's audio for the review page (computed once per
VOD, so a 10-hour VOD opens at once); `review_rerun`: the job a correction saved on the review
page starts, `offsets` and the per-VOD assets after it, for that VOD."""

import dagster as dg

from chatlab.files import sha256_file
from chatlab.media.audio import audio_path
from chatlab.partitions import vod_partition, vods
from chatlab.resources import ChatlabSettings
from chatlab.review.peaks import compute_peaks, write_peaks

REVIEW_JOB = "review_rerun"
PEAKS = "review_peaks"


@dg.asset(
    name=PEAKS,
    partitions_def=vods,
    deps=[dg.AssetKey("audio")],
    group_name="review",
    kinds={"numpy"},
    description="Min/max peaks of the audio, 50 bins per second (int8), for the review page's waveform: "
    "data/artifacts/review_peaks/<vod>/peaks.bin + peaks.json.",
)
def review_peaks(context: dg.AssetExecutionContext, settings: ChatlabSettings) -> dg.MaterializeResult:
    vod_id = vod_partition(context)
    layout = settings.layout()
    wav = audio_path(layout, vod_id)
    if not wav.exists():
        raise dg.Failure(description=f"{wav}: no audio for {vod_id}; materialize `audio` first")
    try:
        peaks, info = compute_peaks(wav)
    except ValueError as e:
        raise dg.Failure(description=str(e)) from e
    info = type(info)(**{**info.__dict__, "audio_sha256": sha256_file(wav)})
    if info.n_bins == 0:
        raise dg.Failure(description=f"{wav}: no samples, so no waveform ({info.duration_s} s)")
    path = write_peaks(layout.artifact_dir(PEAKS, vod_id), peaks, info)
    return dg.MaterializeResult(metadata={
        "path": dg.MetadataValue.path(str(path)), "bins": info.n_bins, "bins_per_s": info.bins_per_s,
        "duration_s": info.duration_s, "bytes": int(peaks.nbytes), "audio_sha256": info.audio_sha256,
    })


# offsets and everything per VOD after it; the all-VOD assets (export, training) are left to `chatlab train`
review_job = dg.define_asset_job(
    REVIEW_JOB,
    selection=(dg.AssetSelection.assets("offsets").downstream()
               - dg.AssetSelection.groups("train") - dg.AssetSelection.assets("dataset_export")),
    description="Started by a correction saved on the review page (chatlab review): offsets and the per-VOD assets after it.",
)
