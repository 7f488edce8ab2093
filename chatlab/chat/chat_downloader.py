"""chat-downloader (xenova) JSON and JSONL items.

An item: ``{message_id, message, message_type, timestamp (UNIX µs), time_in_seconds (VODs
only), time_text, author{id, name, display_name, badges[{name, title, version}]},
emotes[{id, name, locations: ["0-4", ...]}], bits?}``.
"""

from __future__ import annotations

COLUMNS = {
    "message_id": "VARCHAR",
    "message": "VARCHAR",
    "message_type": "VARCHAR",
    "timestamp": "DOUBLE",
    "time_in_seconds": "DOUBLE",
    "author": "STRUCT(id VARCHAR, name VARCHAR, display_name VARCHAR, badges STRUCT(name VARCHAR, title VARCHAR)[])",
    "emotes": "STRUCT(id VARCHAR, name VARCHAR, locations VARCHAR[])[]",
    "bits": "BIGINT",
}

SELECT = """
SELECT message_id AS msg_id,
       time_in_seconds AS t_s,
       CASE WHEN "timestamp" IS NULL THEN NULL
            WHEN "timestamp" > 1e14 THEN make_timestamptz(CAST("timestamp" AS BIGINT))
            WHEN "timestamp" > 1e11 THEN make_timestamptz(CAST("timestamp" * 1000 AS BIGINT))
            ELSE make_timestamptz(CAST("timestamp" * 1000000 AS BIGINT)) END AS t_abs,
       coalesce(author.display_name, author.name) AS "user",
       lower(author.name) AS user_login,
       author.id AS user_id,
       list_transform(author.badges, lambda b: lower(coalesce(b.name, b.title))) AS badges,
       message AS text,
       flatten(list_transform(emotes, lambda e: list_transform(e.locations, lambda l: {{
           'id': coalesce(e.id, e.name),
           'begin': TRY_CAST(split_part(l, '-', 1) AS INTEGER),
           'end': TRY_CAST(split_part(l, '-', 2) AS INTEGER) + 1}}))) AS emotes,
       coalesce(bits, 0) AS bits,
       CASE WHEN message_type IS NULL OR message_type = 'text_message' THEN 'chat' ELSE 'notice' END AS msg_type
FROM {src}
"""
