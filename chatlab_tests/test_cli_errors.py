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
