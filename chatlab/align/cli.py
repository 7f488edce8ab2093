"""`chatlab align TRANSCRIPT CHAT`, `chatlab export` and `chatlab bench align`: the same code the assets run."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path


def register(sub: argparse._SubParsersAction, bench_sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("align", help="estimate the chat-to-audio offset curve of a transcript + chat; optionally write the pairs")
    p.add_argument("transcript", type=Path, help="transcript JSON (as `chatlab transcribe --json` prints it)")
    p.add_argument("chat", type=Path, help="chat export (any format `chatlab chat parse` reads)")
    p.add_argument("--json", action="store_true", help="print the offsets JSON (DESIGN.md, Time) on stdout")
    p.add_argument("--pairs", type=Path, metavar="OUT.parquet", help="also write the aligned pairs (only when the alignment is confident)")
    p.add_argument("--offset", type=float, help="manual override: a fixed offset in seconds (skips the estimate)")
    p.add_argument("--drift", type=float, default=0.0, help="with --offset: drift in s per hour")
    p.add_argument("--context-s", type=float, help="transcript seconds before each message (default 30)")
    p.add_argument("--chat-k", type=int, help="earlier chat messages in each context (default 5)")
    p.add_argument("--max-lag", type=float, help="lag search range in seconds, both ways (default 4200)")
    p.add_argument("--no-prior", action="store_true", help="ignore what the export says about the VOD's length (see chatlab.align.prior)")
    p.add_argument("--audio", type=Path, metavar="MEDIA",
                   help="the recording (WAV, or any file ffmpeg reads): place cuts the echoes leave loose by a step in the background "
                        "(chatlab.align.audiocut; figures.audio_at_cuts says what it did)")
    p.set_defaults(func=cmd_align)

    e = sub.add_parser("export", help="write the Hugging Face dataset (Parquet per split + card) from every VOD's pairs")
    e.add_argument("--out", type=Path, help="output folder (default: data/artifacts/dataset_export/<version>)")
    e.set_defaults(func=cmd_export)

    b = bench_sub.add_parser("align", help="offset accuracy on generated cases, speed at 10 h + 1M messages, real demo streams")
    b.add_argument("--cases", type=int, default=40, help="generated cases with known truth (plus 10%% unrelated chats)")
    b.add_argument("--seed", type=int, default=0)
    b.add_argument("--speed-hours", type=float, default=10.0)
    b.add_argument("--speed-messages", type=int, default=1_000_000)
    b.add_argument("--no-speed", action="store_true")
    b.add_argument("--real", type=int, default=0, metavar="N", help="also N demo streams through TTS + the real ASR (slow)")
    b.add_argument("--real-minutes", type=float, default=3.0)
    b.add_argument("--inbox", action="store_true", help="also score the demo VODs already materialized (inbox truth files + tables; no ASR run)")
    b.add_argument("--no-asr-bias", action="store_true",
                   help="generated word times without the early bias Whisper shows against the demo's TTS truth (jitter only)")
    b.add_argument("--groups", type=int, default=0, metavar="N",
                   help="also N cases per hard group (short streams, edge cuts, small jumps, sparse echoes, no echo); --seed 0 is tuned on, 1 was looked at, 7-18 were held apart once each and have been seen since "
                   "(the gate's 3-nat bar and offset-uncertainty rule were chosen on 0, 1, 7-16); 19 and 20 were held apart for that change, chosen before it and measured once")
    b.add_argument("--no-accuracy", action="store_true", help="skip the 40-case suite (with --groups)")
    b.add_argument("--real-speech", action="store_true",
                   help="also real read sentences (FLEURS, 5 languages: no cut, a cut in a pause, a mid-sentence splice) through the bundled Whisper (~3 min)")
    b.add_argument("--cut-sweep", type=int, default=0, metavar="N",
                   help="also N 3-minute streams per chat density with one cut (plain and sparse echoes): the change search by echoes each side")
    b.add_argument("--json", action="store_true", help="print everything as JSON (with per-case rows)")
    b.set_defaults(func=cmd_bench)


def _settings(args: argparse.Namespace) -> "object":
    from chatlab import config as cfg
    from chatlab.align.config import AlignConfig

    section = cfg.section(cfg.load_config(), "align")
    for key, name in (("context_s", "context_s"), ("chat_k", "chat_k"), ("max_lag", "max_lag_s")):
        if getattr(args, key, None) is not None:
            section[name] = getattr(args, key)
    if args.offset is not None:
        section |= {"offset_s": args.offset, "drift_s_per_h": args.drift}
    return AlignConfig.from_mapping(section)


def cmd_align(args: argparse.Namespace) -> int:
    from chatlab import config as cfg
    from chatlab.align.estimate import estimate_offsets, verdict
    from chatlab.align.inputs import read_transcript
    from chatlab.align.pairs import build_pairs
    from chatlab.chat import parse_file
    from chatlab.chat.clean import clean
    from chatlab.chat.privacy import anonymize_text, load_salt

    for f in (args.transcript, args.chat, *([args.audio] if args.audio else [])):
        if not f.is_file():
            raise FileNotFoundError(f"{f}: no such file")
    conf = _settings(args)
    words, asr_model = read_transcript(args.transcript)
    parsed = parse_file(args.chat, salt=load_salt(cfg.layout().ensure().root))
    print(parsed.summary(), file=sys.stderr)
    chat = clean(parsed.messages)
    if chat.height:
        chat = chat.with_columns(anonymize_text(chat["text"]).alias("text"))
    prior, why = None, "--no-prior"
    if not args.no_prior:
        from chatlab.align.prior import prior_from_export

        duration = json.loads(args.transcript.read_text(encoding="utf-8")).get("duration")
        prior, why = prior_from_export(parsed.meta, float(duration) if duration else None)
    print(f"prior: {prior.source if prior else 'none (' + why + ')'}", file=sys.stderr)
    audio, ends = None, None
    if args.audio is not None:
        from chatlab.align.audiocut import media_reader
        from chatlab.align.wordends import refine_word_ends

        audio = media_reader(args.audio)
        # the anchors' sentence ends where the voice stops, not where the ASR says (the pairs keep the ASR's words)
        est_words, ends = refine_word_ends(words, audio)
        print(f"audio: {ends['moved']} of {ends['words_checked']} word ends before a pause followed on the audio "
              f"(median {ends.get('moved_median_s', 0.0):+.2f} s)", file=sys.stderr)
    al = estimate_offsets(est_words if audio is not None else words, chat, conf, prior=prior)
    if ends is not None:
        al.figures["word_ends_from_audio"] = ends
    if audio is not None and al.curve is not None:
        from chatlab.align.estimate import with_audio

        with_audio(al, audio, conf)  # before the gate: a cut the audio pins is no loose cut
        for r in al.figures.get("audio_at_cuts", []):
            print(f"audio at the cut at {r['cut_s']:.1f} s: " + (f"moved {r['moved_s']:+.1f} s ({r['why']})" if "moved_s" in r else r["why"]),
                  file=sys.stderr)
    problems = verdict(al, conf)
    doc = al.to_json()
    if args.json:
        json.dump(doc, sys.stdout)
        sys.stdout.write("\n")
    else:
        for s in doc["segments"]:
            if "cut_lo_s" in s:
                print(f"cut at {s['start_s'] - s['offset_s']:.1f} s of the audio (somewhere in {s['cut_lo_s']:.1f} .. {s['cut_hi_s']:.1f} s)")
            print(f"chat {s['start_s']:9.1f} .. {s['end_s']:9.1f} s: offset {s['offset_s']:+.2f} s, drift {s['drift_s_per_h']:+.3f} s/h")
    print(f"{args.chat.name}: {al.method}, confidence {al.confidence:.2f}, {al.n_anchors} anchors, "
          + ("ok" if not problems else "NOT CONFIDENT: " + "; ".join(problems)), file=sys.stderr)
    if problems:
        return 1
    if args.pairs:
        vod_id = args.chat.stem.lower()
        pairs, report = build_pairs(vod_id, words, chat, al.curve, conf, offsets_version=al.curve.version({"asr": asr_model}),
                                    asr_model=asr_model, filter_set="chat_clean:default")
        args.pairs.parent.mkdir(parents=True, exist_ok=True)
        pairs.write_parquet(args.pairs)
        print(f"{args.pairs}: {pairs.height} pairs ({report})", file=sys.stderr)
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from chatlab import config as cfg
    from chatlab.align.export import export_dataset

    layout = cfg.layout()
    res = export_dataset(layout, layout.artifacts / "dataset_export", {"settings": cfg.section(cfg.load_config(), "align")}, out_dir=args.out)
    print(json.dumps({**res, "out": str(res["out"])}, indent=2))
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from chatlab.align.bench import run_accuracy, run_groups, run_inbox, run_real, run_speed

    report: dict = {}
    t0 = time.perf_counter()
    if not args.no_accuracy:
        report["accuracy"] = run_accuracy(args.cases, args.seed, asr_bias=not args.no_asr_bias)
        report["accuracy"]["wall_s"] = round(time.perf_counter() - t0, 1)
    if args.groups:
        report["groups"] = run_groups(args.groups, args.seed, audio=True)
    if args.real_speech:
        from chatlab.align.bench import run_real_speech

        report["real_speech"] = run_real_speech(args.seed)
    if args.cut_sweep:
        from chatlab.align.bench import run_cut_sweep

        report["cut_sweep"] = run_cut_sweep(args.cut_sweep, args.seed)
    if not args.no_speed:
        report["speed"] = run_speed(args.speed_hours, args.speed_messages, args.seed)
    if args.real:
        report["real"] = run_real(args.real, args.real_minutes, args.seed)
    if args.inbox:
        report["inbox"] = run_inbox()
    if not args.json:
        report.get("accuracy", {}).pop("per_case", None)
        for g in [*report.get("groups", {}).values(), report.get("real_speech"), report.get("real_speech", {}).get("audio_ends")]:
            if isinstance(g, dict):
                g.pop("per_case", None)
        for key in ("real", "inbox"):  # per VOD, one line each
            for row in report.get(key, {}).get("per_vod", []):
                row.pop("problems", None) if not row.get("problems") else None
    print(json.dumps(report, indent=2, default=str))
    return 0
