"""OCR of chat rendered inside the video, for VODs without a chat export (no dagster import).

    from chatlab.ocr import read_video
    result = read_video("vod.mp4", region="420,0,220,360")   # or region=None: found automatically
    for m in result.messages: print(m.t_s, m.user, m.text, m.confidence)
"""

from chatlab.ocr.dedupe import OcrMessage
from chatlab.ocr.frames import VideoError
from chatlab.ocr.reader import OcrResult, ReadOptions, read_video
from chatlab.ocr.region import Region, RegionError, parse_region

__all__ = ["OcrMessage", "OcrResult", "ReadOptions", "Region", "RegionError", "VideoError", "parse_region", "read_video"]
