"""`chatlab bench memory`: peak memory of every per-VOD stage on a big input.

Makes a chat export of ``--chat-gb`` decompressed gigabytes (TwitchDownloader JSON, gzipped)
and a VOD of ``--hours`` hours (audio only: pink noise, so the ASR's voice detection finds
little to transcribe and the figure is the cost of the audio, not of Whisper's decoding), puts
them in a fresh data directory, and materializes the per-VOD assets one at a time, each in its
own process. The peak RSS of that process (and, apart, of the largest child it waited for,
such as ffmpeg) is read from getrusage. Target (issue 16): at most 2 GB per stage."""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

# Every per-VOD asset in the order the job runs them (a multi-asset named by one of its outputs),
# then dataset_export, the first all-VOD step, which reads every VOD's pairs and splits.
STAGES = ("vod_source", "audio", "transcript", "transcript_segments", "chat_ocr", "chat", "chat_clean", "offsets",
          "aligned_pairs", "splits", "review_peaks", "dataset_export")
TARGET_GB = 2.0
VOD = "memory_bench"
WORDS = ("pog", "lol", "nice", "what", "is", "that", "gg", "no", "way", "clip", "it", "chat", "hello", "KEKW", "LUL",
         "monkaS", "the", "boss", "again", "run", "jump", "left", "right", "wow", "sadge", "true", "real", "omg")


def register(sub: argparse._SubParsersAction, bench_sub: argparse._SubParsersAction) -> None:
    p = bench_sub.add_parser("memory", help="peak RSS of every per-VOD stage on a big chat export and a long VOD")
    p.add_argument("--chat-gb", type=float, default=3.0, help="decompressed size of the chat export (default 3)")
    p.add_argument("--hours", type=float, default=10.0, help="length of the VOD (default 10)")
    p.add_argument("--work", type=Path, help="scratch folder (default data/bench/memory; the inputs are reused when their size matches)")
    p.add_argument("--stages", nargs="+", choices=STAGES, help="only these stages (default: all, in job order)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--speech-hours", type=float, default=None,
                   help="a generated transcript over the first this many hours (default: the whole VOD; 0: none, "
                        "the noise's own): Whisper finds no speech in noise, so without it no pair is made")
    p.set_defaults(func=cmd_bench_memory)


def make_chat(path: Path, target_bytes: int, hours: float, seed: int = 0) -> dict[str, Any]:
    """A TwitchDownloader JSON export of about ``target_bytes`` (decompressed), gzipped; streamed."""
    rng = random.Random(seed)
    users = [f"viewer_{i:05d}" for i in range(20000)]
    written, n = 0, 0
    duration = hours * 3600
    tmp = path.with_name(path.name + ".part")
    with gzip.open(tmp, "wt", encoding="utf-8", compresslevel=1) as f:
        head = json.dumps({"FileInfo": {"Version": {"Major": 1, "Minor": 4}}, "streamer": {"name": "bench", "id": 1},
                           "video": {"title": "memory bench", "start": 0, "end": int(duration), "length": int(duration)}})[:-1]
        f.write(head + ', "comments": [')
        written += len(head) + 15
        while written < target_bytes:
            user = rng.choice(users)
            rec = {"_id": f"m{n}", "content_offset_seconds": round(rng.uniform(0, duration), 3),
                   "commenter": {"display_name": user, "name": user, "_id": user[7:]},
                   "message": {"body": " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 12))),
                               "user_color": "#1E90FF", "user_badges": [{"_id": "subscriber", "version": "12"}]}}
            line = ("," if n else "") + json.dumps(rec)
            f.write(line)
            written += len(line)
            n += 1
        f.write("]}")
    tmp.replace(path)
    return {"messages": n, "decompressed_bytes": written + 2, "gzip_bytes": path.stat().st_size}


