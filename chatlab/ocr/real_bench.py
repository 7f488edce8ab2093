"""``chatlab bench ocr-real``: the reader on pictures of chat that chatlab did not make.

The corpus is ``chatlab_tests/data/real/ocr/``: screenshots and GIF frames of chat in other
projects' overlays and clients, each ``<name>.png`` (or a short clip, ``<name>.gif``) with
``<name>.expected.json`` (the messages, transcribed by eye, never with chatlab; the chat's box as
``region``; the licence text beside it). None was used in tuning before round 4; round 4 tuned on
the pictures of TUNE_SOURCES, so only the "apart" part is held apart now.

Each is read twice:

- **found**: a still picture goes to the reader whole, which must find the chat in it itself (a
  still has no motion, so the motion-based region finder of a video does not apply; what the
  reader took for chat is the box of the lines it grouped into messages); a clip is turned into a
  video and read as ``chatlab ocr`` reads one, the region found from the motion and checked by
  reading. The found box is compared with the given one by IoU;
- **given**: only the given box is read.

Messages are scored as ``chatlab bench ocr`` scores them (``bench.score``: the same user and a text
at least 90% alike; each expected message matched once; first-seen times are not scored here). A
leading ``@`` (a YouTube handle) is no part of a user name on either side.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from chatlab.ocr.bench import TrueMessage, score

TARGET = 0.95  # issue 12: recall and precision with the region found
# Round 4 tunes the reader on some of the corpus: the split was fixed by source repository (the
# repositories sorted, every other one) before any picture's figures were looked at, so that no
# overlay's look is on both sides. Only "apart" is evidence of how the reader does on real chat.
# compact_chat_overlay was moved to "tune" after the split: test_ocr_capture reads one of its
# pictures (and did since round 1), so it could not stay unseen.
TUNE_SOURCES = ("chatterino2", "compact_chat_overlay", "crow", "ngc7052_chat_overlay", "stream_overlay",
                "vladiantio_chat_overlay")
PARTS = ("tune", "apart", "all")


def part_of(name: str) -> str:
    """'tune' or 'apart' for a picture name (its repository part is the name up to the last '_')."""
    return "tune" if any(name == s or name.startswith(s + "_") for s in TUNE_SOURCES) else "apart"
CORPUS = Path(__file__).resolve().parents[2] / "chatlab_tests" / "data" / "real" / "ocr"


@dataclass(frozen=True)
class Picture:
    name: str
    file: Path  # a still picture (.png) or a short clip (.gif: an animated GIF, read as a video)
    messages: tuple[TrueMessage, ...]
    region: tuple[int, int, int, int] | None  # x, y, w, h; None: the whole picture
    licence: Path
    source: str  # "stream" (real chat) or "demo" (written by that project); "" when not said
    look: str


class CorpusError(ValueError):
    """A corpus file that cannot be used: the message names the file and what was expected."""


def licence_of(file: Path, declared: str | None) -> Path:
    """The licence text beside a picture: the one its expected file names, else
    ``<repository part of the name>.LICENSE`` (the name up to its last ``_``)."""
    if declared:
        return file.parent / declared
    return file.parent / (file.stem.rsplit("_", 1)[0] + ".LICENSE")


def load_picture(file: Path) -> Picture:
    exp = file.with_name(file.stem + ".expected.json")
    if not exp.exists():
        raise CorpusError(f"{file}: no expected messages ({exp.name} is missing)")
    try:
        d = json.loads(exp.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise CorpusError(f"{exp}: line {e.lineno}: not JSON ({e.msg})") from e
    msgs = d.get("messages")
    if not isinstance(msgs, list):
        raise CorpusError(f"{exp}: expected a list under 'messages'")
    out = []
    for i, m in enumerate(msgs):
        if not (isinstance(m, dict) and isinstance(m.get("user"), str) and isinstance(m.get("text"), str)):
            raise CorpusError(f"{exp}: messages[{i}]: expected {{\"user\": str, \"text\": str}}, got {m!r}")
        out.append(TrueMessage(0.0, m["user"], m["text"]))
    region = d.get("region")
    if region is not None:
        if not (isinstance(region, list) and len(region) == 4 and all(isinstance(v, int) for v in region)
                and region[2] > 0 and region[3] > 0):
            raise CorpusError(f"{exp}: region {region!r}: expected [x, y, w, h] in pixels")
        region = tuple(region)
    return Picture(file.stem, file, tuple(out), region, licence_of(file, d.get("licence_file")),
                   str(d.get("source", "")), str(d.get("look", "")))


def load_corpus(folder: Path = CORPUS, only: Sequence[str] = ()) -> list[Picture]:
    files = sorted([*folder.glob("*.png"), *folder.glob("*.gif")])
    if only:
        missing = [n for n in only if n not in {f.stem for f in files}]
        if missing:
            raise CorpusError(f"{folder}: no picture named {', '.join(missing)} (have: "
                              f"{', '.join(f.stem for f in files)})")
        files = [f for f in files if f.stem in only]
    if not files:
        raise CorpusError(f"{folder}: no pictures (*.png, *.gif) to score")
    return [load_picture(f) for f in files]


def iou(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    ax1, ay1, bx1, by1 = a[0] + a[2], a[1] + a[3], b[0] + b[2], b[1] + b[3]
    w = max(0, min(ax1, bx1) - max(a[0], b[0]))
    h = max(0, min(ay1, by1) - max(a[1], b[1]))
    inter = w * h
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union else 0.0


def read_picture(img: np.ndarray, engine: Any, region: tuple[int, int, int, int] | None = None
                 ) -> tuple[list[Any], tuple[int, int, int, int] | None]:
    """The reader's messages on one picture (RGB), and the box (in picture coordinates) of the lines
    it grouped into messages, None when it read none. The same path as ``reader.read_image``; the
    reader is kept to see which lines it took for chat."""
    from chatlab.ocr.frames import Sample
    from chatlab.ocr.reader import ChatReader, ReadOptions, group_lines

    x0 = y0 = 0
    if region is not None:
        x0, y0, w, h = region
        img = img[y0:y0 + h, x0:x0 + w]
    reader = ChatReader(engine, ReadOptions())
    reader.feed(Sample(0.0, np.ascontiguousarray(img[:, :, :3])))
    messages = reader.finish()
    groups, _ = group_lines(reader._prev_lines, img.shape[1])
    lines = [ln for g in groups for ln in g.lines]
    if not lines:
        return messages, None
    bx0, by0 = min(ln.x0 for ln in lines), min(ln.top for ln in lines)
    bx1, by1 = max(ln.x1 for ln in lines), max(ln.bottom for ln in lines)
    return messages, (int(x0 + bx0), int(y0 + by0), int(bx1 - bx0), int(by1 - by0))


def _plain(messages: Sequence[Any]) -> list[Any]:
    from chatlab.ocr.dedupe import OcrMessage

    return [OcrMessage(0.0, m.user.lstrip("@"), m.text, m.confidence) for m in messages]


def clip_to_video(clip: Path, out: Path, fps: int = 10) -> Path:
    """An animated GIF as an H.264 video at a steady frame rate, each frame shown for its own
    duration (the reader reads videos; a GIF's frames last as long as each says)."""
    import av
    from PIL import Image, ImageSequence

    with Image.open(clip) as im, av.open(str(out), "w") as c:
        s = c.add_stream("libx264", rate=fps)
        s.width, s.height = im.size[0] // 2 * 2, im.size[1] // 2 * 2
        s.pix_fmt = "yuv420p"
        s.options = {"crf": "16"}
        t = 0.0
        shown = 0
        for fr in ImageSequence.Iterator(im):
            rgb = np.ascontiguousarray(np.array(fr.convert("RGB"))[:s.height, :s.width])
            t += (fr.info.get("duration") or 100) / 1000
            while shown < round(t * fps):
                for packet in s.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                    c.mux(packet)
                shown += 1
        for packet in s.encode():
            c.mux(packet)
    return out


def _read(p: Picture, engine: Any, region: tuple[int, int, int, int] | None, workdir: Path
          ) -> tuple[list[Any], tuple[int, int, int, int] | None, str]:
    """Messages, the chat box the reader used (None: none) and a note, for a picture or a clip."""
    if p.file.suffix.lower() != ".gif":
        from PIL import Image

        msgs, box = read_picture(np.array(Image.open(p.file).convert("RGB")), engine, region)
        return msgs, box, ""
    from chatlab.ocr.reader import read_video
    from chatlab.ocr.region import RegionError

    video = workdir / f"{p.name}.mp4"
    if not video.exists():
        clip_to_video(p.file, video)
    try:
        res = read_video(video, region=None if region is None else ",".join(map(str, region)), engine=engine)
    except RegionError as e:  # refused out loud: nothing read, and why
        return [], None, str(e).split(": ", 1)[-1][:160]
    r = res.region
    return res.messages, (r.x, r.y, r.w, r.h), f"{res.region_method}, confidence {res.stats.get('region_confidence', 1.0):.2f}"


def bench_picture(p: Picture, engine: Any, workdir: Path) -> dict[str, Any]:
    from PIL import Image

    with Image.open(p.file) as im:
        w, h = im.size
    given = p.region or (0, 0, w, h)
    truth = [TrueMessage(0.0, m.user.lstrip("@"), m.text) for m in p.messages]
    row: dict[str, Any] = {"picture": p.name, "kind": "clip" if p.file.suffix.lower() == ".gif" else "picture",
                           "source": p.source, "size": f"{w}x{h}", "region": list(given), "expected": len(truth)}
    for mode, region in (("found", None), ("given", given)):
        t0 = time.perf_counter()
        msgs, box, note = _read(p, engine, region, workdir)
        s = score(_plain(msgs), truth)
        row[mode] = {"read": s["recovered"], "matched": s["matched"], "recall": s["recall"],
                     "precision": s["precision"], "cer": s["cer"], "seconds": round(time.perf_counter() - t0, 2),
                     "box": list(box) if box else None, "iou": round(iou(box, given), 3) if box else 0.0,
                     "note": note, "missed": s["missed"], "extra": s["extra"],
                     "_read": [(m.user, m.text) for m in _plain(msgs)]}
    row["_truth"] = [(m.user, m.text) for m in truth]
    return row


def overall(rows: Sequence[dict[str, Any]], mode: str) -> dict[str, Any]:
    """Figures over all pictures at once: ``score`` on every picture's messages together, each
    user name tagged with its picture so that no message matches one of another picture."""
    from chatlab.ocr.dedupe import OcrMessage

    truth = [TrueMessage(0.0, f"{i}|{u}", t) for i, r in enumerate(rows) for u, t in r["_truth"]]
    read = [OcrMessage(0.0, f"{i}|{u}", t, 1.0) for i, r in enumerate(rows) for u, t in r[mode]["_read"]]
    s = score(read, truth)
    with_chat = [r for r in rows if r["expected"]]
    return {"pictures": len(rows), "expected": s["true"], "read": s["recovered"], "matched": s["matched"],
            "recall": s["recall"], "precision": s["precision"], "cer": s["cer"],
            "region_found": sum(1 for r in with_chat if r[mode]["box"] is not None),
            "region_iou_median": round(float(np.median([r[mode]["iou"] for r in with_chat])), 3) if with_chat else float("nan"),
            "false_on_empty": sum(r[mode]["read"] for r in rows if not r["expected"])}


def run(pictures: Sequence[Picture], engine: Any, say: Callable[[str], None] = lambda m: None) -> dict[str, Any]:
    import tempfile

    engine.recognize([])  # load the models before the first picture is timed
    rows = []
    with tempfile.TemporaryDirectory(prefix="chatlab-bench-ocr-real-") as tmp:
        for p in pictures:
            say(f"{p.name} ...")
            rows.append(bench_picture(p, engine, Path(tmp)))
    res = {"rows": rows, "found": overall(rows, "found"), "given": overall(rows, "given")}
    for part in ("tune", "apart"):
        sub = [r for r in rows if part_of(r["picture"]) == part]
        if sub and len(sub) < len(rows):
            res[part] = {"found": overall(sub, "found"), "given": overall(sub, "given")}
    for r in rows:  # what overall() needed; the report shows the missed/extra lists instead
        r.pop("_truth")
        for mode in ("found", "given"):
            r[mode].pop("_read")
    return res


def _f(v: float, width: int = 6, digits: int = 3) -> str:
    return f"{'-':>{width}}" if v != v else f"{v:{width}.{digits}f}"


def print_report(res: dict[str, Any], write: Callable[[str], None] = print) -> None:
    write("OCR on real captures (pictures of chat chatlab did not make; part 'tune' was tuned on in round 4, "
          "'apart' never)")
    write(f"{'picture':40} {'src':6} {'exp':>4} | {'found: IoU':>10} {'read':>4} {'match':>5} {'recall':>6} {'prec':>6} "
          f"{'CER':>6} | {'given: read':>11} {'match':>5} {'recall':>6} {'prec':>6} {'CER':>6}")
    for r in res["rows"]:
        f, g = r["found"], r["given"]
        region = "none" if f["box"] is None else f"{f['iou']:.2f}"
        name = ("T " if part_of(r["picture"]) == "tune" else "A ") + r["picture"][:31] + \
            (" (clip)" if r.get("kind") == "clip" else "")
        write(f"{name:40} {r['source'][:6]:6} {r['expected']:4d} | {region:>10} {f['read']:4d} {f['matched']:5d} "
              f"{_f(f['recall'])} {_f(f['precision'])} {_f(f['cer'])} | {g['read']:11d} {g['matched']:5d} "
              f"{_f(g['recall'])} {_f(g['precision'])} {_f(g['cer'])}")
        for mode in ("found", "given"):
            if r[mode].get("note") and r[mode]["box"] is None:
                write(f"    {mode}: {r[mode]['note']}")
    n_chat = sum(1 for r in res["rows"] if r["expected"])
    for mode, label in (("found", "region found by the reader"), ("given", "region given")):
        o = res[mode]
        found = (f"; chat found in {o['region_found']} of {n_chat} pictures with chat (median IoU with the given box "
                 f"{_f(o['region_iou_median'], 0, 2)})") if mode == "found" else ""
        write(f"overall, {label}: {o['matched']} of {o['expected']} expected messages matched, {o['read']} read: "
              f"recall {_f(o['recall'], 0)}, precision {_f(o['precision'], 0)}, CER {_f(o['cer'], 0, 4)}{found}; "
              f"{o['false_on_empty']} messages read on pictures with none")
    for part, label in (("tune", "tuned on in round 4"), ("apart", "never tuned on")):
        if part in res:
            f, g = res[part]["found"], res[part]["given"]
            write(f"  {part} ({label}, {f['pictures']} pictures): region found recall {_f(f['recall'], 0)} precision "
                  f"{_f(f['precision'], 0)} ({f['matched']}/{f['expected']}); given recall {_f(g['recall'], 0)} "
                  f"precision {_f(g['precision'], 0)} ({g['matched']}/{g['expected']})")
    o = res["found"]
    write(f"targets (issue 12, region found): recall >= {TARGET} and precision >= {TARGET}; here "
          f"{_f(o['recall'] / TARGET, 0, 2)}x and {_f(o['precision'] / TARGET, 0, 2)}x of them")


def register(sub: Any, bench_sub: Any) -> None:
    b = bench_sub.add_parser("ocr-real", help="OCR recall/precision/CER on real pictures of chat (part tune: tuned on in round 4; part apart: never)",
                             description="Reads each picture of chatlab_tests/data/real/ocr twice, with the chat found by "
                                         "the reader in the whole picture and with the chat's box given, and scores the "
                                         "messages against those transcribed by eye: per picture and overall.")
    b.add_argument("--dir", help="a folder of <name>.png (or .gif) + <name>.expected.json (default: the project's "
                                  "real OCR corpus)")
    b.add_argument("--only", help="comma-separated picture names (without .png/.gif)")
    b.add_argument("--part", choices=PARTS, default="all",
                   help="tune (the pictures tuned on in round 4), apart (never tuned on) or all (default; each "
                        "part is also reported alone)")
    b.add_argument("--threads", type=int, default=0, help="ONNX Runtime threads (default: up to 4)")
    b.add_argument("--json", action="store_true", help="print the figures as JSON")
    b.set_defaults(func=_bench)


def _bench(args: Any) -> int:
    from chatlab.ocr.engine import make_engine

    folder = Path(args.dir) if args.dir else CORPUS
    only = [n.strip() for n in (args.only or "").split(",") if n.strip()]
    pictures = load_corpus(folder, only)
    if args.part != "all":
        pictures = [p for p in pictures if part_of(p.name) == args.part]
    res = run(pictures, make_engine("rapidocr", threads=args.threads or None),
              say=lambda m: print(m, file=sys.stderr, flush=True))
    if args.json:
        print(json.dumps(res, indent=1, ensure_ascii=False))
    else:
        print_report(res)
    return 0
