"""``netray.export``: write a model as a picture (.svg .png .pdf), as JSON or as a .netray file.

Qt-free: it checks the options and picks the writer by the target's extension.
``.svg`` is written by the core itself from the laid-out Scene (:mod:`netray.svg`);
``.png`` and ``.pdf`` need the viewer application's painters, found through its
entry point (:mod:`netray.app`), and no display: on a headless Linux machine the
Qt ``offscreen`` platform is chosen before any QApplication exists.

(Named ``exporter`` rather than ``export`` so that importing it never replaces
the ``netray.export`` function with a module of the same name.)

The ``.json`` schema is netray's own graph document, the ``netray.json`` member
of a ``.netray`` file (see :mod:`netray.netrayfile`): ``{"format": "netray",
"version", "model", "graphs", "main", "functions", "values", "tensors"}`` with
tensors described (dtype, shape) but no values.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from netray.app import viewer
from netray.atomic import replacing
from netray.ir import Graph, Model
from netray.labels import DEFAULT_TEXT, BoxText
from netray.netrayfile import model_json
from netray.scene import Scene

if TYPE_CHECKING:
    from netray.hierarchy import Hierarchy
    from netray.metrics import Metric

PICTURE_FORMATS = (".svg", ".png", ".pdf")
EXPORT_FORMATS = (*PICTURE_FORMATS, ".json", ".netray")
EXPAND_MODES = ("auto", "none", "all")
DIRECTIONS = ("TB", "LR")
THEMES = ("light", "dark")


class ExportError(ValueError):
    """An export that cannot be done as asked: unknown extension, bad option, no such graph."""


@dataclass(frozen=True)
class Picture:
    """How a graph is drawn: the viewer's expansion and View settings, as ``netray export`` takes them.

    ``expand`` is a mode (auto, none, all or a depth); ``expand_groups`` and
    ``collapse_groups`` then open or close groups by id, label or shell pattern
    (:meth:`netray.hierarchy.Hierarchy.with_groups`). ``fold_constants`` draws constant
    nodes inside their consumers (as Netron does); ``text`` says what boxes show;
    ``edge_labels`` draws tensor shapes on edges.
    """

    expand: str = "auto"
    expand_groups: tuple[str, ...] = ()
    collapse_groups: tuple[str, ...] = ()
    direction: str = "TB"
    theme: str = "light"
    fold_constants: bool = True
    text: BoxText = field(default=DEFAULT_TEXT)
    edge_labels: bool = True

    def checked(self) -> Picture:
        """The same options, validated (ExportError names the bad one)."""
        check_choice("direction", self.direction, DIRECTIONS)
        check_choice("theme", self.theme, THEMES)
        return Picture(
            expand_mode(self.expand),
            tuple(self.expand_groups),
            tuple(self.collapse_groups),
            self.direction,
            self.theme,
            self.fold_constants,
            self.text,
            self.edge_labels,
        )


def resolve_model(source: Model | str | Path | Any) -> Model:
    """``source`` itself if it is a loaded Model, else ``netray.load_model(source)``."""
    if isinstance(source, Model):
        return source
    from netray.api import load_model

    return load_model(source)


def export_format(path: str | Path) -> str:
    """The writer for ``path``'s extension (".svg", ...); ExportError for anything else."""
    suffix = Path(path).suffix.lower()
    if suffix not in EXPORT_FORMATS:
        shown = suffix or "no extension"
        raise ExportError(f"{path}: cannot export to {shown}; use one of {', '.join(EXPORT_FORMATS)}")
    return suffix


def expand_mode(expand: str | int) -> str:
    """``expand`` as the viewer's mode string: auto, none, all or a depth ("2")."""
    if isinstance(expand, bool):
        raise ExportError(f"expand must be auto, none, all or a depth, not {expand!r}")
    if isinstance(expand, int):
        if expand < 0:
            raise ExportError(f"expand depth must be 0 or more, not {expand}")
        return str(expand)
    mode = str(expand).strip().lower()
    if mode in EXPAND_MODES or mode.isdigit():
        return mode
    raise ExportError(f"expand must be auto, none, all or a depth, not {expand!r}")


