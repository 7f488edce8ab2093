"""OCR'd messages in the normalized chat schema (chatlab.chat.schema.MESSAGE), source_format "ocr",
so they go into the same `chat` table as parsed exports; confidence and notes go in a side table."""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from chatlab.chat.parse import finalize
from chatlab.chat.privacy import hash_users
from chatlab.chat.schema import KNOWN_BOTS, MESSAGE, PARSED, empty
from chatlab.ocr.dedupe import OcrMessage

SOURCE_FORMAT = "ocr"
CHAT_COLUMNS: dict[str, pl.DataType] = {"vod_id": pl.String, **MESSAGE}
DETAIL_COLUMNS: dict[str, pl.DataType] = {"vod_id": pl.String, "msg_id": pl.String, "t_s": pl.Float64,
                                          "seen_s": pl.Float64, "confidence": pl.Float64, "note": pl.String}


def messages_frame(vod_id: str, messages: Sequence[OcrMessage], source_file: str, salt: str,
                   bots: frozenset[str] | set[str] = KNOWN_BOTS) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(chat rows, detail rows): the chat rows in CHAT_COLUMNS order (vod_id first, as the `chat`
    table has them); stable msg_ids from time, user and text, as for exports without ids."""
    if not messages:
        return empty(CHAT_COLUMNS), empty(DETAIL_COLUMNS)
    rows = [{"msg_id": None, "t_s": m.t_s, "t_abs": None, "user": m.user or None,
             "user_login": m.user.lower() if m.user else None, "user_id": None, "badges": [], "text": m.text,
             "emotes": [], "bits": 0, "msg_type": "chat", "moderated": False, "source_line": None,
             "source_index": i} for i, m in enumerate(messages)]
    parsed = pl.DataFrame(rows, schema=PARSED)
    msgs = finalize(parsed, SOURCE_FORMAT, source_file, bots)
    msgs = msgs.with_columns(hash_users(msgs, salt))
    chat = msgs.with_columns(pl.lit(vod_id, pl.String).alias("vod_id")).select([pl.col(c).cast(t) for c, t in CHAT_COLUMNS.items()])
    by_index = {i: m for i, m in enumerate(messages)}
    detail = pl.DataFrame(
        [{"vod_id": vod_id, "msg_id": mid, "t_s": by_index[i].t_s, "seen_s": by_index[i].seen_s,
          "confidence": by_index[i].confidence, "note": by_index[i].note}
         for mid, i in zip(msgs["msg_id"], msgs["source_index"])],
        schema=DETAIL_COLUMNS,
    )
    return chat, detail
