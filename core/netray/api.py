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


def save_model(model: Model, path: str | Path, weights: bool = True) -> Path:
    """Write ``model`` as a portable ``.netray`` file that ``load_model`` opens again.

    With ``weights`` every tensor's values are stored too (uncompressed, memory-mapped
    on reading); without, tensors keep their dtype and shape only. The file is
    written beside ``path`` and renamed into place.
    """
    from netray import netrayfile

    return netrayfile.save(model, path, weights=weights)
