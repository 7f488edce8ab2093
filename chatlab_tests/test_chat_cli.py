"""`chatlab chat parse` (the JSON contract of DESIGN.md) and `chatlab bench chat` on a small file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chatlab.cli import main
from chatlab_tests.test_chat_formats import comment, td_doc


def test_chat_parse_json(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    p = tmp_path / "c.json"
    doc = json.dumps(td_doc([comment(0, 1, "ann", "hi Kappa"), comment(1, 2, "bob", "!so")]))
    p.write_text(doc.replace('"comments": [', '"comments": [17, '))
    assert main(["chat", "parse", str(p), "--json"]) == 0
    out, err = capsys.readouterr()
    rows = [json.loads(x) for x in out.splitlines()]
    assert [r["text"] for r in rows] == ["hi Kappa", "!so"]
    for key in ("msg_id", "t_s", "user", "text", "badges", "emotes", "is_command", "is_bot"):
        assert key in rows[0]
    assert rows[1]["is_command"] and rows[0]["badges"] == ["subscriber"]
    assert "parsed 2, rejected 1 (not_an_object 1)" in err and "c.json" in err


def test_chat_parse_text_and_errors(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    p = tmp_path / "c.txt"
    p.write_text("[0:00:05] Ann: hello\n")
    assert main(["chat", "parse", str(p)]) == 0
    assert capsys.readouterr().out == "[0:00:05] Ann: hello\n"
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"\x00\x01\x02 binary")
    assert main(["chat", "parse", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "bad.txt" in err and "binary" in err and "Known formats:" in err
    assert main(["chat", "parse", str(tmp_path / "missing.json")]) == 1


def test_bench_chat_small(capsys: pytest.CaptureFixture) -> None:
    assert main(["bench", "chat", "--messages", "3000", "--no-baseline"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["parsed"] == 3000 and res["rejected"] == 0 and res["peak_mb"] > 0 and res["parse_msgs_per_s"] > 0
