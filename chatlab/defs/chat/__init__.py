"""Chat assets and their checks (issue: chat import)."""

import dagster as dg

from chatlab.defs.chat.assets import chat_clean, chat_import

defs = dg.Definitions(assets=[chat_import, chat_clean])

__all__ = ["defs", "chat_import", "chat_clean"]
