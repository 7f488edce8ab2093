"""OCR engines: PP-OCR models through ONNX Runtime (``rapidocr-onnxruntime``, bundled, offline), or
PaddleOCR itself when it and its model directories are installed.

Two calls: ``recognize`` reads already-cut text lines (recognition model only; what the
incremental reader uses), ``read_page`` detects and reads every line of a picture (the naive
baseline, and a fallback).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np


@dataclass(frozen=True)
class PageLine:
    box: tuple[int, int, int, int]  # x0, y0, x1, y1 in the input picture
    text: str
    confidence: float


class OcrEngine(Protocol):
    name: str
    version: str

    def recognize(self, lines: list[np.ndarray]) -> list[tuple[str, float]]: ...

    def read_page(self, image: np.ndarray) -> list[PageLine]: ...


def _threads(threads: int | None) -> int:
    return threads or min(4, os.cpu_count() or 1)


class RapidOcrEngine:
    """PP-OCRv4 det/rec from the rapidocr-onnxruntime wheel (its models ship inside it)."""

    name = "rapidocr-onnxruntime"

    def __init__(self, threads: int | None = None) -> None:
        try:
            from rapidocr_onnxruntime import RapidOCR
        except ImportError as e:  # pragma: no cover - a dependency of chatlab
            raise RuntimeError("OCR backend 'rapidocr' needs the package rapidocr-onnxruntime==1.4.4 "
                               "(a chatlab dependency: reinstall chatlab)") from e
        from importlib.metadata import version

        n = _threads(threads)
        self._ocr = RapidOCR(intra_op_num_threads=n, inter_op_num_threads=1)
        self.version = f"{version('rapidocr-onnxruntime')} PP-OCRv4"

    def recognize(self, lines: list[np.ndarray]) -> list[tuple[str, float]]:
        if not lines:
            return []
        res, _ = self._ocr.text_rec(lines)
        return [(str(t), float(c)) for t, c in res]

    def read_page(self, image: np.ndarray) -> list[PageLine]:
        res, _ = self._ocr(image, use_cls=False)
        out = []
        for box, text, conf in res or []:
            xs = [p[0] for p in box]
            ys = [p[1] for p in box]
            out.append(PageLine((int(min(xs)), int(min(ys)), int(max(xs)), int(max(ys))), str(text), float(conf)))
        return out


class PaddleOcrEngine:
    """PaddleOCR (paddlepaddle) with local model directories: ``det_model_dir`` and
    ``rec_model_dir`` in ``[ocr]``. Optional; a clear error says what is missing."""

    name = "paddleocr"

    def __init__(self, det_model_dir: str = "", rec_model_dir: str = "", threads: int | None = None, **_: Any) -> None:
        try:
            from paddleocr import PaddleOCR  # type: ignore[import-not-found]
        except ImportError as e:
            raise RuntimeError("OCR backend 'paddleocr' is not installed: `pip install paddleocr paddlepaddle` and set "
                               "[ocr] det_model_dir and rec_model_dir to local PP-OCR model folders; "
                               "or use the default backend 'rapidocr' (bundled, offline)") from e
        missing = [k for k, v in (("det_model_dir", det_model_dir), ("rec_model_dir", rec_model_dir))
                   if not v or not os.path.isdir(v)]
        if missing:
            raise RuntimeError(f"OCR backend 'paddleocr' needs local model folders (nothing is downloaded): "
                               f"set [ocr] {' and '.join(missing)} to existing directories")
        from importlib.metadata import version

        self._ocr = PaddleOCR(det_model_dir=det_model_dir, rec_model_dir=rec_model_dir, use_angle_cls=False,
                              lang="en", show_log=False, cpu_threads=_threads(threads))
        self.version = version("paddleocr")

    def recognize(self, lines: list[np.ndarray]) -> list[tuple[str, float]]:
        out = []
        for img in lines:
            res = self._ocr.ocr(img, det=False, cls=False)
            (text, conf) = res[0][0] if res and res[0] else ("", 0.0)
            out.append((str(text), float(conf)))
        return out

    def read_page(self, image: np.ndarray) -> list[PageLine]:
        res = self._ocr.ocr(image, cls=False)
        out = []
        for box, (text, conf) in (res[0] or []) if res else []:
            xs = [p[0] for p in box]
            ys = [p[1] for p in box]
            out.append(PageLine((int(min(xs)), int(min(ys)), int(max(xs)), int(max(ys))), str(text), float(conf)))
        return out


BACKENDS = ("rapidocr", "paddleocr")


def make_engine(backend: str = "rapidocr", **options: Any) -> OcrEngine:
    """An engine by name; ValueError for an unknown name, RuntimeError when one is not available."""
    if backend in ("rapidocr", "rapidocr-onnxruntime", "onnx"):
        return RapidOcrEngine(threads=options.get("threads"))
    if backend in ("paddleocr", "paddle"):
        return PaddleOcrEngine(**options)
    raise ValueError(f"unknown OCR backend {backend!r}; choose one of {', '.join(BACKENDS)}")
