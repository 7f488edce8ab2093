"""VOD id rules and inbox scanning (pure library, no Dagster)."""

import os
from pathlib import Path

import pytest

from chatlab.ingest.inbox import (
    VodNotFound,
    find_vod,
    is_valid_vod_id,
    scan_inbox,
    split_name,
    vod_fingerprint,
    vod_id_from_stem,
)


def write(path: Path, data: bytes = b"x" * 100) -> Path:
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("stem", ["demo_01", "a", "vod-2024-01-05", "x" * 64])
def test_valid_stem_is_its_own_id(stem):
    assert vod_id_from_stem(stem) == stem


@pytest.mark.parametrize("stem", ["My Stream 1", "Stream (2024)!", "Café Night", "日本語の配信", "x" * 65, "--", "a.b"])
def test_other_stems_become_valid_deterministic_ids(stem):
    vod_id = vod_id_from_stem(stem)
    assert is_valid_vod_id(vod_id), vod_id
    assert vod_id == vod_id_from_stem(stem)


def test_lossy_names_never_collide_with_clean_ones():
    assert vod_id_from_stem("Stream 1") != vod_id_from_stem("stream_1")
    assert vod_id_from_stem("Stream 1") != vod_id_from_stem("stream 1")
    assert vod_id_from_stem("Café Night").startswith("cafe_night-")
    assert vod_id_from_stem("日本語の配信").startswith("vod-")


def test_split_name():
    assert split_name("a.mp4") == ("a", "media")
    assert split_name("a.MKV") == ("a", "media")
    assert split_name("a.json") == ("a", "chat")
    assert split_name("a.json.gz") == ("a", "chat")
    assert split_name("a.truth.json") == ("a", "truth")
    assert split_name("a.pdf") is None
    assert split_name(".mp4") is None


def test_scan_pairs_chat_exports_and_reports_bad_files(tmp_path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    outside = write(tmp_path / "outside.mp4")
    write(inbox / "good.mp4")
    write(inbox / "good.json")
    write(inbox / "good.txt")  # a second export: the JSON one is preferred
    write(inbox / "good.truth.json")  # demo ground truth, not a chat export
    write(inbox / "radio.flac")
    write(inbox / "empty.mkv", b"")
    write(inbox / "notes.pdf")
    write(inbox / "orphan.csv")
    write(inbox / ".hidden.mp4")
    (inbox / "folder").mkdir()
    os.symlink(outside, inbox / "link.mp4")
    os.symlink(inbox / "radio.flac", inbox / "alias.flac")  # inside the inbox: fine

    scan = scan_inbox(inbox)
    by_id = scan.by_id()
    assert sorted(by_id) == ["alias", "good", "radio"]
    assert by_id["good"].chat == inbox / "good.json"
    assert by_id["good"].kind == "video"
    assert by_id["radio"].chat is None and by_id["radio"].kind == "audio"
    reasons = {p.path.name: p.reason for p in scan.problems}
    assert "empty" in reasons["empty.mkv"]
    assert "unsupported" in reasons["notes.pdf"]
    assert "no video or audio" in reasons["orphan.csv"]
    assert "outside the inbox" in reasons["link.mp4"]
    assert "folder" in reasons["folder"]
    assert ".hidden.mp4" not in reasons and "good.truth.json" not in reasons


def test_same_stem_media_files_get_distinct_ids(tmp_path):
    write(tmp_path / "show.wav")
    write(tmp_path / "show.mp4")
    ids = {v.media.name: v.vod_id for v in scan_inbox(tmp_path).vods}
    assert ids == {"show.mp4": "show", "show.wav": "show-wav"}  # video keeps the plain id


def test_renamed_files_are_listed(tmp_path):
    write(tmp_path / "My Stream.mp4")
    scan = scan_inbox(tmp_path)
    assert scan.renamed == {"My Stream.mp4": scan.vods[0].vod_id}


def test_find_vod_names_what_is_there(tmp_path):
    write(tmp_path / "a.mp4")
    assert find_vod(tmp_path, "a").media.name == "a.mp4"
    with pytest.raises(VodNotFound, match="VODs there: a"):
        find_vod(tmp_path, "b")


def test_fingerprint_follows_content_and_chat(tmp_path):
    media = write(tmp_path / "v.mp4", b"a" * 3_000_000)
    fp1 = vod_fingerprint(find_vod(tmp_path, "v"))
    assert fp1 == vod_fingerprint(find_vod(tmp_path, "v"))
    write(tmp_path / "v.json", b"{}")
    fp2 = vod_fingerprint(find_vod(tmp_path, "v"))
    assert fp2 != fp1
    media.write_bytes(b"a" * 2_999_999 + b"b")  # same size, last byte changed
    assert vod_fingerprint(find_vod(tmp_path, "v")) != fp2