def make_vod(path: Path, hours: float) -> dict[str, Any]:
    from chatlab.media.audio import ffmpeg_exe

    tmp = path.with_name(".part-" + path.name)
    subprocess.run([ffmpeg_exe(), "-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi",
                    "-i", "anoisesrc=color=pink:sample_rate=16000:amplitude=0.05", "-t", str(hours * 3600),
                    "-c:a", "aac", "-b:a", "24k", "-f", "mp4", str(tmp)], check=True)
    tmp.replace(path)
    return {"hours": hours, "bytes": path.stat().st_size}


# the stages that read the transcript tables: the generated transcript is written before the first of them
AFTER_TRANSCRIPT = STAGES[STAGES.index("transcript_segments") + 1:]


def write_generated_transcript(speech_hours: float, seed: int = 0) -> dict[str, Any]:
    """Replace the bench VOD's transcript_words and transcript_segments rows (Whisper's, on noise)
    by generated ones: words of 0.2-0.5 s from the bench's vocabulary, 0.02-0.1 s apart and one in
    ten followed by a 0.5-1.5 s pause (about 2 words a second), in segments of 8-16 words, over the
    first ``speech_hours`` hours, in one transaction."""
    import numpy as np
    import polars as pl

    from chatlab.asr.tables import SEGMENTS_SCHEMA, WORDS_SCHEMA
    from chatlab.storage import lake_config, replace_tables

    rng = np.random.default_rng([seed, 7])
    end = speech_hours * 3600.0
    n = int(end * 2.625) + 16  # more words than fit (about 2 a second): cut at the end
    dur = rng.uniform(0.2, 0.5, n)
    gap = np.where(rng.random(n) < 0.1, rng.uniform(0.5, 1.5, n), rng.uniform(0.02, 0.1, n))  # sentence pauses
    start = np.concatenate([[0.0], np.cumsum(dur + gap)[:-1]])
    keep = start + dur <= end
    start, dur = start[keep], dur[keep]
    seg = np.cumsum(rng.integers(8, 17, len(start)))  # segment ends
    seg_id = np.searchsorted(seg, np.arange(len(start)), side="right")
    vocab = np.array(WORDS)
    words = pl.DataFrame({"vod_id": VOD, "seg_id": seg_id.astype(np.int64), "word_idx": np.arange(len(start), dtype=np.int32),
                          "start_s": start, "end_s": start + dur, "word": vocab[rng.integers(0, len(vocab), len(start))],
                          "probability": 0.9}).select([pl.col(c).cast(t) for c, t in WORDS_SCHEMA.items()])
    segs = words.group_by("seg_id", maintain_order=True).agg(pl.col("start_s").min(), pl.col("end_s").max(), pl.col("word").str.join(" ").alias("text"))
    segs = segs.with_columns(pl.lit(VOD).alias("vod_id"), pl.lit(-0.2).alias("avg_logprob"), pl.lit(0.01).alias("no_speech_prob"),
                             pl.lit(1.3).alias("compression_ratio"), pl.lit("generated").alias("asr_model"),
                             pl.lit("bench_memory").alias("asr_version")).select([pl.col(c).cast(t) for c, t in SEGMENTS_SCHEMA.items()])
    replace_tables(lake_config(), {"transcript_words": words, "transcript_segments": segs}, "vod_id", [VOD])
    return {"speech_hours": speech_hours, "words": words.height, "segments": segs.height}


def _inputs(work: Path, chat_gb: float, hours: float, seed: int) -> dict[str, Any]:
    inbox = work / "data" / "inbox"
    inbox.mkdir(parents=True, exist_ok=True)
    stamp = work / "inputs.json"
    want = {"chat_gb": chat_gb, "hours": hours, "seed": seed}
    if stamp.exists() and json.loads(stamp.read_text()).get("want") == want and (inbox / f"{VOD}.m4a").exists():
        return json.loads(stamp.read_text())
    t0 = time.perf_counter()
    chat = make_chat(inbox / f"{VOD}.json.gz", int(chat_gb * 1e9), hours, seed)
    vod = make_vod(inbox / f"{VOD}.m4a", hours)
    info = {"want": want, "chat": chat, "vod": vod, "make_s": round(time.perf_counter() - t0, 1)}
    stamp.write_text(json.dumps(info, indent=1))
    return info


