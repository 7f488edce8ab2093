"""Alignment: the chat clock against the audio clock (offsets), the training pairs built with it,
whole-VOD splits and the dataset export. Pure library: plain Polars frames in, frames and
dataclasses out; the Dagster layer (chatlab/defs/align) and the CLI call the same functions.

Reading order: config -> text -> activity -> anchors -> fit -> estimate (offsets), then
curve, context -> pairs, splits, export.
"""
