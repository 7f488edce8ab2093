"""Chat OCR for VODs without a chat export (issue: chat from the picture)."""

import dagster as dg

from chatlab.defs.ocr.assets import OcrEngineResource, chat_ocr, messages_path

defs = dg.Definitions(assets=[chat_ocr], resources={"ocr": OcrEngineResource()})

__all__ = ["defs", "OcrEngineResource", "chat_ocr", "messages_path"]
