"""The review page (`chatlab review`): one VOD's audio, transcript and aligned chat on one
timeline, corrections saved as the per-VOD override that re-run it through Dagster, and the
model's chat beside the real chat of held-out streams. Pure data in ``timeline``/``data``; all
table reads in ``tables``; the web app in ``app``."""

DEFAULT_PORT = 8100


def page_url(vod_id: str, host: str = "127.0.0.1", port: int = DEFAULT_PORT) -> str:
    """The VOD's review page as `chatlab review` serves it by default (the link in `offsets`' metadata)."""
    return f"http://{host}:{port}/vod/{vod_id}"
