"""Transcript assets and their checks (issue: transcript)."""

import dagster as dg

from chatlab.defs.asr.assets import transcript, transcript_tables
from chatlab.defs.asr.resources import AsrEngineResource

defs = dg.Definitions(assets=[transcript, transcript_tables], resources={"asr": AsrEngineResource()})

__all__ = ["defs", "AsrEngineResource", "transcript", "transcript_tables"]
