"""`chatlab transcribe FILE [--json]` and `chatlab bench asr`: the same code the transcript asset runs."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def _add_engine_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("engine (defaults: [asr] in chatlab.toml, then built-in)")
    g.add_argument("--backend", choices=["faster-whisper", "whisperx"])
    g.add_argument("--model", help="CTranslate2 Whisper model directory (default: bundled whisper-base)")
    g.add_argument("--device", help="auto | cpu | cuda")
    g.add_argument("--compute-type", dest="compute_type", help="auto | int8 | float16 | …")
    g.add_argument("--language", help="language code, e.g. en (default: detect)")
    g.add_argument("--batch-size", dest="batch_size", type=int)
    g.add_argument("--beam-size", dest="beam_size", type=int)
    g.add_argument("--threads", dest="cpu_threads", type=int, help="CPU threads (0: CTranslate2 default)")
    g.add_argument("--sequential", dest="batched", action="store_false", default=None, help="no batched pipeline")
    g.add_argument("--vocabulary", help="comma-separated names and terms to bias decoding toward")


def register(sub: argparse._SubParsersAction, bench_sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("transcribe", help="speech to timed text (segments and words) from any audio or video file")
    p.add_argument("file", type=Path, help="audio or video file")
    p.add_argument("--json", action="store_true", help="print the transcript JSON (DESIGN.md contract) on stdout")
    p.add_argument("--window", type=float, help="seconds of audio per window (bounded memory; default 600)")
    _add_engine_args(p)
    p.set_defaults(func=cmd_transcribe)

    b = bench_sub.add_parser("asr", help="RTF of `transcribe` vs plain faster-whisper, WER and word-time error on a demo stream")
    b.add_argument("--file", type=Path, help="audio file to time (default: a generated demo stream)")
    b.add_argument("--truth", type=Path, help="ground-truth JSON ({segments:[{start,end,text,words?}]}) for --file")
    b.add_argument("--minutes", type=float, default=3.0, help="length of the generated demo stream")
    b.add_argument("--seed", type=int, default=7)
    b.add_argument("--repeat", type=int, default=2, help="timed runs of each side (best is kept)")
    b.add_argument("--json", action="store_true", help="print the figures as JSON")
    _add_engine_args(b)
    b.set_defaults(func=cmd_bench)


def engine_settings(args: argparse.Namespace) -> dict[str, Any]:
    """[asr] from the settings file with the command line laid over it."""
    from chatlab import config as cfg

    values = cfg.section(cfg.load_config(), "asr")
    for k in ("backend", "model", "device", "compute_type", "language", "batch_size", "beam_size", "cpu_threads", "batched", "vocabulary"):
        v = getattr(args, k, None)
        if v is not None:
            values[k] = v
    return values


def _fmt(t: float) -> str:
    h, rem = divmod(t, 3600)
    m, s = divmod(rem, 60)
    return f"{int(h)}:{int(m):02d}:{s:05.2f}"


def cmd_transcribe(args: argparse.Namespace) -> int:
    from chatlab import config as cfg
    from chatlab.asr.engine import EngineConfig, make_engine
    from chatlab.asr.quality import Thresholds, measure, verdict
    from chatlab.asr.transcribe import DEFAULT_WINDOW_S, transcribe_file

    values = engine_settings(args)
    engine = make_engine(EngineConfig.from_mapping(values), cfg.layout().models)
    window = args.window or float(values.get("window_s", DEFAULT_WINDOW_S))

    def progress(a: float, b: float, n: int) -> None:
        print(f"  {_fmt(a)} – {_fmt(b)}: {n} segments", file=sys.stderr)

    t = transcribe_file(args.file, engine, window_s=window, on_window=progress)
    if args.json:
        json.dump(t.to_json(), sys.stdout, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        for s in t.segments:
            print(f"[{_fmt(s.start)} → {_fmt(s.end)}] {s.text.strip()}")
    th = Thresholds.from_mapping(values)
    m = measure(t.segments, t.duration, t.speech_s, th)
    ok, reasons = verdict(m, th)
    print(
        f"{args.file}: {t.duration:.1f} s, language {t.language or '?'}, {t.n_words} words, "
        f"RTF {t.rtf:.3f} ({engine.model_name}, {engine.version}); quality "
        + ("ok" if ok else "FAILED: " + "; ".join(reasons)),
        file=sys.stderr,
    )
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from chatlab.asr.bench import format_report, run_bench

    report = run_bench(
        file=args.file, truth=args.truth, minutes=args.minutes, seed=args.seed, repeat=args.repeat,
        engine_values=engine_settings(args),
    )
    if args.json:
        json.dump(report, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print(format_report(report))
    return 0
