"""Twitch GQL comment shapes as other archivers save them.

A comment node: ``{id, createdAt, contentOffsetSeconds, commenter{id, login, displayName},
message{fragments[{text, emote{emoteID}}], userBadges[{setID, version}], userColor}}``,
often with ``__typename`` fields and without a body (rebuilt from the fragments). Files hold
a list of nodes, of edges (``{node: ...}``), or of whole GQL pages
(``{data: {video: {comments: {edges: [...]}}}}``); ``flatten`` turns all of them into nodes.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

COLUMNS = {
    "id": "VARCHAR",
    "createdAt": "VARCHAR",
    "contentOffsetSeconds": "DOUBLE",
    "commenter": "STRUCT(id VARCHAR, login VARCHAR, displayName VARCHAR)",
    "message": (
        "STRUCT(body VARCHAR, fragments STRUCT(text VARCHAR, emote STRUCT(emoteID VARCHAR, id VARCHAR))[],"
        " userBadges STRUCT(setID VARCHAR, version VARCHAR)[], bitsSpent BIGINT)"
    ),
}

SELECT = """
SELECT id AS msg_id,
       contentOffsetSeconds AS t_s,
       TRY_CAST(createdAt AS TIMESTAMPTZ) AS t_abs,
       coalesce(commenter.displayName, commenter.login) AS "user",
       lower(commenter.login) AS user_login,
       commenter.id AS user_id,
       list_filter(list_transform(message.userBadges, lambda b: b.setID), lambda x: x IS NOT NULL) AS badges,
       coalesce(message.body, CASE WHEN len(message.fragments) > 0 THEN array_to_string(list_transform(message.fragments, lambda f: f.text), '') END) AS text,
       list_filter(list_transform(message.fragments, lambda f, i:
           CASE WHEN coalesce(f.emote.emoteID, f.emote.id) IS NOT NULL THEN {{
             'id': coalesce(f.emote.emoteID, f.emote.id),
             'begin': length(array_to_string(list_transform(message.fragments[1:i-1], lambda g: g.text), '')),
             'end': length(array_to_string(list_transform(message.fragments[1:i], lambda g: g.text), ''))}} END),
         lambda x: x IS NOT NULL) AS emotes,
       coalesce(message.bitsSpent, 0) AS bits,
       'chat' AS msg_type
FROM {src}
"""


def flatten(record: Any) -> Iterator[dict]:
    """Comment nodes inside a record that may be a node, an edge or a GQL page (or a list of those)."""
    if isinstance(record, list):
        for r in record:
            yield from flatten(r)
        return
    if not isinstance(record, dict):
        return
    if "contentOffsetSeconds" in record or ("message" in record and "commenter" in record):
        yield record
        return
    if isinstance(record.get("node"), dict):
        yield from flatten(record["node"])
        return
    for key in ("data", "video", "comments", "edges"):
        if key in record:
            yield from flatten(record[key])
            return


def needs_flatten(first_record: bytes) -> bool:
    head = first_record[:2000]
    return b'"contentOffsetSeconds"' not in head or head.lstrip().startswith((b'{"node"', b'{"data"', b'{"cursor"'))
