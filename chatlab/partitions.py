"""Partitions: one per VOD, added by the inbox sensor (or `chatlab materialize`)."""

from dagster import DynamicPartitionsDefinition

from chatlab.ingest.inbox import VOD_ID_RE, is_valid_vod_id, vod_id_from_stem

vods = DynamicPartitionsDefinition(name="vods")

__all__ = ["vods", "VOD_ID_RE", "is_valid_vod_id", "vod_id_from_stem"]
