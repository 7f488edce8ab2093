"""`chatlab bench chat`: parse and clean a generated TwitchDownloader export of N messages.

Figures: parse and clean time (wall and CPU), messages/s, peak memory (max RSS of a fresh
worker process that only parses and cleans), and the ratio to a baseline: the obvious
approach (``json.load`` the document, a Python loop over the comments) on a 100k sample.
Targets from the issue: >= 200,000 messages/s parse, <= 1 GB peak for 1,000,000 messages.
"""

from __future__ import annotations

import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

TARGET_RATE = 200_000
TARGET_PEAK_MB = 1024
BASELINE_N = 100_000
_WORDS = ("lol pog kekw gg nice what no way chat is this real hello streamer omg LUL PogChamp Kappa "
          "monkaS that was close let's go clip it W L true based ratio first time here love the stream").split()
_EMOTES = {"Kappa": "25", "PogChamp": "305954156", "LUL": "425618"}


def generate(path: Path, n: int, seed: int = 0, hours: float = 10.0) -> Path:
    """A TwitchDownloader 1.4-shaped export (compact JSON, one line) with n comments: realistic
    field set, badges, emote fragments, commands, bots, repeats, some quotes and non-ASCII."""
    rnd = random.Random(seed)
    start = datetime(2024, 5, 1, 18, 0, 0, tzinfo=timezone.utc)
    users = [(f"viewer{i}", f"Viewer{i}", str(10_000 + i)) for i in range(20_000)] + [("nightbot", "Nightbot", "19264788")]
    dur = hours * 3600
    with open(path, "w", encoding="utf-8") as f:
        f.write(
            '{"FileInfo":{"Version":{"Major":1,"Minor":4,"Patch":0},"CreatedAt":"2024-05-02T00:00:00Z","UpdatedAt":"0001-01-01T00:00:00"},'
            '"streamer":{"name":"Streamer","id":1234},"video":{"title":"bench","description":null,"id":"2000000000",'
            f'"created_at":"2024-05-01T18:00:00Z","start":0,"end":{int(dur)},"length":{int(dur)},"viewCount":1,"game":"Just Chatting","chapters":[]}},'
            '"comments":['
        )
        t = 0.0
        parts = []
        for i in range(n):
            t += rnd.expovariate(n / dur)
            login, display, uid = users[min(int(rnd.paretovariate(1.2)) - 1, len(users) - 1)] if rnd.random() < 0.5 else rnd.choice(users)
            r = rnd.random()
            if r < 0.03:
                body = "!" + rnd.choice(("uptime", "discord", "song", "followage"))
            elif r < 0.05:
                body = 'he said "no way" \u00e9\u00e8 \U0001f602'
            else:
                body = " ".join(rnd.choice(_WORDS) for _ in range(rnd.randint(1, 9)))
            # fragments as Twitch makes them: text runs between emotes, one fragment per emote
            frags, run = [], ""
            for w_i, w in enumerate(body.split(" ")):
                sep = "" if w_i == 0 else " "
                if w in _EMOTES:
                    if run + sep:
                        frags.append(f'{{"text":{json.dumps(run + sep, ensure_ascii=False)},"emoticon":null}}')
                    frags.append(f'{{"text":"{w}","emoticon":{{"emoticon_id":"{_EMOTES[w]}"}}}}')
                    run = ""
                else:
                    run += sep + w
            if run:
                frags.append(f'{{"text":{json.dumps(run, ensure_ascii=False)},"emoticon":null}}')
            badges = '[{"_id":"subscriber","version":"12"}]' if rnd.random() < 0.3 else "[]"
            ca = (start + timedelta(seconds=t)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
            parts.append(
                f'{{"_id":"{uuid.UUID(int=rnd.getrandbits(128))}","created_at":"{ca}","channel_id":"1234","content_type":"video",'
                f'"content_id":"2000000000","content_offset_seconds":{int(t)},"commenter":{{"display_name":"{display}","_id":"{uid}",'
                f'"name":"{login}","bio":null,"created_at":"2020-01-01T00:00:00Z","updated_at":"2020-01-01T00:00:00Z",'
                f'"logo":"https://static-cdn.jtvnw.net/jtv_user_pictures/{uid}-profile_image-300x300.png"}},'
                f'"message":{{"body":{json.dumps(body, ensure_ascii=False)},"bits_spent":0,"fragments":[{",".join(frags)}],'
                f'"user_badges":{badges},"user_color":"#1E90FF","user_notice_params":{{"msg_id":null}},"emoticons":[]}}}}'
            )
            if len(parts) >= 10_000:
                f.write(("," if i >= len(parts) else "") + ",".join(parts))
                parts = []
        if parts:
            f.write(("," if n > len(parts) else "") + ",".join(parts))
        f.write('],"embeddedData":null}')
    return path


def worker(path: str) -> dict[str, Any]:
    """Parse + clean in this process; timings only (the parent reads this process's peak RSS)."""
    from chatlab.chat import parse_file
    from chatlab.chat.clean import clean, report

    c0, t0 = time.process_time(), time.perf_counter()
    r = parse_file(path)
    t1, c1 = time.perf_counter(), time.process_time()
    cleaned = clean(r.messages)
    t2, c2 = time.perf_counter(), time.process_time()
    return {"parsed": r.messages.height, "rejected": r.rejects.height, "parse_s": t1 - t0, "parse_cpu_s": c1 - c0,
            "clean_s": t2 - t1, "clean_cpu_s": c2 - c1, "kept": report(cleaned)["kept"],
            "peak_mb_self": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def baseline(path: Path) -> float:
    """Messages/s of json.load + a Python loop pulling the same fields."""
    t0 = time.perf_counter()
    with open(path, encoding="utf-8") as f:
        doc = json.load(f)
    rows = []
    for c in doc["comments"]:
        m, u = c["message"], c["commenter"]
        rows.append((c["_id"], c["content_offset_seconds"], c["created_at"], u["display_name"], u["name"], m["body"],
                     [b["_id"] for b in m["user_badges"]], [fr["emoticon"] for fr in m["fragments"] if fr["emoticon"]]))
    return len(rows) / (time.perf_counter() - t0)


def run(n: int = 1_000_000, file: str | None = None, keep: bool = False, do_baseline: bool = True) -> dict[str, Any]:
    tmp = tempfile.mkdtemp(prefix="chatlab-bench-")
    path = Path(file) if file else Path(tmp) / f"bench_{n}.json"
    out: dict[str, Any] = {"messages": n, "cpus": os.cpu_count(), "load_avg_1m": os.getloadavg()[0]}
    try:
        if not file:
            t0 = time.perf_counter()
            generate(path, n)
            out["generate_s"] = round(time.perf_counter() - t0, 2)
        out["file_mb"] = round(path.stat().st_size / 1e6, 1)
        proc = subprocess.run([sys.executable, "-m", "chatlab.chat.bench", "--worker", str(path)], capture_output=True, text=True, check=True)
        # the result is the worker's last JSON line (a library may still draw on stdout before it)
        res = json.loads(next(ln for ln in reversed(proc.stdout.splitlines()) if ln.startswith("{")))
        out |= {k: (round(v, 3) if isinstance(v, float) else v) for k, v in res.items()}
        out["peak_mb"] = round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1)
        out["parse_msgs_per_s"] = round(res["parsed"] / res["parse_s"])
        out["parse_msgs_per_cpu_s"] = round(res["parsed"] / res["parse_cpu_s"])
        out["parse_clean_msgs_per_s"] = round(res["parsed"] / (res["parse_s"] + res["clean_s"]))
        if do_baseline:
            small = Path(tmp) / "baseline.json"
            generate(small, min(n, BASELINE_N))
            out["baseline_msgs_per_s"] = round(baseline(small))
            out["ratio_to_baseline"] = round(out["parse_msgs_per_s"] / out["baseline_msgs_per_s"], 2)
        out["target_rate_met"] = out["parse_msgs_per_s"] >= TARGET_RATE
        out["target_peak_met"] = out["peak_mb"] <= TARGET_PEAK_MB
        if keep:
            out["file"] = str(path)
    finally:
        if not keep:
            for p in Path(tmp).glob("*"):
                p.unlink()
            os.rmdir(tmp)
    return out


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--worker":
        print(json.dumps(worker(sys.argv[2])))
