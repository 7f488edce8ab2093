"""Partitions: one per VOD, added by the inbox sensor (or `chatlab materialize`)."""

import dagster as dg
from dagster import DynamicPartitionsDefinition

from chatlab.ingest.inbox import VOD_ID_RE, is_valid_vod_id, vod_id_from_stem

vods = DynamicPartitionsDefinition(name="vods")


def vod_partition(context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext) -> str:
    """The run's VOD id, refused before it reaches a path or SQL when it is not a valid id.

    The Dagster UI lets anyone add a partition by hand, so a key is only trusted once checked.
    """
    key = context.partition_key
    if not is_valid_vod_id(key):
        raise dg.Failure(description=f"partition key {key!r} is not a VOD id (expected 1-64 of a-z, 0-9, _ and -); nothing was read or written")
    return key


__all__ = ["vods", "vod_partition", "VOD_ID_RE", "is_valid_vod_id", "vod_id_from_stem"]
