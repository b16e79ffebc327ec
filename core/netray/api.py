"""The public Python API: ``netray.load_model`` and friends."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from netray.ir import Model
from netray.plugins import get_manager


def load_model(source: str | Path | Any, **options: Any) -> Model:
    """Load a model from a path (any installed format, chosen by content) or an in-memory object.

    In-memory objects (``onnx.ModelProto``, ``torch.nn.Module`` with
    ``example_inputs=...``, ``keras.Model``) go to the plugin that knows them.
    Raises ``netray.FormatError`` when the file cannot be read.
    """
    manager = get_manager()
    if isinstance(source, (str, Path)):
        return manager.load(Path(source))
    return manager.load_object(source, options)
