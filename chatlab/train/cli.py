"""`chatlab train`, `chatlab generate`, `chatlab export-model` and `chatlab bench train`."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def register(sub: argparse._SubParsersAction, bench_sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="build the training set from every VOD's pairs, train the LoRA adapter and "
                       "evaluate it against the base model (the Dagster assets, in this process)")
    p.add_argument("--only", choices=("training_set", "adapter", "evaluation"), action="append",
                   help="materialize only these assets (repeatable; default: all three)")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("generate", help="generate chat messages with an adapter, through the guardrails")
    p.add_argument("--adapter", type=Path, help="adapter directory (default: the latest trained adapter)")
    p.add_argument("--context", help="what the streamer just said (transcript text)")
    p.add_argument("--chat", action="append", default=[], metavar="LINE", help="a recent chat message (repeatable, oldest first)")
    p.add_argument("--vod", help="build the context from this VOD's stored tables ...")
    p.add_argument("--at", type=float, metavar="SECONDS", help="... at this moment (audio clock, seconds)")
    p.add_argument("--title", default="", help="stream title (only when the training data had one)")
    p.add_argument("--streamer", default="")
    p.add_argument("-n", type=int, default=3, help="how many messages (default 3)")
    p.add_argument("--seed", type=int, help="sampling seed (default: random)")
    p.add_argument("--temperature", type=float, help="override the adapter's sampling temperature")
    p.add_argument("--live", action="store_true", help="apply the rate limit between messages, as in a live chat")
    p.add_argument("--base-model", default="", help="base model directory (default: the one the adapter names)")
    p.add_argument("--json", action="store_true", help="one JSON object: messages, rejected, prompt")
    p.add_argument("--force", action="store_true", help="use an adapter whose beats_baselines check failed (or that was never evaluated)")
    p.set_defaults(func=cmd_generate)

    p = sub.add_parser("export-model", help="merge an adapter into its base model (safetensors); --gguf also writes a GGUF with llama.cpp's converter")
    p.add_argument("--adapter", type=Path, help="adapter directory (default: the latest trained adapter)")
    p.add_argument("--out", type=Path, required=True, help="new directory for the merged model")
    p.add_argument("--gguf", action="store_true", help="also write <out>/model-<outtype>.gguf ($LLAMA_CPP_DIR/convert_hf_to_gguf.py)")
    p.add_argument("--outtype", default="f16", help="GGUF type for the converter (f32, f16, bf16, q8_0)")
    p.add_argument("--base-model", default="")
    p.set_defaults(func=cmd_export)

    b = bench_sub.add_parser("train", help="LoRA training tokens/s and peak memory on synthetic pairs (CPU; and CUDA when present)")
    b.add_argument("--steps", type=int, default=10)
    b.add_argument("--batch-size", type=int, default=8)
    b.add_argument("--device", choices=("cpu", "cuda", "all"), default="all", help="default: cpu, plus cuda when present")
    b.add_argument("--compare", action="store_true", help="also run the previous CPU setup (all layers, gradient checkpointing, "
                   "96-token prompts) and print the speed-up")
    b.add_argument("--json", action="store_true")
    b.set_defaults(func=cmd_bench)


def _layout():
    from chatlab import config as cfg

    return cfg.layout().ensure()


def _latest_adapter(layout: Any) -> Path:
    from chatlab.train.pipeline import adapters_root, current_version

    d = adapters_root(layout) / current_version(layout)
    if not d.exists():
        raise FileNotFoundError(f"{d}: no adapter for the current training set; run `chatlab train` or pass --adapter")
    return d


def cmd_train(args: argparse.Namespace) -> int:
    import dagster as dg

    from chatlab.platform_cli import dagster_home
    from chatlab.runner import _error_text

    layout = _layout()
    dagster_home(layout)
    from chatlab.definitions import defs
    from chatlab.defs.train import TRAIN_JOB

    job = defs.resolve_job_def(TRAIN_JOB)
    selection = [dg.AssetKey(k) for k in args.only] if args.only else None
    instance = dg.DagsterInstance.get()
    print("training set -> adapter -> evaluation (progress in the Dagster UI, run logs)", flush=True)
    result = job.execute_in_process(instance=instance, asset_selection=selection, raise_on_error=False,
                                    run_config={"loggers": {"console": {"config": {"log_level": "INFO"}}}})
    for e in result.all_events:
        if e.is_step_failure:
            print(f"failed {e.step_key}: {_error_text(e.step_failure_data.error)}", file=sys.stderr)
    for check in result.get_asset_check_evaluations():
        state = "passed" if check.passed else "FAILED"
        print(f"check {check.check_name}: {state}" + (f" ({check.description})" if check.description else ""))
    for m in result.get_asset_materialization_events():
        md = m.materialization.metadata
        keys = [k for k in ("dataset_version", "pairs_train", "pairs_validation", "pairs_test", "train_seconds", "steps",
                            "best_eval_perplexity", "seconds") if k in md]
        print(f"{m.asset_key.to_user_string()}: " + ", ".join(f"{k}={md[k].value}" for k in keys))
        if "systems" in md:
            print(md["systems"].value)
    if any(c.check_name == "beats_baselines" and not c.passed for c in result.get_asset_check_evaluations()):
        from chatlab.train.pipeline import current_version, evaluation_dir

        print("beats_baselines failed (reasons above): the adapter is kept, and `chatlab generate` refuses it "
              f"unless given --force; per-moment figures and plots: {evaluation_dir(layout, current_version(layout))}",
              file=sys.stderr)
    return 0 if result.success else 1


def cmd_generate(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from chatlab import config as cfg
    from chatlab.train.generate import Filter, Guardrails, RateLimiter, Sampling, generate_messages
    from chatlab.train.lora import TRAIN_MESSAGES, TrainConfig, load_adapter_model
    from chatlab.train.prompt import Context

    layout = _layout()
    if args.vod is not None:
        if args.at is None:
            raise ValueError("--vod needs --at SECONDS")
        if args.context is not None:
            raise ValueError("give either --context or --vod/--at, not both")
        from chatlab.train.pipeline import context_at

        conf = cfg.load_config()
        c = context_at(layout, args.vod, args.at, cfg.section(conf, "align", args.vod))
        ctx = Context.of(c["transcript"], c["chat_context"], args.title, args.streamer)
    elif args.context is not None:
        ctx = Context.of(args.context, args.chat, args.title, args.streamer)
    else:
        raise ValueError("give --context TEXT (and --chat LINE...) or --vod ID --at SECONDS")
    adapter_dir = args.adapter or _latest_adapter(layout)
    from chatlab.train.pipeline import AdapterNotApproved, check_approved, check_not_forgotten

    check_not_forgotten(adapter_dir)  # --force does not reach past this one
    try:
        check_approved(layout, adapter_dir)
    except AdapterNotApproved as e:
        if not args.force:
            raise
        print(f"warning (--force): {e}", file=sys.stderr)
    model, tok, info = load_adapter_model(adapter_dir, layout.models, args.base_model)
    sampling = Sampling(**info.get("sampling", {}))
    if args.temperature is not None:
        sampling = replace(sampling, temperature=args.temperature)
    rails_cfg = info.get("guardrails") or {}
    rails = Guardrails(**{k: tuple(v) if isinstance(v, list) else v for k, v in rails_cfg.items()}) if rails_cfg else Guardrails()
    digests_path = Path(adapter_dir) / TRAIN_MESSAGES
    digests = json.loads(digests_path.read_text(encoding="utf-8")) if digests_path.exists() else []
    filt = Filter(rails, digests)
    tcfg = TrainConfig(**{k: v for k, v in info.get("train_config", {}).items() if k in TrainConfig.__dataclass_fields__})
    if args.live:
        import time

        limiter = RateLimiter(rails.max_per_minute, rails.min_interval_s)
        out_msgs, rejected = [], []
        for i in range(args.n):
            while (w := limiter.wait_s()) > 0:
                time.sleep(w)
            g = generate_messages(model, tok, ctx, n=1, sampling=sampling, rails=filt, max_prompt_tokens=tcfg.max_prompt_tokens,
                                  seed=None if args.seed is None else args.seed + 100 * i)
            limiter.allow()
            out_msgs += g.messages
            rejected += g.rejected
            if not args.json:
                for m in g.messages:
                    print(m, flush=True)
        prompt = g.prompt
    else:
        g = generate_messages(model, tok, ctx, n=args.n, sampling=sampling, rails=filt, max_prompt_tokens=tcfg.max_prompt_tokens, seed=args.seed)
        out_msgs, rejected, prompt = g.messages, g.rejected, g.prompt
        if not args.json:
            for m in out_msgs:
                print(m)
    if args.json:
        print(json.dumps({"messages": out_msgs, "rejected": [{"text": t, "reason": r} for t, r in rejected], "prompt": prompt}, ensure_ascii=False))
    elif rejected:
        print(f"({len(rejected)} rejected by the guardrails: {', '.join(sorted({r for _, r in rejected}))})", file=sys.stderr)
    return 0 if out_msgs else 1


def cmd_export(args: argparse.Namespace) -> int:
    from chatlab.train.export import find_converter, merge, to_gguf

    layout = _layout()
    adapter_dir = args.adapter or _latest_adapter(layout)
    if args.gguf and find_converter() is None:
        # Say so before the (slower) merge: the user may want to set $LLAMA_CPP_DIR first.
        print("note: llama.cpp's converter not found; writing the merged safetensors only", file=sys.stderr)
    out = merge(adapter_dir, layout.models, args.out, args.base_model)
    print(f"merged model: {out}")
    if args.gguf:
        gguf = to_gguf(out, out / f"model-{args.outtype}.gguf", args.outtype)
        print(f"gguf: {gguf}")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    import torch

    from chatlab.train.bench import PREVIOUS, bench_train, speedup

    layout = _layout()
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else []) if args.device == "all" else [args.device]
    results = []
    # --compare runs the previous setup on each device asked for, and compares like with like.
    runs = [(d, None) for d in devices] + ([(d, PREVIOUS) for d in devices] if args.compare else [])
    for d, over in runs:
        r = bench_train(layout.models, steps=args.steps, batch_size=args.batch_size, device=d, overrides=over)
        r["setup"] = "previous" if over else "current"
        results.append(r)
        if not args.json:
            print(f"[{r['setup']} setup]", end=" ")
            mem = f"peak CUDA {r['peak_cuda_mb']} MB, " if "peak_cuda_mb" in r else ""
            print(f"{d}: {r['tokens_per_second']} tokens/s, {r['seconds_per_step']} s/step (batch {r['batch_size']}, "
                  f"~{r['prompt_tokens_mean'] + r['completion_tokens_mean']:.0f} tokens/row), {mem}peak RSS {r['peak_rss_mb']} MB, "
                  f"{r['threads']} threads, QLoRA {r['qlora']}")
    if args.compare:
        for d in devices:
            ratio = speedup(results, d)
            if args.json:
                results.append({"device": d, "speedup_vs_previous": round(ratio, 2)})
            else:
                target = " (target: at least 2x)" if d == "cpu" else ""
                print(f"speed-up per step against the previous setup on {d}: {ratio:.2f}x{target}")
    if args.json:
        print(json.dumps(results))
    return 0
