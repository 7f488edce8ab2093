"""The CLI: a user's mistake is one clear line, a bug keeps its traceback, --debug shows every one."""

from __future__ import annotations

import pytest

from chatlab import cli


def test_user_error_is_one_line(layout, capsys):
    # A VOD that is not in the inbox: something the user can act on.
    assert cli.main(["materialize", "--in-this-process", "no_such_vod"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("chatlab: error: ") and "no_such_vod" in err and "Traceback" not in err


def test_debug_shows_the_traceback(layout):
    with pytest.raises(LookupError, match="no_such_vod"):
        cli.main(["--debug", "materialize", "--in-this-process", "no_such_vod"])


def test_a_bug_is_not_hidden(layout, monkeypatch):
    parser = cli.build_parser()

    def broken(_args) -> int:
        return {}["missing"]  # a KeyError: chatlab's bug, never shown as a one-line "error"

    monkeypatch.setattr(cli, "build_parser", lambda: parser)
    parser.set_defaults(func=broken)
    with pytest.raises(KeyError):
        cli.main([])


def _run_with(monkeypatch, func) -> int:
    parser = cli.build_parser()
    monkeypatch.setattr(cli, "build_parser", lambda: parser)
    parser.set_defaults(func=func)
    return cli.main([])


def test_a_value_error_from_a_builtin_or_library_call_is_a_bug(layout, monkeypatch):
    # chatlab did not mean to raise it (no `raise` of its own): the traceback is kept
    with pytest.raises(ValueError, match="invalid literal"):
        _run_with(monkeypatch, lambda _args: int("not a number"))
    import json

    with pytest.raises(json.JSONDecodeError):  # a ValueError raised inside a library
        _run_with(monkeypatch, lambda _args: json.loads("{not json"))


def test_an_error_chatlab_raises_on_purpose_is_one_line(layout, monkeypatch, capsys):
    from chatlab.review.overrides import validate_align

    assert _run_with(monkeypatch, lambda _args: validate_align({"offset": 1})) == 1
    err = capsys.readouterr().err
    assert err == "chatlab: error: align override: expected offset_s or anchors, got ['offset'] (--debug shows the traceback)\n"


def test_a_settings_mistake_is_said_before_any_run_starts(layout, tmp_path, capsys):
    (tmp_path / "chatlab.toml").write_text("[align]\nofset_s = 1\n", encoding="utf-8")
    (layout.inbox / "a.wav").write_bytes(b"RIFF")  # something to materialize
    assert cli.main(["materialize", "--in-this-process"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"chatlab: error: {tmp_path / 'chatlab.toml'} [align]: unknown settings ['ofset_s']"), err
    assert "Traceback" not in err
    assert not list(layout.dagster_home.glob("**/runs.db")) or _no_runs(layout)


def _no_runs(layout) -> bool:
    import dagster as dg

    with dg.DagsterInstance.from_config(str(layout.dagster_home)) as instance:
        return not instance.get_runs()
