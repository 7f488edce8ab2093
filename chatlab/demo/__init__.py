"""Demo streams with known ground truth: speech (hibari TTS), chat reacting to it, a video.

Pure Python (no Dagster); ``chatlab demo`` and the tests call it, benchmarks score against the
``<name>.truth.json`` it writes.
"""

from .generate import DemoStream, make_demo, make_demo_stream
from .truth import read_truth

__all__ = ["DemoStream", "make_demo", "make_demo_stream", "read_truth"]