def run_stage(stage: str) -> int:
    """Materialize one per-VOD stage in this process; print its peak RSS as JSON (the worker:
    ``python -m chatlab.bench_memory STAGE``)."""
    import dagster as dg

    from chatlab.definitions import defs
    from chatlab.platform_cli import dagster_home
    from chatlab import config as cfg

    layout = cfg.layout()
    dagster_home(layout)
    t0 = time.perf_counter()
    error = ""
    with dg.DagsterInstance.get() as instance:
        if not instance.has_dynamic_partition("vods", VOD):
            instance.add_dynamic_partitions("vods", [VOD])
        asset = next(a for a in defs.assets if isinstance(a, dg.AssetsDefinition) and dg.AssetKey(stage) in a.keys)
        key = VOD if asset.partitions_def is not None else None
        result = dg.materialize(list(defs.assets), selection=list(asset.keys), partition_key=key, instance=instance,
                                resources=dict(defs.resources), raise_on_error=False)
        failures = [e.step_failure_data.error.message.splitlines()[0] for e in result.all_events if e.is_step_failure]
        checks = [f"{c.check_name}: {c.description}" for c in result.get_asset_check_evaluations() if not c.passed]
        error = "; ".join(failures + checks)[:300]
        # measured: the stage's table was written (a check that fails after it, such as
        # asr_quality on noise, does not undo that); a stage that never got there measured nothing
        written = {e.asset_key for e in result.all_events if e.is_step_materialization}
        made = {}  # what the stage made: rows (pairs per split for the export)
        for e in result.get_asset_materialization_events():
            if e.asset_key == dg.AssetKey(stage):
                md = e.materialization.metadata
                made = {k: md[k].value for k in md if k in ("dagster/row_count", "row_count", "streamed", "parts")
                        or k.startswith("pairs_")}
    print(json.dumps({"stage": stage, "success": result.success, "measured": dg.AssetKey(stage) in written,
                      "seconds": round(time.perf_counter() - t0, 1),
                      "rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                      "children_rss_kb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, "problem": error,
                      "made": made}))
    return 0


def _baseline(env: dict[str, str]) -> int:
    """Peak RSS of a process that only loads chatlab's Definitions (what every stage pays)."""
    code = "import resource, chatlab.definitions; print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
    return int(subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout.split()[-1])


