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


def export(
    source: Model | str | Path | Any,
    path: str | Path,
    *,
    expand: str | int = "auto",
    direction: str = "TB",
    theme: str = "light",
    graph: int | str = 0,
    weights: bool = True,
    **picture: Any,
) -> Path:
    """Write a model to ``path``: ``.svg``, ``.png``, ``.pdf``, ``.json`` or ``.netray``, by extension.

    ``source`` is a Model, a model file's path or an in-memory model. Pictures are
    drawn like the viewer draws them (``expand``: auto, none, all or a depth;
    ``direction``: TB or LR; ``theme``: light or dark; ``graph``: an index or a
    graph's name; and the viewer's View options: ``expand_groups`` and ``collapse_groups``
    (group ids, labels or patterns), ``fold_constants``, ``text`` (a
    :class:`netray.labels.BoxText`), ``edge_labels``) and need no display; ``metric``
    (a Metric, a cost's name, or a metric's name in ``node_data``; ``dims`` for costs)
    colours the boxes with a legend, as the viewer's overlay. ``weights`` applies to ``.netray``. Written
    beside ``path`` and renamed into place. Raises ``netray.exporter.ExportError``
    (a ValueError) for an unknown extension or option, FormatError for an unreadable
    model; see docs/api.md.
    """
    from netray.exporter import export_model

    return export_model(source, path, expand=expand, direction=direction, theme=theme, graph=graph, weights=weights, **picture)


def show(source: Model | str | Path | Any, **options: Any) -> Any:
    """Show a model: the viewer window in a script, an inline picture in a notebook.

    In a Jupyter, JupyterLab or VS Code notebook returns a
    :class:`netray.notebook.ModelView` that renders inline (options as for
    :func:`export`) and whose ``.window()`` opens the interactive viewer in a
    separate process. Elsewhere opens the viewer window and returns when it closes.
    """
    from netray.notebook import show_model

    return show_model(source, **options)
