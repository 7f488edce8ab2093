"""YouTube live chat as YouTube's own actions: yt-dlp's ``*.live_chat.json`` and raw responses.

yt-dlp writes one JSON object per line: ``{"replayChatItemAction": {"actions": [{"addChatItemAction":
{"item": {"liveChatTextMessageRenderer": {...}}}}], "videoOffsetTimeMsec": "1234"}}``. A renderer
has ``id``, ``timestampUsec`` (wall clock, µs), ``authorName.simpleText``,
``authorExternalChannelId``, ``authorBadges`` and ``message.runs``: text runs and emoji runs
(a custom emoji's shortcut ``:name:`` or a standard emoji's character, kept as an emote span).
Super chats, stickers, memberships and gifted memberships become ``notice`` messages; deletions
(``markChatItemAsDeletedAction``, ``markChatItemsByAuthorAsDeletedAction``) mark messages as
moderated; tickers, placeholders and system banners are counted, not messages. The same actions
inside a whole response, or a plain list of actions, are read the same way.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Iterator
from datetime import datetime, timezone
from typing import Any

import polars as pl

from chatlab.chat.schema import EMOTE

NOTICES = {
    "liveChatPaidMessageRenderer": "super chat",
    "liveChatPaidStickerRenderer": "super sticker",
    "liveChatMembershipItemRenderer": "membership",
    "liveChatSponsorshipsGiftPurchaseAnnouncementRenderer": "gifted memberships",
    "liveChatSponsorshipsGiftRedemptionAnnouncementRenderer": "gift received",
    "liveChatDonationAnnouncementRenderer": "donation",
}
BADGE_ICONS = {"OWNER": "broadcaster", "MODERATOR": "moderator", "VERIFIED": "verified"}

SCHEMA = {"msg_id": pl.String, "t_s": pl.Float64, "t_abs": pl.Datetime("us", "UTC"), "user": pl.String, "user_login": pl.String,
          "user_id": pl.String, "badges": pl.List(pl.String), "text": pl.String, "emotes": pl.List(EMOTE), "msg_type": pl.String,
          "moderated": pl.Boolean, "source_line": pl.Int64, "source_index": pl.Int64}


def actions(obj: Any, offset_ms: float | None = None, depth: int = 0) -> Iterator[tuple[float | None, dict]]:
    """(video offset in ms or None, action) for every chat action inside obj."""
    if depth > 12:
        return
    if isinstance(obj, list):
        for x in obj:
            yield from actions(x, offset_ms, depth + 1)
        return
    if not isinstance(obj, dict):
        return
    rep = obj.get("replayChatItemAction")
    if isinstance(rep, dict):
        try:
            off = float(rep.get("videoOffsetTimeMsec"))
        except (TypeError, ValueError):
            off = None
        yield from actions(rep.get("actions"), off, depth + 1)
        return
    if any(k.endswith("Action") and k != "replayChatItemAction" for k in obj):
        yield offset_ms, obj
        return
    for v in obj.values():
        if isinstance(v, (dict, list)):
            yield from actions(v, offset_ms, depth + 1)


def runs_text(field: Any) -> tuple[str, list[dict]]:
    """Text of a ``{runs: [...]}`` or ``{simpleText}`` field and the emoji spans in it."""
    if not isinstance(field, dict):
        return "", []
    if isinstance(field.get("simpleText"), str):
        return field["simpleText"], []
    out, emotes, pos = [], [], 0
    for r in field.get("runs") or []:
        if not isinstance(r, dict):
            continue
        if isinstance(r.get("text"), str):
            s = r["text"]
        elif isinstance(r.get("emoji"), dict):
            e = r["emoji"]
            sc = e.get("shortcuts") or []
            s = sc[0] if e.get("isCustomEmoji") and sc else (e.get("emojiId") or (sc[0] if sc else ""))
            emotes.append({"id": str(e.get("emojiId") or s), "begin": pos, "end": pos + len(s)})
        else:
            continue
        out.append(s)
        pos += len(s)
    return "".join(out), emotes


def _badges(r: dict) -> list[str]:
    out = []
    for b in r.get("authorBadges") or []:
        br = b.get("liveChatAuthorBadgeRenderer") if isinstance(b, dict) else None
        if not isinstance(br, dict):
            continue
        icon = (br.get("icon") or {}).get("iconType")
        if icon in BADGE_ICONS:
            out.append(BADGE_ICONS[icon])
        elif br.get("customThumbnail") is not None:
            out.append("subscriber")  # a channel member's badge
    return out


def parse_records(records: Iterable[tuple[int, Any]], stats: Counter, rejects: list[dict], line_based: bool) -> pl.DataFrame:
    """(index, decoded JSON record) pairs -> PARSED rows (with moderation applied)."""
    rows: list[dict] = []
    deleted_ids: set[str] = set()
    deleted_authors: set[str] = set()
    for idx, rec in records:
        found = False
        for off, act in actions(rec):
            found = True
            add = act.get("addChatItemAction")
            if isinstance(act.get("markChatItemAsDeletedAction"), dict):
                deleted_ids.add(str(act["markChatItemAsDeletedAction"].get("targetItemId")))
                stats["moderation_events"] += 1
                continue
            if isinstance(act.get("markChatItemsByAuthorAsDeletedAction"), dict):
                deleted_authors.add(str(act["markChatItemsByAuthorAsDeletedAction"].get("externalChannelId")))
                stats["moderation_events"] += 1
                continue
            if not isinstance(add, dict) or not isinstance(add.get("item"), dict) or not add["item"]:
                name = next((k for k in act if k.endswith("Action")), "action")
                stats[f"not_a_message_youtube_{name}"] += 1
                continue
            kind, r = next(iter(add["item"].items()))
            if not isinstance(r, dict):
                rejects.append({"source_index": idx, "reason": "bad_types: chat item is not an object", "raw": json.dumps(act)[:4000]})
                continue
            if kind != "liveChatTextMessageRenderer" and kind not in NOTICES:
                stats[f"not_a_message_youtube_{kind}"] += 1
                continue
            text, emotes = runs_text(r.get("message") or (r.get("text") if kind in NOTICES else None))
            if kind in NOTICES:
                head = (r.get("purchaseAmountText") or {}).get("simpleText") or runs_text(r.get("headerSubtext") or r.get("headerPrimaryText") or r.get("subtext"))[0]
                if kind == "liveChatSponsorshipsGiftPurchaseAnnouncementRenderer":
                    head = runs_text(((r.get("header") or {}).get("liveChatSponsorshipsHeaderRenderer") or {}).get("primaryText"))[0]
                label = f"[{NOTICES[kind]}{': ' + head if head else ''}]"
                emotes = [{**e, "begin": e["begin"] + len(label) + 1, "end": e["end"] + len(label) + 1} for e in emotes] if text else []
                text = f"{label} {text}" if text else label
            ts = r.get("timestampUsec")
            try:
                t_abs = datetime.fromtimestamp(int(ts) / 1e6, timezone.utc) if ts is not None else None
            except (TypeError, ValueError, OverflowError):
                t_abs = None
            t_s = off / 1000.0 if off is not None else None
            if t_s is None and t_abs is None:
                rejects.append({"source_index": idx, "reason": "no_time: no videoOffsetTimeMsec and no timestampUsec", "raw": json.dumps(act, ensure_ascii=False)[:4000]})
                continue
            author = r.get("authorName")
            user = author.get("simpleText") if isinstance(author, dict) else None
            if not text and kind == "liveChatTextMessageRenderer":
                rejects.append({"source_index": idx, "reason": "no_text: a text message without runs", "raw": json.dumps(act, ensure_ascii=False)[:4000]})
                continue
            rows.append({"msg_id": r.get("id"), "t_s": t_s, "t_abs": t_abs, "user": user or r.get("authorExternalChannelId"),
                         "user_login": (user or "").lstrip("@").lower() or None, "user_id": r.get("authorExternalChannelId"),
                         "badges": _badges(r), "text": text, "emotes": emotes,
                         "msg_type": "chat" if kind == "liveChatTextMessageRenderer" else "notice", "moderated": False,
                         "source_line": idx + 1 if line_based else None, "source_index": idx})
        if not found:
            stats["not_a_message_youtube_record"] += 1
    df = pl.DataFrame(rows, schema=SCHEMA) if rows else pl.DataFrame(schema=SCHEMA)
    if deleted_ids or deleted_authors:
        df = df.with_columns((pl.col("msg_id").is_in(sorted(deleted_ids)) | pl.col("user_id").is_in(sorted(deleted_authors))).alias("moderated"))
    return df
