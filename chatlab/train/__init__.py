"""Training: the base model, the one prompt template, the training set, the LoRA adapter, its
evaluation against the base model, generation with guardrails, export and the training benchmark.

Pure library (no Dagster import): plain Polars frames, paths and dataclasses in and out; the
Dagster layer (chatlab/defs/train) and the CLI (chatlab/train/cli.py) call the same functions.
Heavy imports (torch, transformers, trl, peft) happen inside functions, so importing this package
is cheap.

Reading order: base -> prompt -> dataset -> lora -> evaluate -> generate -> export -> bench.
"""
