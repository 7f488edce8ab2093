"""An adapter built from a forgotten VOD is never used again, not even with --force."""

from __future__ import annotations

import json

from chatlab import cli


def test_generate_refuses_an_adapter_built_from_a_forgotten_vod(layout, tmp_path, capsys):
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    # What `chatlab forget` writes into every adapter built from the VOD (see chatlab/forget.py).
    (adapter / "STALE.json").write_text(json.dumps({"stale": True, "forgotten_vod": "friday",
                                                    "reason": "built from VOD 'friday', which was forgotten (viewer request)"}))
    for extra in ([], ["--force"]):
        assert cli.main(["generate", "--adapter", str(adapter), "--context", "hello chat", *extra]) == 1
        err = capsys.readouterr().err
        assert "which was forgotten (viewer request)" in err and "train a new adapter" in err
