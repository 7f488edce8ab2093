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
