"""Chat assets and their checks (issue: chat import)."""

import dagster as dg

defs = dg.Definitions()
