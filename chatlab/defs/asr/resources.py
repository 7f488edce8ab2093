"""The ASR engine resource: which backend and model, on which device; the settings file's
``[asr]`` section (and ``[vods.<id>.asr]``) is laid over it per VOD."""


from typing import Any

import dagster as dg

from chatlab.asr.engine import Engine, EngineConfig, make_engine
from chatlab.asr.transcribe import DEFAULT_WINDOW_S


class AsrEngineResource(dg.ConfigurableResource):
    """Speech recognition engine. ``model`` empty = the bundled Whisper base (assembled once
    into data/models/whisper-base); any CTranslate2 Whisper directory otherwise."""

    backend: str = "faster-whisper"
    model: str = ""
    device: str = "auto"
    compute_type: str = "auto"
    batched: bool = True
    batch_size: int = 8
    beam_size: int = 5
    cpu_threads: int = 0
    language: str = ""
    vocabulary: list[str] = []
    vocabulary_mode: str = "prompt"
    window_s: float = DEFAULT_WINDOW_S
    align_model: str = ""

    def merged(self, section: dict[str, Any]) -> dict[str, Any]:
        """Resource config with the settings section over it; vocabularies add up (global names
        from the resource, a VOD's own names from its section)."""
        values = self.model_dump() if hasattr(self, "model_dump") else dict(self.__dict__)
        for k, v in section.items():
            if k == "vocabulary":
                extra = [x.strip() for x in (v.split(",") if isinstance(v, str) else v) if str(x).strip()]
                values["vocabulary"] = list(dict.fromkeys([*values.get("vocabulary", []), *extra]))
            else:
                values[k] = v
        return values

    def engine(self, models_dir: Any, section: dict[str, Any] | None = None) -> Engine:
        return make_engine(EngineConfig.from_mapping(self.merged(section or {})), models_dir)