def bench_memory(chat_gb: float, hours: float, work: Path | None = None, stages: list[str] | None = None,
                 seed: int = 0, speech_hours: float | None = None) -> dict[str, Any]:
    from chatlab import config as cfg

    work = Path(work or cfg.layout().root / "bench" / "memory").resolve()
    work.mkdir(parents=True, exist_ok=True)
    info = _inputs(work, chat_gb, hours, seed)
    data = work / "data"
    # Noise has no speech to align on: a manual offset lets offsets and aligned_pairs run over the
    # whole chat (as a user's override would); the size cap is raised to fit the export.
    (work / "chatlab.toml").write_text("[chat]\nmax_bytes = %d\n\n[vods.%s.align]\noffset_s = 0.0\n"
                                       % (int(max(chat_gb * 1.2e9, 64e6)), VOD), encoding="utf-8")
    env = dict(os.environ, CHATLAB_DATA=str(data), CHATLAB_CONFIG=str(work / "chatlab.toml"))
    env.pop("DAGSTER_HOME", None)
    print(f"inputs: chat {info['chat']['decompressed_bytes'] / 1e9:.2f} GB decompressed "
          f"({info['chat']['messages']:,} messages, {info['chat']['gzip_bytes'] / 1e6:.0f} MB gzipped), "
          f"VOD {info['vod']['hours']:g} h ({info['vod']['bytes'] / 1e6:.0f} MB)", flush=True)
    base = _baseline(env)
    print(f"baseline (Python + Dagster + chatlab's definitions loaded): {base / 1e6:.2f} GB", flush=True)
    speech_hours = hours if speech_hours is None else min(speech_hours, hours)
    speech: dict[str, Any] = {"speech_hours": 0, "note": "the noise's own transcript (Whisper's)"}
    rows = []
    for stage in stages or STAGES:
        if speech_hours > 0 and stage in AFTER_TRANSCRIPT and not speech.get("words"):
            r = subprocess.run([sys.executable, "-m", "chatlab.bench_memory", "--generated-transcript", str(speech_hours), str(seed)],
                               env=env, capture_output=True, text=True)
            if r.returncode:
                raise RuntimeError(f"writing the generated transcript failed: {r.stderr.strip()[-2000:]}")
            speech = json.loads(r.stdout.strip().splitlines()[-1])
            print(f"transcript: GENERATED, not Whisper's: {speech['words']:,} words ({speech['words'] / (speech_hours * 3600):.2f} a second, "
                  f"from {len(WORDS)} bench words, {speech['segments']:,} segments) over the first {speech_hours:g} h, written "
                  "into transcript_words/transcript_segments before the stages after transcript_segments", flush=True)
        r = subprocess.run([sys.executable, "-m", "chatlab.bench_memory", stage], env=env, capture_output=True, text=True)
        try:
            row = json.loads(r.stdout.strip().splitlines()[-1])
        except (IndexError, ValueError):
            row = {"stage": stage, "success": False, "measured": False, "seconds": None, "rss_kb": 0, "children_rss_kb": 0,
                   "problem": f"worker exited {r.returncode}: {r.stderr.strip().splitlines()[-1] if r.stderr.strip() else ''}"}
        peak_gb = max(row["rss_kb"], row["children_rss_kb"]) / 1e6
        row["peak_gb"] = round(peak_gb, 3)
        row["within_target"] = row["measured"] and peak_gb <= TARGET_GB
        rows.append(row)
        state = "ok" if row["success"] else "written, a check failed" if row["measured"] else "NOT MEASURED (failed)"
        print(f"{stage:20s} peak {row['rss_kb'] / 1e6:6.2f} GB (largest child {row['children_rss_kb'] / 1e6:5.2f} GB) "
              f"{row['seconds']} s  {state}  {row['problem']}  "
              f"ratio to the {TARGET_GB:g} GB target {peak_gb / TARGET_GB:.2f}"
              + (f"  made {json.dumps(row.get('made'))}" if row.get("made") else ""), flush=True)
    worst = max(rows, key=lambda r: r["peak_gb"]) if rows else None
    out = {"inputs": info, "transcript": speech, "baseline_gb": round(base / 1e6, 3), "stages": rows,
           "worst": worst and {"stage": worst["stage"], "peak_gb": worst["peak_gb"]},
           "all_within_target": all(r["within_target"] for r in rows)}
    (work / "result.json").write_text(json.dumps(out, indent=1))
    return out


def cmd_bench_memory(args: argparse.Namespace) -> int:
    out = bench_memory(args.chat_gb, args.hours, args.work, args.stages, args.seed, args.speech_hours)
    w = out["worst"]
    missing = [r["stage"] for r in out["stages"] if not r["measured"]]
    print(f"worst: {w['stage']} at {w['peak_gb']:.2f} GB (target {TARGET_GB:g} GB): "
          f"{'all stages within it' if out['all_within_target'] else 'NOT all stages within it'}"
          + (f"; not measured (the stage failed before writing its table): {', '.join(missing)}" if missing else ""))
    return 0 if out["all_within_target"] else 1


if __name__ == "__main__":
    if sys.argv[1] == "--generated-transcript":
        print(json.dumps(write_generated_transcript(float(sys.argv[2]), int(sys.argv[3]))))
        sys.exit(0)
    sys.exit(run_stage(sys.argv[1]))
