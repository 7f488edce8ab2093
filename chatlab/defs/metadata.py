"""Metadata a person reads in the UI: small tables and pictures as Markdown."""

import base64

import dagster as dg
import polars as pl


def table_md(df: pl.DataFrame) -> dg.MetadataValue:
    """A frame as a Markdown table (floats to 3 decimals, pipes in text escaped)."""

    def cell(v: object) -> str:
        return f"{v:.3f}" if isinstance(v, float) else str(v).replace("|", "\\|")

    head = "| " + " | ".join(df.columns) + " |\n|" + "---|" * len(df.columns)
    rows = ["| " + " | ".join(cell(v) for v in r) + " |" for r in df.iter_rows()]
    return dg.MetadataValue.md("\n".join([head, *rows]))


def counts_md(counts: dict[str, int], head: str, value: str = "messages") -> dg.MetadataValue:
    return table_md(pl.DataFrame({head: list(counts), value: list(counts.values())}, schema={head: pl.String, value: pl.Int64}))


def png_md(png: bytes, alt: str) -> dg.MetadataValue:
    """A PNG inlined as a data URL, so the UI shows the picture in the asset's metadata."""
    return dg.MetadataValue.md(f"![{alt}](data:image/png;base64,{base64.b64encode(png).decode()})")
