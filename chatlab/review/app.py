"""The review web app (Starlette, served by uvicorn): pages, their JSON/binary endpoints and media.

Security: ``chatlab review`` binds loopback by default; any other address needs a token, which
every request must then carry (``?token=`` once, then a cookie, or the ``X-Chatlab-Token``
header). Writes (POST) must come from the page's own origin. VOD ids are checked against
``[a-z0-9_-]{1,64}`` before they reach a path or SQL, and files are served only from the data
layout (the audio artifact, the VOD's recording inside the inbox, the package's static files).
"""

from __future__ import annotations

import contextlib
import hmac
import json
import math
from html import escape
from pathlib import Path
from typing import Any

import numpy as np
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from chatlab.config import Layout
from chatlab.review import data, overrides, rerun, tables
from chatlab.review.timeline import anchors, curve_of, speech_intervals

HERE = Path(__file__).parent
WAVESURFER = "vendor/wavesurfer.js-7.12.12/wavesurfer.min.js"
TOKEN_COOKIE = "chatlab_review_token"
MAX_ROWS = 2000


def _json(doc: Any, status: int = 200) -> JSONResponse:
    def clean(x: Any) -> Any:  # NaN is not JSON
        if isinstance(x, float) and not math.isfinite(x):
            return None
        if isinstance(x, dict):
            return {k: clean(v) for k, v in x.items()}
        if isinstance(x, (list, tuple)):
            return [clean(v) for v in x]
        return x
    return JSONResponse(clean(doc), status_code=status)


class Guard(BaseHTTPMiddleware):
    """Token (when one is set) and same-origin writes."""

    def __init__(self, app, token: str | None):
        super().__init__(app)
        self.token = token

    async def dispatch(self, request: Request, call_next):
        if self.token:
            given = request.query_params.get("token") or request.headers.get("x-chatlab-token") or request.cookies.get(TOKEN_COOKIE) or ""
            if not hmac.compare_digest(given.encode(), self.token.encode()):
                return Response("chatlab review: a token is required (open the address `chatlab review` printed)", 401)
        if request.method not in ("GET", "HEAD"):
            origin = request.headers.get("origin")
            if origin and origin.split("://", 1)[-1] != request.headers.get("host"):
                return Response("chatlab review: cross-origin write refused", 403)
        response = await call_next(request)
        if self.token and request.query_params.get("token"):
            response.set_cookie(TOKEN_COOKIE, self.token, httponly=True, samesite="strict")
        return response


def _page(name: str, **values: str) -> HTMLResponse:
    text = (HERE / "templates" / name).read_text(encoding="utf-8")
    for k, v in {"wavesurfer": f"/static/{WAVESURFER}", **values}.items():
        text = text.replace("{{" + k + "}}", escape(v))
    return HTMLResponse(text)


