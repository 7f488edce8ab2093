"""The project's salt: many processes starting at once agree on one, and none reads it half-written."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

# Run in a fresh interpreter: forking pytest itself (which runs DuckDB's and Dagster's threads)
# can leave a child waiting forever on a lock some thread held at the fork.
RACE = textwrap.dedent("""
    import json, multiprocessing as mp, sys
    from pathlib import Path
    from chatlab.chat.privacy import load_salt

    def load(data_dir, barrier, results):
        barrier.wait(timeout=60)
        try:
            results.put(load_salt(data_dir))
        except ValueError as e:
            results.put("error: " + str(e))

    if __name__ == "__main__":
        root, n, trials = Path(sys.argv[1]), 12, 30
        ctx = mp.get_context("fork")
        out = []
        for trial in range(trials):
            barrier, results = ctx.Barrier(n), ctx.Queue()
            procs = [ctx.Process(target=load, args=(root / f"d{trial}", barrier, results)) for _ in range(n)]
            for p in procs:
                p.start()
            salts = [results.get(timeout=60) for _ in procs]
            for p in procs:
                p.join(timeout=60)
            out.append({"salts": salts, "files": sorted(p.name for p in (root / f"d{trial}").iterdir())})
        print(json.dumps(out))
""")


def test_concurrent_first_use_gives_one_salt(tmp_path):
    done = subprocess.run([sys.executable, "-c", RACE, str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    for trial in json.loads(done.stdout):
        assert len(set(trial["salts"])) == 1, trial["salts"]
        assert len(trial["salts"][0]) == 64
        assert trial["files"] == ["salt"]  # no temporary file left behind


def test_a_kill_mid_write_leaves_no_salt_and_an_empty_one_is_refused(tmp_path):
    """A kill while the salt is written leaves only the private temporary file: the next first use
    makes a salt as if nothing happened. An empty salt (an older version's kill between create and
    write) is refused by name, never used: every user hash would be keyed by nothing."""
    import pytest

    from chatlab.chat.privacy import load_salt

    half = tmp_path / "a" / ".salt.12345.deadbeef"
    half.parent.mkdir()
    half.write_text("0123")  # what a kill mid-write leaves
    salt = load_salt(tmp_path / "a")
    assert len(salt) == 64 and (tmp_path / "a" / "salt").read_text().strip() == salt
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "salt").write_text("")
    with pytest.raises(ValueError, match=r"b/salt: the salt is too short or empty; delete the file"):
        load_salt(tmp_path / "b")
