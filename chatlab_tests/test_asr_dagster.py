"""The transcript assets in an ephemeral Dagster instance: tables and checks on real speech, and
the blocking `asr_quality` check stopping everything downstream on silence and on a loop."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import numpy as np
import pytest

from chatlab.asr import model as asr_model
from chatlab.asr.bench import write_wav16
from chatlab.asr.engine import EngineConfig, Segment, WindowResult, Word
from chatlab.asr.tables import SEGMENTS_SCHEMA, WORDS_SCHEMA
from chatlab.config import Layout
from chatlab.defs.asr import AsrEngineResource, transcript, transcript_tables
from chatlab.defs.asr.assets import transcript_dir
from chatlab.media.audio import audio_path
from chatlab.resources import build_resources
from chatlab_tests.test_asr import SCRIPT, models_dir, speech_clip  # noqa: F401  (shared session fixtures)
from chatlab.storage import connect

VOD = "vod-asr-1"


@dg.asset(partitions_def=transcript.partitions_def, deps=["transcript_words"])
def downstream_probe() -> None:
    """Stands in for `offsets`: must not run when asr_quality fails."""


def _run(layout: Layout, asr: dg.ConfigurableResource, *, extra: list | None = None) -> dg.ExecuteInProcessResult:
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("vods", [VOD])
    return dg.materialize(
        [transcript, transcript_tables, *(extra or [])],
        partition_key=VOD,
        resources={**build_resources(data_dir=str(layout.root), config_file=str(layout.root / "chatlab.toml")), "asr": asr},
        instance=instance,
        raise_on_error=False,
    )


def _checks(result: dg.ExecuteInProcessResult) -> dict[str, dg.AssetCheckEvaluation]:
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


def _materialized(result: dg.ExecuteInProcessResult) -> set[str]:
    return {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}


def _layout(tmp_path: Path) -> Layout:
    return Layout(tmp_path / "data").ensure()


@pytest.mark.slow
def test_transcript_asset_writes_tables_and_passes_checks(tmp_path: Path, models_dir: Path, speech_clip) -> None:  # noqa: F811
    layout = _layout(tmp_path)
    wav, truth = speech_clip
    dst = audio_path(layout, VOD)
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.write_bytes(wav.read_bytes())
    # Thresholds and vocabulary come from the settings file, per VOD.
    (layout.root / "chatlab.toml").write_text(
        f'[asr]\nmin_speech_s = 3\n[vods.{VOD}.asr]\nvocabulary = ["castle", "dragon"]\n', encoding="utf-8"
    )
    asr = AsrEngineResource(model=str(models_dir / asr_model.BUNDLED_NAME), language="en")
    result = _run(layout, asr, extra=[downstream_probe])
    assert result.success
    assert _materialized(result) == {"transcript", "transcript_segments", "transcript_words", "downstream_probe"}
    checks = _checks(result)
    assert checks["asr_quality"].passed, checks["asr_quality"].description
    assert checks["word_timestamps"].passed
    qm = checks["asr_quality"].metadata
    assert qm["speech_coverage"].value > 0.8 and qm["limit_min_speech_s"].value == 3.0

    md = next(e for e in result.get_asset_materialization_events() if e.asset_key == dg.AssetKey("transcript"))
    meta = md.materialization.metadata
    for k in ("duration_s", "real_time_factor", "words", "language", "quality_mean_logprob", "preview", "asr_version"):
        assert k in meta
    assert meta["language"].value == "en" and meta["words"].value >= 25
    assert "castle" in meta["preview"].value.lower()
    assert (transcript_dir(layout, VOD) / "transcript.json").exists()

    con = connect(layout)
    try:
        seg_cols = [r[0] for r in con.execute("describe chatlab.transcript_segments").fetchall()]
        word_cols = [r[0] for r in con.execute("describe chatlab.transcript_words").fetchall()]
        assert seg_cols == list(SEGMENTS_SCHEMA) and word_cols == list(WORDS_SCHEMA)
        n_seg, model = con.execute(
            "select count(*), any_value(asr_model) from chatlab.transcript_segments where vod_id = ?", [VOD]
        ).fetchone()
        words = con.execute(
            "select start_s, word from chatlab.transcript_words where vod_id = ? order by seg_id, word_idx", [VOD]
        ).fetchall()
    finally:
        con.close()
    assert n_seg >= len(SCRIPT) and model == "whisper-base"
    assert [w.lower() for _, w in words][:2] == ["welcome", "back"]
    # The first word after silence comes out early (faster-whisper #125): a loose bound.
    assert abs(words[0][0] - truth["segments"][0]["start"]) < 0.6


def test_asr_quality_fails_on_silence_and_blocks_downstream(tmp_path: Path, models_dir: Path) -> None:  # noqa: F811
    """Quiet noise only: VAD finds no speech, the check fails with the reason, nothing downstream runs."""
    layout = _layout(tmp_path)
    noise = np.random.default_rng(3).standard_normal(16_000 * 8).astype(np.float32) * 0.002
    dst = audio_path(layout, VOD)
    dst.parent.mkdir(parents=True, exist_ok=True)
    write_wav16(dst, noise, peak=0.01)
    asr = AsrEngineResource(model=str(models_dir / asr_model.BUNDLED_NAME), language="en")
    result = _run(layout, asr, extra=[downstream_probe])
    checks = _checks(result)
    assert not checks["asr_quality"].passed
    assert "speech detected" in checks["asr_quality"].description
    assert checks["asr_quality"].metadata["speech_s"].value < 5
    assert _materialized(result) == {"transcript"}  # tables and the probe were skipped


class LoopingEngine:
    """What Whisper does when it fails: the same sentence over and over."""

    model_name = "stub"
    version = "stub 0"
    config = EngineConfig()

    def load(self) -> None:
        pass

    def transcribe_window(self, audio: np.ndarray, language: str | None) -> WindowResult:
        words = [Word(1.0 + 0.3 * i, 1.25 + 0.3 * i, " " + w, 0.8) for i, w in enumerate("thanks for watching the stream".split() * 10)]
        seg = Segment(1.0, words[-1].end, "".join(w.word for w in words), -0.4, 0.1, 4.2, words)
        return WindowResult([seg], "en", 0.9, len(audio) / 16_000 * 0.9)


class LoopingResource(AsrEngineResource):
    def engine(self, models_dir, section=None):  # type: ignore[override]
        return LoopingEngine()


def test_asr_quality_fails_on_a_hallucination_loop(tmp_path: Path) -> None:
    layout = _layout(tmp_path)
    dst = audio_path(layout, VOD)
    dst.parent.mkdir(parents=True, exist_ok=True)
    write_wav16(dst, np.random.default_rng(4).standard_normal(16_000 * 20).astype(np.float32) * 0.1)
    result = _run(layout, LoopingResource(), extra=[downstream_probe])
    check = _checks(result)["asr_quality"]
    assert not check.passed
    assert "loop_share" in check.description and "compression" in check.description
    assert check.metadata["loop_share"].value > 0.5
    assert _materialized(result) == {"transcript"}


def test_missing_audio_is_a_clear_failure(tmp_path: Path) -> None:
    layout = _layout(tmp_path)
    result = _run(layout, LoopingResource())
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    assert "materialize the `audio` asset first" in failure.step_failure_data.user_failure_data.description
