"""The project's salt: many processes starting at once agree on one, and none reads it half-written."""

from __future__ import annotations

import multiprocessing as mp

from chatlab.chat.privacy import load_salt


def _load(args) -> str:
    data_dir, barrier = args
    barrier.wait()
    try:
        return load_salt(data_dir)
    except ValueError as e:
        return f"error: {e}"


def test_concurrent_first_use_gives_one_salt(tmp_path):
    ctx = mp.get_context("fork")
    n = 8
    for trial in range(15):
        data_dir = tmp_path / f"d{trial}"
        with ctx.Manager() as manager:
            barrier = manager.Barrier(n)
            with ctx.Pool(n) as pool:
                salts = pool.map(_load, [(data_dir, barrier)] * n)
        assert len(set(salts)) == 1, salts
        assert len(salts[0]) == 64
        assert [p.name for p in data_dir.iterdir()] == ["salt"]  # no temporary file left behind
