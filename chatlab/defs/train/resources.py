"""The base model resource: which model the adapter is trained on."""

from pathlib import Path

import dagster as dg

from chatlab.train.base import ensure_base_model


class BaseModelResource(dg.ConfigurableResource):
    """``model`` empty = the bundled SmolLM2-135M-Instruct (its GGUF converted once into
    data/models/base/); otherwise a local Hugging Face model directory. The settings file's
    ``[train] base_model`` wins over the resource's value."""

    model: str = ""

    def path(self, models_dir: Path, override: str = "") -> Path:
        return ensure_base_model(models_dir, override or self.model)
