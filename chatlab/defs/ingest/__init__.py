"""Ingest: the inbox sensor, `vod_source` and `audio`."""

import dagster as dg

from chatlab.defs.ingest.audio import audio
from chatlab.defs.ingest.sensor import inbox_sensor
from chatlab.defs.ingest.vod_source import vod_source

defs = dg.Definitions(assets=[vod_source, audio])

__all__ = ["defs", "inbox_sensor"]
