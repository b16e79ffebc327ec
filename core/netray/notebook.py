"""``netray.show``: the viewer window in a script, an inline picture in a notebook.

In Jupyter, JupyterLab, VS Code or any other IPython kernel, :func:`show_model`
returns a :class:`ModelView`, which the notebook renders as a picture of the graph
(SVG, drawn by the core without Qt, or PNG for very large graphs where the viewer is
installed) with a caption. ``view.window()`` opens the
real, interactive viewer in a separate process (``python -m netray.cli open``), so
the kernel stays free. Qt is imported only when a picture is drawn.
"""

from __future__ import annotations

import base64
import html
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from netray.exporter import (
    DIRECTIONS,
    THEMES,
    check_choice,
    expand_mode,
    headless,
    pick_graph,
    render_picture,
    resolve_model,
)
from netray.ir import Model

MAX_INLINE_SVG = 2 << 20  # bytes; beyond this the inline picture is a PNG, lighter for the notebook
_platform_chosen_here = False  # whether this module set QT_QPA_PLATFORM (so viewer processes must not inherit it)


def prefer_offscreen() -> None:
    """Draw inline pictures on Qt's offscreen platform unless the user chose one.

    A picture needs no display, and a kernel whose DISPLAY is stale (an old ssh
    session) would otherwise abort when Qt fails to connect to it.
    """
    global _platform_chosen_here
    if "QT_QPA_PLATFORM" not in os.environ:
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
        _platform_chosen_here = True


def viewer_environment() -> dict[str, str]:
    """The environment for a viewer process: ours, less the offscreen platform chosen for pictures."""
    env = dict(os.environ)
    if _platform_chosen_here:
        env.pop("QT_QPA_PLATFORM", None)
    return env


def in_notebook() -> bool:
    """Whether this code runs in an IPython kernel (Jupyter, JupyterLab, VS Code, Colab), not a plain interpreter."""
    ipython_module = sys.modules.get("IPython")
    if ipython_module is None:
        return False  # a kernel always has IPython imported; no need to import it here
    shell = ipython_module.get_ipython()
    if shell is None:
        return False
    return "IPKernelApp" in getattr(shell, "config", {}) or type(shell).__name__ == "ZMQInteractiveShell"


def source_file(source: Any, model: Model) -> Path | None:
    """The model file to hand to a viewer process: the path given, or the file a Model was read from."""
    if isinstance(source, (str, Path)):
        return Path(source)
    if model.source is not None and Path(model.source).exists():
        return Path(model.source)
    return None


def saved_copy(model: Model) -> Path:
    """A temporary .netray file of ``model`` for a viewer process (structure only if values cannot be read)."""
    from netray.api import save_model
    from netray.errors import FormatError

    folder = Path(tempfile.mkdtemp(prefix="netray-show-"))
    path = folder / "model.netray"
    try:
        return save_model(model, path, weights=True)
    except FormatError:
        return save_model(model, path, weights=False)


def viewer_installed() -> bool:
    """Whether the viewer application (which draws PNGs) is installed; without it pictures stay SVG."""
    from netray.app import ViewerMissing, viewer

    try:
        viewer()
    except ViewerMissing:
        return False
    return True


class ModelView:
    """A model as shown in a notebook: an inline picture, and ``window()`` for the interactive viewer."""

    def __init__(
        self,
        model: Model,
        file: Path | None = None,
        *,
        expand: str | int = "auto",
        direction: str = "TB",
        theme: str = "light",
        graph: int | str = 0,
    ) -> None:
        self.model = model
        self.file = file
        self.expand = expand_mode(expand)
        self.direction = check_choice("direction", direction, DIRECTIONS)
        self.theme = check_choice("theme", theme, THEMES)
        self.graph = pick_graph(model, graph)
        self._pictures: dict[str, bytes] = {}

    def picture(self, fmt: str) -> bytes:
        """The graph drawn as ``fmt`` (".svg", ".png" or ".pdf"), drawn once and kept."""
        if fmt not in self._pictures:
            prefer_offscreen()
            self._pictures[fmt] = render_picture(self.graph, fmt, expand=self.expand, direction=self.direction, theme=self.theme)
        return self._pictures[fmt]

    def svg(self) -> str:
        """The picture as SVG text (labels are <text> elements)."""
        return self.picture(".svg").decode("utf-8")

    def png(self) -> bytes:
        """The picture as PNG bytes."""
        return self.picture(".png")

    def caption(self) -> str:
        ops = len(self.graph.nodes)
        where = f" of {self.file.name}" if self.file is not None else ""
        return f"netray: {self.model.format} graph {self.graph.name or 'main'!r}{where}, {ops} operations. Call .window() on this object to open the interactive viewer."

    def __repr__(self) -> str:
        return f"<netray.ModelView {self.model.format} {self.graph.name or 'main'!r}: {len(self.graph.nodes)} operations; .window() opens the viewer>"

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        """The notebook's rich output: the picture (SVG, or PNG when large) with a caption in HTML."""
        svg = self.picture(".svg")
        bundle: dict[str, Any] = {"text/plain": repr(self)}
        if len(svg) <= MAX_INLINE_SVG or not viewer_installed():
            bundle["image/svg+xml"] = svg.decode("utf-8")
            src = "data:image/svg+xml;base64," + base64.b64encode(svg).decode("ascii")
        else:
            png = base64.b64encode(self.png()).decode("ascii")
            bundle["image/png"] = png
            src = "data:image/png;base64," + png
        bundle["text/html"] = (
            f'<div class="netray-view"><img src="{src}" alt="{html.escape(self.graph.name or "graph")}" style="max-width:100%">'
            f'<div style="font-size:smaller;opacity:0.7">{html.escape(self.caption())}</div></div>'
        )
        return bundle

    def window(self) -> subprocess.Popen[bytes]:
        """Open the interactive viewer on this model in a separate process and return that process.

        In-memory models are first saved to a temporary .netray file. Raises
        RuntimeError when there is no display to show a window on.
        """
        if headless():
            raise RuntimeError("no display to open a window on (DISPLAY and WAYLAND_DISPLAY are unset); the inline picture is what this machine can show")
        file = self.file if self.file is not None else saved_copy(self.model)
        self.file = file
        command = [sys.executable, "-m", "netray.cli", "open", str(file), "--expand", self.expand]
        return subprocess.Popen(command, stdin=subprocess.DEVNULL, env=viewer_environment(), start_new_session=True)


def show_model(source: Model | str | Path | Any, **options: Any) -> ModelView | int:
    """See :func:`netray.show`. Returns the ModelView in a notebook, else the viewer's exit code."""
    model = resolve_model(source)
    file = source_file(source, model)
    if in_notebook():
        return ModelView(model, file, **options)
    if headless():
        raise RuntimeError("netray.show needs a display for its window; on a headless machine use netray.export(model, 'model.svg')")
    expand = expand_mode(options.get("expand", "auto"))
    from netray.app import viewer

    front = viewer("netray.show's window")
    return int(front.run(str(file if file is not None else saved_copy(model)), expand=expand))