def check_choice(name: str, value: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise ExportError(f"{name} must be one of {', '.join(choices)}, not {value!r}")
    return value


def pick_graph(model: Model, graph: int | str) -> Graph:
    """The graph to draw: an index into ``model.graphs`` or the name of any graph (subgraphs too)."""
    if not model.graphs:
        raise ExportError(
            f"the model holds weights only ({len(model.tensors)} tensors) and no graph to draw; "
            "export it as .json or .netray, or open it in the viewer to browse its tensors"
        )
    if isinstance(graph, int) and not isinstance(graph, bool):
        if not 0 <= graph < len(model.graphs):
            raise ExportError(f"graph {graph} does not exist: the model has {len(model.graphs)} top-level graph(s)")
        return model.graphs[graph]
    for g in model.all_graphs():
        if g.name == graph:
            return g
    names = sorted({g.name for g in model.all_graphs() if g.name})
    listed = ", ".join(repr(n) for n in names[:20]) + (" ..." if len(names) > 20 else "")
    raise ExportError(f"no graph named {graph!r}; the model has {listed or 'only unnamed graphs'}")


def headless() -> bool:
    """Whether this is a Linux/BSD session with no X11 or Wayland display to show windows on."""
    if sys.platform in ("darwin", "win32"):
        return False
    return not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def prepare_qt_platform() -> None:
    """Choose Qt's offscreen platform when there is no display (call before creating a QApplication).

    A user on a headless server sets nothing; an explicit QT_QPA_PLATFORM is kept.
    """
    if headless():
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def write_bytes(path: Path, data: bytes) -> Path:
    with replacing(path) as tmp:
        tmp.write_bytes(data)
    return path


def export_model(
    source: Model | str | Path | Any,
    path: str | Path,
    *,
    expand: str | int = "auto",
    direction: str = "TB",
    theme: str = "light",
    graph: int | str = 0,
    weights: bool = True,
    expand_groups: Iterable[str] = (),
    collapse_groups: Iterable[str] = (),
    fold_constants: bool = True,
    text: BoxText = DEFAULT_TEXT,
    edge_labels: bool = True,
    metric: Metric | str | None = None,
    node_data: str | Path | None = None,
    dims: Mapping[str, int] | None = None,
) -> Path:
    """Write ``source`` (a Model, a model file's path or an in-memory model) to ``path``.

    The extension picks the writer: ``.svg``, ``.png``, ``.pdf`` (the graph as the
    viewer draws it, whole, at full detail), ``.json`` (netray's graph document) or
    ``.netray`` (:func:`netray.save_model`, with tensor values unless
    ``weights=False``). ``graph`` and the options of :class:`Picture` (``expand``,
    ``expand_groups``, ``collapse_groups``, ``direction``, ``theme``,
    ``fold_constants``, ``text``, ``edge_labels``) shape pictures only. ``metric``
    colours a picture's boxes as the viewer's overlay does, with its legend: a
    :class:`netray.metrics.Metric`, the name of one in the ``node_data`` file, or the
    name of a cost (MACs, FLOPs, parameters, weight bytes, activation bytes, arithmetic
    intensity; named dimensions from ``dims``); such pictures need the viewer, SVG too.
    Returns the path written. Raises ExportError for a bad extension or option (a group pattern
    matching nothing too), FormatError when the model cannot be read, OSError when
    the target cannot be written.
    """
    target = Path(path)
    fmt = export_format(target)
    picture = Picture(
        expand_mode(expand), tuple(expand_groups), tuple(collapse_groups), direction, theme, fold_constants, text, edge_labels
    ).checked()
    if not target.parent.is_dir():
        raise ExportError(f"{target}: the folder {target.parent} does not exist")
    model = resolve_model(source)
    if fmt == ".netray":
        from netray.api import save_model

        return save_model(model, target, weights=weights)
    if fmt == ".json":
        return write_bytes(target, model_json(model).encode("utf-8"))
    chosen = pick_graph(model, graph)
    colour_by = resolve_metric(model, chosen, metric, node_data, dims)
    scene, hierarchy = layout_picture(chosen, picture)
    data = render_scene_picture(scene, fmt, picture, chosen.name, (colour_by, hierarchy) if colour_by is not None else None)
    return write_bytes(target, data)


def resolve_metric(
    model: Model, graph: Graph, metric: Metric | str | None, node_data: str | Path | None, dims: Mapping[str, int] | None
) -> Metric | None:
    """The metric a picture is coloured by: ``metric`` itself, or the one of that name among the
    ``node_data`` file's or ``graph``'s costs (ExportError naming the choices when none matches)."""
    from netray.metrics import Metric, load_node_data

    if isinstance(metric, Metric):
        return metric
    if metric is None and node_data is None:
        return None
    if node_data is not None:
        found = load_node_data(node_data, model)
        where = f"in {Path(node_data).name}"
        if metric is None and len(found) == 1:
            return found[0]
    else:
        from netray.costs import compute_costs

        found = compute_costs(model, graph, dims=dims).metrics()
        where = "among the costs"
    wanted = str(metric or "").strip().lower()
    for candidate in found:
        if candidate.name.lower() == wanted:
            return candidate
    names = ", ".join(repr(m.name) for m in found)
    raise ExportError(f"no metric named {metric!r} {where}; choose one of {names}" if metric else f"choose a metric {where}: {names}")


def layout_picture(graph: Graph, picture: Picture) -> tuple[Scene, Hierarchy]:
    """Lay out ``graph`` as ``picture`` asks (its expansion, direction, folding and box text), with its hierarchy."""
    from netray.hierarchy import Hierarchy
    from netray.layout import LayoutCache

    hierarchy = Hierarchy.build(graph)
    try:
        expanded = hierarchy.with_groups(hierarchy.expanded_for(picture.expand), picture.expand_groups, picture.collapse_groups)
    except ValueError as exc:
        raise ExportError(str(exc)) from exc
    cache = LayoutCache(graph, hierarchy, direction=picture.direction, fold_constants=picture.fold_constants, text=picture.text)
    return cache.scene(expanded), hierarchy


def build_picture_scene(graph: Graph, picture: Picture) -> Scene:
    """Lay out ``graph`` as ``picture`` asks: its expansion, direction, folding and box text."""
    return layout_picture(graph, picture)[0]


def build_scene(graph: Graph, expand: str = "auto", direction: str = "TB") -> Scene:
    """Lay out ``graph`` with its groups expanded as the viewer would for ``expand`` (other options as by default)."""
    return build_picture_scene(graph, Picture(expand=expand, direction=direction).checked())


def render_scene_picture(
    scene: Scene, fmt: str, picture: Picture, title: str = "", overlay: tuple[Metric, Hierarchy | None] | None = None
) -> bytes:
    """``scene`` drawn as ``fmt`` (".svg", ".png" or ".pdf") bytes in ``picture``'s theme.

    SVG is drawn here, without Qt; PNG and PDF by the viewer's painters, offscreen if
    headless (:class:`netray.app.ViewerMissing` when the viewer is not installed), and
    so is every picture coloured by an ``overlay`` (a metric, and the hierarchy whose
    collapsed groups take its totals): the overlay's colours and legend are the viewer's.
    """
    if fmt == ".svg" and overlay is None:
        from netray.palette import palette_named
        from netray.svg import scene_svg

        return scene_svg(scene, palette_named(picture.theme), title, edge_labels=picture.edge_labels)
    front = viewer(f"{fmt[1:].upper()} export" + (" coloured by a metric" if overlay is not None else ""))
    prepare_qt_platform()
    colour_by: dict[str, Any] = {"metric": overlay[0], "hierarchy": overlay[1]} if overlay is not None else {}
    data: bytes = front.render_scene(scene, fmt, theme=picture.theme, title=title, edge_labels=picture.edge_labels, **colour_by)
    return data


def render_picture(graph: Graph, fmt: str, *, expand: str = "auto", direction: str = "TB", theme: str = "light") -> bytes:
    """``graph`` drawn as ``fmt`` (".svg", ".png" or ".pdf") bytes, with the other options as by default."""
    picture = Picture(expand=expand, direction=direction, theme=theme).checked()
    return render_scene_picture(build_picture_scene(graph, picture), fmt, picture, graph.name)
