"""The review page (`chatlab review`): one VOD's audio, transcript and aligned chat on one
timeline, corrections saved as the per-VOD override that re-run it through Dagster, and the
model's chat beside the real chat of held-out streams. Pure data in ``timeline``/``data``; all
table reads in ``tables``; the web app in ``app``."""