def build_app(layout: Layout, token: str | None = None, preload: str | None = None) -> Starlette:
    """The app for one data directory. Handlers are plain functions, so Starlette runs them in its
    thread pool: a slow read (the anchors of a million messages) never holds up the others."""

    def vod(request: Request) -> str:
        return data.check_vod_id(request.path_params["vod"])

    def index(request: Request):
        return _page("index.html")

    def vod_page(request: Request):
        return _page("vod.html", vod_id=vod(request))

    def eval_page(request: Request):
        return _page("eval.html")

    def api_vods(request: Request):
        return _json({"vods": data.vod_list(layout), "data": layout.root.name})

    def api_vod(request: Request):
        return _json(data.vod_summary(layout, vod(request)))

    def api_peaks(request: Request):
        v = vod(request)
        p = layout.artifact_dir(data.PEAKS_ASSET, v) / "peaks.bin"
        if not p.is_file():
            return _json({"error": f"no peaks for {v}: materialize review_peaks"}, 404)
        return FileResponse(p, media_type="application/octet-stream")

    def api_chat_bin(request: Request):
        """Every message's chat-clock time (float32), then one byte each: 0 dropped, 1 kept, 2 paired."""
        v = vod(request)
        chat = tables.chat_times(layout, v)
        if chat.height == 0:
            return Response(b"", media_type="application/octet-stream")
        t = chat["t_s"].to_numpy().astype("<f4")
        flag = chat["keep"].fill_null(False).to_numpy().astype(np.uint8)
        pairs = tables.per_vod(layout, "aligned_pairs", v, "msg_id")
        if pairs.height:
            flag[chat["msg_id"].is_in(pairs["msg_id"].implode()).to_numpy()] = 2
        return Response(t.tobytes() + flag.tobytes(), media_type="application/octet-stream",
                        headers={"x-messages": str(chat.height)})

    def api_messages(request: Request):
        v = vod(request)
        try:
            start = max(0, int(request.query_params.get("start", 0)))
            count = min(MAX_ROWS, max(0, int(request.query_params.get("count", 200))))
        except ValueError:
            return _json({"error": "start and count: expected integers"}, 400)
        rows = tables.chat_rows(layout, v, start, count)
        rows = rows.select("i", "t_s", "text", "user_hash", "keep", "drop_rule").rows() if rows.height else []
        return _json({"start": start, "rows": rows})

    def api_lanes(request: Request):
        v = vod(request)
        words = tables.per_vod(layout, "transcript_words", v, "start_s, end_s, word", "start_s")
        summary = data.vod_summary(layout, v)
        return _json({"speech": speech_intervals(words),
                      "words": {"start": words["start_s"].round(3).to_list(), "end": words["end_s"].round(3).to_list(),
                                "word": words["word"].to_list()} if words.height else {"start": [], "end": [], "word": []},
                      "duration_s": summary["duration_s"]})

    def api_anchors(request: Request):
        v = vod(request)
        words = tables.per_vod(layout, "transcript_words", v, "vod_id, seg_id, word_idx, start_s, end_s, word", "start_s")
        chat = tables.chat(layout, v)
        curve = curve_of(data.offsets_row(layout, v))
        return _json({"anchors": anchors(words, chat, curve, data.align_config(layout, v))})

    def api_message(request: Request):
        v = vod(request)
        try:
            i = int(request.path_params["i"])
        except ValueError:
            return _json({"error": "message index: expected an integer"}, 400)
        return _json(data.message_detail(layout, v, i))

    async def api_save(request: Request):
        v = vod(request)
        try:
            body = json.loads(await request.body() or b"{}")
        except ValueError:
            return _json({"error": "expected a JSON body"}, 400)
        if not isinstance(body, dict):
            return _json({"error": "expected a JSON object"}, 400)
        return await run_in_threadpool(_save, v, body)

    def _save(v: str, body: dict[str, Any]):
        try:
            saved = overrides.save(layout, v, body.get("align"), str(body.get("status") or ""), str(body.get("note") or ""))
        except ValueError as e:
            return _json({"error": str(e)}, 400)
        out: dict[str, Any] = {"saved": saved, "file": str(layout.review_overrides.relative_to(layout.root))}
        if body.get("rerun", True):
            try:
                out["rerun"] = rerun.start(layout, v)
            except RuntimeError as e:
                out["rerun_error"] = str(e)
        return _json(out)

    def api_rerun(request: Request):
        return _json(rerun.read(layout, vod(request)))

    def api_eval(request: Request):
        return _json(data.evaluation_view(layout))

    def media(request: Request):
        v = vod(request)
        kind = request.path_params["kind"]
        paths = data.media_paths(layout, v)
        if kind not in ("audio", "video") or kind not in paths:
            return _json({"error": f"{v}: no {kind}"}, 404)
        return FileResponse(paths[kind])

    async def lookup_error(request: Request, exc: Exception):
        return _json({"error": str(exc)}, 404)

    async def busy(request: Request, exc: Exception):
        return _json({"error": str(exc)}, 503)

    routes = [
        Route("/", index), Route("/vod/{vod}", vod_page), Route("/eval", eval_page),
        Route("/api/vods", api_vods), Route("/api/eval", api_eval),
        Route("/api/vod/{vod}", api_vod), Route("/api/vod/{vod}/peaks.bin", api_peaks),
        Route("/api/vod/{vod}/chat.bin", api_chat_bin), Route("/api/vod/{vod}/messages", api_messages),
        Route("/api/vod/{vod}/lanes", api_lanes), Route("/api/vod/{vod}/anchors", api_anchors),
        Route("/api/vod/{vod}/message/{i}", api_message),
        Route("/api/vod/{vod}/save", api_save, methods=["POST"]), Route("/api/vod/{vod}/rerun", api_rerun),
        Route("/media/{vod}/{kind}", media),
        Mount("/static", app=StaticFiles(directory=HERE / "static"), name="static"),
    ]
    @contextlib.asynccontextmanager
    async def lifespan(app):
        # attach the tables (and read the VOD the command named) before the server says it is up
        await run_in_threadpool(tables.table_names, layout)
        if preload:
            await run_in_threadpool(data.vod_summary, layout, preload)
        yield

    return Starlette(routes=routes, middleware=[Middleware(Guard, token=token)], lifespan=lifespan,
                     exception_handlers={LookupError: lookup_error, tables.TablesBusy: busy})
