"""Transcript assets and their checks (issue: transcript)."""

import dagster as dg

defs = dg.Definitions()
