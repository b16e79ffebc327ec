"""`netray open` on a real X server (Xvfb), not Qt's offscreen platform: the path a user's
desktop takes, with Qt's xcb plugin and its system libraries."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "docs" / "sample" / "netray-sample.onnx"

pytestmark = pytest.mark.skipif(
    shutil.which("Xvfb") is None or shutil.which("xwininfo") is None,
    reason="needs Xvfb and xwininfo (Debian: xvfb, x11-utils; .ci/run installs them)",
)


def free_display() -> str:
    for number in range(90, 140):
        if not Path(f"/tmp/.X11-unix/X{number}").exists() and not Path(f"/tmp/.X{number}-lock").exists():
            return f":{number}"
    raise RuntimeError("no free X display number")


def window_titles(display: str) -> str:
    result = subprocess.run(["xwininfo", "-root", "-tree"], env={**os.environ, "DISPLAY": display}, capture_output=True, text=True, timeout=10)
    return result.stdout


def test_open_shows_the_window_on_an_x_server() -> None:
    display = free_display()
    server = subprocess.Popen(["Xvfb", display, "-screen", "0", "1600x1000x24"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    env = {k: v for k, v in os.environ.items() if k != "QT_QPA_PLATFORM"}
    env["DISPLAY"] = display
    viewer = None
    try:
        for _ in range(100):  # the server's socket appears when it is ready
            if Path(f"/tmp/.X11-unix/X{display[1:]}").exists():
                break
            time.sleep(0.05)
        viewer = subprocess.Popen(
            [sys.executable, "-m", "netray.cli", "open", str(SAMPLE)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        deadline = time.monotonic() + 60
        title = f"{SAMPLE.name} — netray"
        while title not in window_titles(display):
            assert viewer.poll() is None, f"the viewer exited: {viewer.communicate()[1][-2000:]}"
            assert time.monotonic() < deadline, "no window titled with the model's name within 60 s"
            time.sleep(0.2)
        time.sleep(1.0)  # opened and laid out: still running, no crash
        assert viewer.poll() is None, viewer.communicate()[1][-2000:]
    finally:
        if viewer is not None:
            viewer.terminate()
            try:
                _, stderr = viewer.communicate(timeout=10)
            except subprocess.TimeoutExpired:
                viewer.kill()
                _, stderr = viewer.communicate()
            assert "Traceback" not in stderr, stderr
        server.terminate()
        server.wait(timeout=10)
