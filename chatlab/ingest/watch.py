"""One tick of the inbox watch, as a pure function of the folder and the previous state.

The state (the sensor's cursor, JSON) remembers, per file, the (size, mtime) seen
last tick, so a file still being copied waits a tick; per VOD, the fingerprint
that was last handed to a run, so only new or changed VODs run; and which
problems were already reported, so the log says each once.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field

from chatlab.ingest.inbox import InboxScan, Problem, VodFiles, stat_key, vod_fingerprint


@dataclass
class WatchState:
    seen: dict[str, list[int]] = field(default_factory=dict)  # file name -> [size, mtime_ns]
    done: dict[str, str] = field(default_factory=dict)  # vod id -> fingerprint handed to a run
    reported: dict[str, str] = field(default_factory=dict)  # file name -> problem already logged

    @classmethod
    def from_cursor(cls, cursor: str | None) -> "WatchState":
        if not cursor:
            return cls()
        try:
            raw = json.loads(cursor)
            return cls(seen=raw.get("seen", {}), done=raw.get("done", {}), reported=raw.get("reported", {}))
        except (ValueError, AttributeError):
            return cls()  # an unreadable cursor only costs one extra fingerprint pass

    def to_cursor(self) -> str:
        return json.dumps({"seen": self.seen, "done": self.done, "reported": self.reported}, sort_keys=True)


@dataclass(frozen=True)
class Ready:
    vod: VodFiles
    fingerprint: str
    changed: bool  # True when this VOD ran before with another fingerprint

    @property
    def run_key(self) -> str:
        return f"{self.vod.vod_id}:{self.fingerprint}"


@dataclass
class TickPlan:
    ready: list[Ready] = field(default_factory=list)  # VODs to register and run
    waiting: list[str] = field(default_factory=list)  # file names still changing
    new_problems: list[Problem] = field(default_factory=list)  # to log now
    renamed: dict[str, str] = field(default_factory=dict)  # file name -> id, first time only
    removed: list[str] = field(default_factory=list)  # VOD ids that ran before and left the inbox
    state: WatchState = field(default_factory=WatchState)


def plan_tick(
    scan: InboxScan,
    state: WatchState,
    already_done: Callable[[str, str], bool] = lambda vod_id, fp: False,
) -> TickPlan:
    """What to do this tick. ``already_done(vod_id, fp)`` lets the caller skip VODs whose
    current fingerprint was materialized by other means (e.g. `chatlab materialize`)."""
    plan = TickPlan(state=WatchState(done=dict(state.done)))
    for vod in scan.vods:
        files = [vod.media] + ([vod.chat] if vod.chat else [])
        stable = True
        for f in files:
            try:
                key = list(stat_key(f))
            except OSError:
                stable = False  # vanished between scan and stat: next tick sees it right
                continue
            plan.state.seen[f.name] = key
            if state.seen.get(f.name) != key:
                stable = False
                plan.waiting.append(f.name)
        if not stable:
            continue
        try:
            fp = vod_fingerprint(vod)
        except OSError as e:
            plan.new_problems.append(Problem(vod.media, f"could not read it ({e})"))
            continue
        previous = state.done.get(vod.vod_id)
        if previous == fp:
            continue
        plan.state.done[vod.vod_id] = fp
        if already_done(vod.vod_id, fp):
            continue
        plan.ready.append(Ready(vod, fp, changed=previous is not None))
        if vod.media.name in scan.renamed:
            plan.renamed[vod.media.name] = scan.renamed[vod.media.name]

    present = {v.vod_id for v in scan.vods}
    plan.removed = sorted(k for k in plan.state.done if k not in present)
    plan.state.done = {k: v for k, v in plan.state.done.items() if k in present}
    for p in scan.problems:
        plan.state.reported[p.path.name] = p.reason
        if state.reported.get(p.path.name) != p.reason:
            plan.new_problems.append(p)
    return plan
