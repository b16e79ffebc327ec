"""Where the time of opening one model goes, phase by phase, in this process.

    QT_QPA_PLATFORM=offscreen .venv/bin/python bench/startup.py MODEL

Prints seconds since the interpreter started running this script for each phase:
imports (netray, plugins, Qt, pyqtgraph, the viewer), the window, reading, grouping,
and the viewer's own open (read, group, lay out in its worker) up to the first grab.
"""

from __future__ import annotations

import os
import sys
import time

T0 = time.monotonic()
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # as netray.cli.main does, before numpy loads


def mark(phase: str) -> None:
    print(f"{time.monotonic() - T0:7.3f} s  {phase}")


def main(path: str) -> None:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    import netray

    mark("import netray")
    from netray.plugins import get_manager

    get_manager()
    mark("plugins discovered and imported")
    from PyQt6.QtWidgets import QApplication  # noqa: F401

    mark("import PyQt6")
    import pyqtgraph  # noqa: F401

    mark("import pyqtgraph")
    from netray_viewer.app import application
    from netray_viewer.navigation import Navigation
    from netray_viewer.window import MainWindow

    mark("import the viewer")
    app = application()
    window = MainWindow(expand="auto")
    window.resize(1600, 1000)
    window.show()
    app.processEvents()
    mark("window shown")
    model = netray.load_model(path)
    mark(f"read ({len(model.main.nodes):,} operations)")
    Navigation(model, "auto")
    mark("grouped")
    window.open_file(path, block=True)
    mark("the viewer's open: read, group, lay out (again, in its worker)")
    window.grab()
    mark("first complete draw")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
