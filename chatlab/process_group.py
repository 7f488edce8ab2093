"""Run a long-lived command (``dagster dev``) as its own process group that ends when we end.

``dagster dev`` starts a webserver, a daemon, code servers and run workers. Killing only the
parent left them serving, so the child gets its own process group (every one of those joins it),
the kernel sends it SIGTERM if we die (even by SIGKILL), and on any exit of ours the whole
group is asked to stop, then killed."""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

PR_SET_PDEATHSIG = 1  # linux/prctl.h


def children() -> dict[int, list[int]]:
    """Every process's children, by parent pid, read from /proc now."""
    kids: dict[int, list[int]] = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                ppid = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            kids.setdefault(ppid, []).append(int(d.name))
    return kids


def process_tree(pid: int) -> list[int]:
    """``pid`` and every process below it, parents first."""
    kids, out, todo = children(), [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, []))
    return out


def _die_with_parent() -> None:
    # Runs in the child between fork and exec: SIGTERM to it when its parent dies.
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)


def group_alive(pgid: int) -> bool:
    """Whether any process of group ``pgid`` still exists."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        pass


def stop_group(proc: subprocess.Popen, grace_s: float = 20.0) -> None:
    """Ask the leader to stop (it shuts its own children down), then the group, then kill it."""
    pgid = proc.pid
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            pass
    for sig, wait_s in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
        if not group_alive(pgid):
            break
        _signal_group(pgid, sig)
        deadline = time.monotonic() + wait_s
        while group_alive(pgid) and time.monotonic() < deadline:
            if proc.poll() is None:
                try:
                    proc.wait(timeout=0.1)
                except subprocess.TimeoutExpired:
                    pass
            else:
                time.sleep(0.1)
    if proc.poll() is None:
        proc.wait()


class _Stop(Exception):
    pass


def _raise_stop(signum, frame) -> None:  # noqa: ARG001 - signal handler signature
    raise _Stop(signum)


# The group's watchdog: a separate small process that outlives a SIGKILL of ours. The leader gets
# SIGTERM when we die, but may exit before its own children do (seen: the webserver kept serving);
# the watchdog sees us gone (it is re-parented) and stops the whole group, then kills what is left.
_WATCHDOG = """
import os, signal, sys, time
pgid, parent = int(sys.argv[1]), int(sys.argv[2])
def alive():
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
while os.getppid() == parent and alive():
    time.sleep(0.5)
for sig, wait_s in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
    if not alive():
        break
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        break
    end = time.monotonic() + wait_s
    while alive() and time.monotonic() < end:
        time.sleep(0.2)
"""


def _watch(pgid: int) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", _WATCHDOG, str(pgid), str(os.getpid())],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def run_group(cmd: Sequence[str], *, env: dict[str, str] | None = None, cwd=None, grace_s: float = 20.0) -> int:
    """Run ``cmd`` in its own process group until it exits or we get SIGINT/SIGTERM/SIGHUP;
    either way nothing of the group outlives this call. Returns the exit code (130 on a stop)."""
    linux = sys.platform.startswith("linux")
    proc = subprocess.Popen(list(cmd), env=env, cwd=cwd, start_new_session=True,
                            preexec_fn=_die_with_parent if linux else None)
    _watch(proc.pid)
    previous = {s: signal.signal(s, _raise_stop) for s in (signal.SIGTERM, signal.SIGHUP)}
    try:
        return proc.wait()
    except (KeyboardInterrupt, _Stop):
        return 130
    finally:
        # A second Ctrl-C or SIGTERM must not cut the stop short and leave the group running.
        previous.setdefault(signal.SIGINT, signal.getsignal(signal.SIGINT))
        for s in previous:
            signal.signal(s, signal.SIG_IGN)
        try:
            stop_group(proc, grace_s)
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)
