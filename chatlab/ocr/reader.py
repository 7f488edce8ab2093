"""Read the chat of a video: sample the chat region, follow the scroll, OCR only what is new.

For each sampled frame (``fps``, default 1):

- the same picture as before (to compression noise): skipped, nothing is recognised;
- a clean upward scroll by dy: only the lines below the old content are recognised, and each new
  message's first-seen time is placed on the frame (between the two samples) where the scroll had
  reached it;
- anything else (first frame, a redraw, more than a panel of new chat): the whole panel is read and
  aligned to the history (dedupe.overlap), so nothing is counted twice.

``read_naive`` is the baseline the benchmark compares with: full-page detection + recognition of
the whole panel on every sampled frame, the same line grouping and the same de-duplication.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from chatlab.ocr import lines as L
from chatlab.ocr.dedupe import OcrMessage, canonical_users, overlap
from chatlab.ocr.engine import OcrEngine
from chatlab.ocr.frames import Sample, probe, sample_region
from chatlab.ocr.region import Detection, Region, detect_region, fit_region, parse_region
from chatlab.ocr.scroll import estimate_scroll, gray

MAX_PROBLEMS = 200  # problems kept verbatim; the rest are counted


@dataclass(frozen=True)
class ReadOptions:
    fps: float = 1.0
    scale: float = 3.0  # line upscaling before recognition (>= 2: small text keeps its spaces)
    min_confidence: float = 0.75  # below: the message is kept with a note
    refine: bool = True  # place first-seen times between samples
    start_s: float = 0.0
    end_s: float | None = None
    probe_s: float = 120.0  # how much video region detection looks at

    @classmethod
    def from_mapping(cls, conf: dict[str, Any]) -> "ReadOptions":
        known = {k: conf[k] for k in cls.__dataclass_fields__ if k in conf}
        opts = cls(**known)
        if opts.fps <= 0:
            raise ValueError(f"[ocr] fps must be > 0, got {opts.fps}")
        if not 1.0 <= opts.scale <= 6.0:
            raise ValueError(f"[ocr] scale must be between 1 and 6, got {opts.scale}")
        return opts


@dataclass
class OcrResult:
    video: Path
    region: Region
    region_method: str
    region_note: str
    mode: str
    messages: list[OcrMessage] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> str:
        s = self.stats
        return (f"{self.video.name}: {len(self.messages)} messages from {s.get('samples', 0)} frames "
                f"({s.get('still', 0)} unchanged, {s.get('scrolls', 0)} scrolls, {s.get('full_reads', 0)} full reads, "
                f"{s.get('bad_frames', 0)} unreadable), {s.get('lines_read', 0)} lines recognised, "
                f"{s.get('elapsed_s', 0):.1f} s = {s.get('speed_x', 0):.1f}x real time; region {self.region} "
                f"({self.region_method}); {s.get('problems', 0)} problems")


def resolve_region(video: Path, region: str | Region | None, probe_s: float = 120.0) -> Detection:
    """The configured region fitted to the frame, or the detected one (RegionError when neither works)."""
    info = probe(video)
    if region is not None and region != "":
        r = region if isinstance(region, Region) else parse_region(region)
        fitted, note = fit_region(r, info.width, info.height)
        return Detection(fitted, "config", 1.0, 0, note or "")
    return detect_region(video, probe_s=probe_s)


class ChatReader:
    """The incremental reader; feed it samples in time order, then ``finish()``."""

    def __init__(self, engine: OcrEngine, options: ReadOptions = ReadOptions()) -> None:
        self.engine = engine
        self.opt = options
        self.history: list[OcrMessage] = []
        self.problems: list[str] = []
        self.n_problems = 0
        self.stats = {"samples": 0, "still": 0, "scrolls": 0, "full_reads": 0, "bad_frames": 0, "lines_read": 0,
                      "ocr_s": 0.0, "orphan_lines": 0}
        self._prev: tuple[np.ndarray, np.ndarray, int] | None = None  # rgb, grey, bottom of the last line

    # -- bookkeeping ---------------------------------------------------------------------------------
    def problem(self, msg: str) -> None:
        self.n_problems += 1
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(msg)

    def _recognize(self, panel: L.Panel, lines: list[L.Line]) -> None:
        if not lines:
            return
        crops = [L.line_crop(panel, ln, scale=self.opt.scale) for ln in lines]
        t0 = time.perf_counter()
        res = self.engine.recognize(crops)
        self.stats["ocr_s"] += time.perf_counter() - t0
        self.stats["lines_read"] += len(lines)
        for ln, (text, conf) in zip(lines, res):
            ln.text, ln.confidence = text, conf

    def _emit(self, msg: L.PanelMessage, t: float, seen: float) -> None:
        note = msg.problem
        if msg.confidence < self.opt.min_confidence:
            low = f"low confidence {msg.confidence:.2f} (unclear text, emotes, or a script the model does not read)"
            note = f"{note}; {low}" if note else low
        if note:
            self.problem(f"{seen:.1f} s: {note}: {msg.user or '?'}: {msg.text[:60]!r}")
        self.history.append(OcrMessage(round(t, 3), msg.user, msg.text, msg.confidence, round(seen, 3), note))

    # -- frames ----------------------------------------------------------------------------------------
    def _usable(self, sample: Sample) -> bool:
        """Count the sample; a frame that failed to decode is recorded and skipped."""
        self.stats["samples"] += 1
        if sample.error or sample.image is None:
            self.stats["bad_frames"] += 1
            self.problem(sample.error or f"{sample.t_s:.2f} s: empty frame")
            return False
        return True

    def feed(self, sample: Sample) -> None:
        if not self._usable(sample):
            return
        img = sample.image
        g = gray(img)
        if self._prev is not None and self._prev[1].shape != g.shape:
            self.problem(f"{sample.t_s:.2f} s: frame size changed {self._prev[1].shape} -> {g.shape}; reading it whole")
            self._prev = None
        if self._prev is None:
            self._full(img, g, sample, first=True)
            return
        s = estimate_scroll(self._prev[1], g, max_dy=max(0, self._prev[2] - 4))
        if s.kind == "still":
            self.stats["still"] += 1
            return
        if s.kind == "scroll":
            self._scrolled(img, g, s.dy, sample)
        else:
            self._full(img, g, sample)

    def _scrolled(self, img: np.ndarray, g: np.ndarray, dy: int, sample: Sample) -> None:
        self.stats["scrolls"] += 1
        assert self._prev is not None
        prev_rgb, prev_g, prev_bottom = self._prev
        panel = L.analyse(img)
        boundary = prev_bottom - dy  # the old content ends here now
        new = [ln for ln in panel.lines if ln.bottom > boundary + 1]
        self._recognize(panel, new)
        msgs, orphans = L.group(new)
        if orphans:
            # the end of a message that was cut at the bottom of the previous frame
            self.stats["orphan_lines"] += len(orphans)
            extra = " ".join(ln.text.strip() for ln in orphans if ln.text.strip())
            if self.history and extra:
                self.history[-1].text = f"{self.history[-1].text} {extra}".strip()
        for m in msgs:
            L.finish(m)
        times = self._refine_scroll(prev_g, sample, dy, msgs)
        for m, t in zip(msgs, times):
            self._emit(m, t, sample.t_s)
        self._prev = (img, g, panel.lines[-1].bottom if panel.lines else 0)

    def _full(self, img: np.ndarray, g: np.ndarray, sample: Sample, first: bool = False) -> None:
        self.stats["full_reads"] += 1
        panel = L.analyse(img)
        lines = [ln for ln in panel.lines if not (ln.cut and ln.top == 0)]  # cut at the top: unreadable
        self._recognize(panel, lines)
        msgs, orphans = L.group(lines)  # orphans: their first line scrolled off the top; read before
        self.stats["orphan_lines"] += len(orphans)
        for m in msgs:
            L.finish(m)
        window = self.history[-(len(msgs) + 8):]
        k = overlap(window, [(m.user, m.text) for m in msgs])
        t = sample.t_s if first or self._prev is None else self._first_change(self._prev[1], sample)
        for m in msgs[k:]:
            self._emit(m, t, sample.t_s)
        self._prev = (img, g, panel.lines[-1].bottom if panel.lines else 0)

    # -- first-seen times between samples -----------------------------------------------------------------
    def _refine_scroll(self, prev_g: np.ndarray, sample: Sample, dy: int, msgs: list[L.PanelMessage]) -> list[float]:
        """Each new message appeared when the scroll since the previous sample reached the height of
        the messages that came after it: find that frame among the ones between the samples."""
        if not msgs:
            return []
        if not (self.opt.refine and sample.between):
            return [sample.t_s] * len(msgs)
        frames = sample.between
        cache: dict[int, int] = {}

        def shift(i: int) -> int:
            if i not in cache:
                s = estimate_scroll(prev_g, gray(frames[i][1]), max_dy=dy + tol)
                cache[i] = s.dy if s.kind == "scroll" else (0 if s.kind == "still" else -1)
            return cache[i]

        last_bottom = msgs[-1].bottom
        out = []
        tol = max(4, L.MIN_BAND_H)
        for m in msgs:
            need = dy - (last_bottom - m.bottom) - tol
            lo, hi = 0, len(frames)  # first frame with shift >= need (shifts only grow)
            while lo < hi:
                mid = (lo + hi) // 2
                s = shift(mid)
                if s >= need or s < 0:  # a frame mid-redraw counts as "already changed"
                    hi = mid
                else:
                    lo = mid + 1
            out.append(frames[lo][0] if lo < len(frames) else sample.t_s)
        return out

    def _first_change(self, prev_g: np.ndarray, sample: Sample) -> float:
        frames = sample.between if self.opt.refine else []
        lo, hi = 0, len(frames)
        while lo < hi:
            mid = (lo + hi) // 2
            if estimate_scroll(prev_g, gray(frames[mid][1])).kind != "still":
                hi = mid
            else:
                lo = mid + 1
        return frames[lo][0] if lo < len(frames) else sample.t_s

    def finish(self) -> list[OcrMessage]:
        fix = canonical_users(self.history)
        for m in self.history:
            m.user = fix.get(m.user, m.user)
        return self.history


class NaiveReader(ChatReader):
    """Baseline: detection + recognition of the whole panel (upscaled 2x) on every sampled frame."""

    def __init__(self, engine: OcrEngine, options: ReadOptions = ReadOptions(), page_scale: float = 2.0) -> None:
        super().__init__(engine, options)
        self.page_scale = page_scale

    def feed(self, sample: Sample) -> None:
        import cv2

        if not self._usable(sample):
            return
        self.stats["full_reads"] += 1
        img = sample.image
        panel = L.analyse(img)  # only for which band starts a message (colour), as the reader does
        big = cv2.resize(img, None, fx=self.page_scale, fy=self.page_scale, interpolation=cv2.INTER_CUBIC)[:, :, ::-1]
        t0 = time.perf_counter()
        page = self.engine.read_page(np.ascontiguousarray(big))
        self.stats["ocr_s"] += time.perf_counter() - t0
        self.stats["lines_read"] += len(page)
        for ln in panel.lines:
            ln.text, ln.confidence = "", 1.0
        for pl_ in sorted(page, key=lambda p: p.box[0]):
            yc = (pl_.box[1] + pl_.box[3]) / 2 / self.page_scale
            best = min(panel.lines, key=lambda ln: abs((ln.top + ln.bottom) / 2 - yc), default=None)
            if best is None or not best.top - 4 <= yc <= best.bottom + 4:
                continue
            best.text = f"{best.text} {pl_.text}".strip()
            best.confidence = min(best.confidence, pl_.confidence)
        lines = [ln for ln in panel.lines if not (ln.cut and ln.top == 0) and ln.text]
        msgs, _ = L.group(lines)
        for m in msgs:
            L.finish(m)
        k = overlap(self.history[-(len(msgs) + 8):], [(m.user, m.text) for m in msgs])
        for m in msgs[k:]:
            self._emit(m, sample.t_s, sample.t_s)


def read_samples(samples: Iterable[Sample], reader: ChatReader) -> list[OcrMessage]:
    for s in samples:
        reader.feed(s)
    return reader.finish()


def read_video(video: str | Path, *, region: str | Region | None = None, engine: OcrEngine | None = None,
               options: ReadOptions = ReadOptions(), naive: bool = False,
               progress: Callable[[float, int], None] | None = None) -> OcrResult:
    """OCR the chat of one video. Raises VideoError / RegionError with a clear message when there
    is nothing to read; frame-level trouble is kept in ``problems`` and the run goes on."""
    from chatlab.ocr.engine import make_engine

    video = Path(video)
    t0 = time.perf_counter()
    info = probe(video)
    det = resolve_region(video, region, options.probe_s)
    t_region = time.perf_counter() - t0
    eng = engine or make_engine("rapidocr")
    reader: ChatReader = NaiveReader(eng, options) if naive else ChatReader(eng, options)
    if det.note and det.method == "config":
        reader.problem(det.note)
    last_report = time.perf_counter()
    t = options.start_s
    for s in sample_region(video, det.region, options.fps, start_s=options.start_s, end_s=options.end_s,
                           max_between=32 if options.refine and not naive else 0):
        reader.feed(s)
        t = s.t_s
        if progress and time.perf_counter() - last_report > 10:
            progress(t, len(reader.history))
            last_report = time.perf_counter()
    messages = reader.finish()
    elapsed = time.perf_counter() - t0
    end = options.end_s if options.end_s is not None and options.end_s < info.duration_s else info.duration_s
    covered = max(1e-9, (end if end == end else t) - options.start_s)  # NaN-safe duration
    stats = dict(reader.stats)
    stats.update(elapsed_s=round(elapsed, 3), region_s=round(t_region, 3), ocr_s=round(stats["ocr_s"], 3),
                 video_s=round(covered, 3), speed_x=round(covered / elapsed, 2), problems=reader.n_problems,
                 engine=f"{eng.name} {eng.version}")
    return OcrResult(video, det.region, det.method, det.note, "naive" if naive else "incremental",
                     messages, reader.problems, stats)
