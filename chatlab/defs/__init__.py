"""The Dagster layer: one package per domain, each exposing ``defs`` (a ``Definitions``).
Algorithms live in the pure library; these modules wire them into assets, metadata and checks."""
