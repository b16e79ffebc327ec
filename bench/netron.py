"""Netron's time to a drawn graph, in headless Chromium, for comparison with netray.

Serves a model with the ``netron`` PyPI package (its own process, on localhost),
starts a fresh headless Chromium and drives it over the Chrome DevTools Protocol
(``websocket-client``). The clock starts just before navigation and stops when
Netron has finished layout and placed its SVG: ``#canvas`` holds ``.graph-node``
elements and has the ``viewBox`` Netron sets only after layout (view.js ``restore``).

Neither netron nor Chromium is a dependency of netray: this script reports
"unavailable" when either is missing. Install for benchmarking only:
``pip install netron websocket-client`` and ``apt-get install chromium``.

    python bench/netron.py MODEL.onnx [--timeout 300] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

CHROMIUM_CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--window-size=1600,1000",
)
# True once Netron's layout is done and the SVG is placed (see the module docstring).
GRAPH_DRAWN_JS = """(() => {
  const canvas = document.getElementById('canvas');
  if (!canvas || !canvas.getAttribute('viewBox')) return 0;
  return canvas.getElementsByClassName('graph-node').length;
})()"""
# Netron's error dialog text (view.error shows it with body class "alert"), if it failed.
ERROR_JS = """(() => {
  const text = document.getElementById('message-text');
  return document.body && document.body.classList.contains('alert') && text ? text.innerText : '';
})()"""


@dataclass
class NetronResult:
    """One measurement: ``status`` is ok, timeout, crashed, error or unavailable."""

    status: str
    ready_s: float | None = None
    drawn_nodes: int | None = None
    browser_peak_rss_mb: float | None = None
    detail: str = ""
    gave_up_after_s: float | None = None  # for timeout/crashed/error: when it ended


def find_chromium() -> str | None:
    for name in CHROMIUM_CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


def netron_version() -> str | None:
    """The installed netron package's version, asked in a clean process.

    A subprocess in another folder, because this file is itself named netron.py.
    """
    try:
        done = subprocess.run(
            [sys.executable, "-c", "import netron; print(netron.__version__)"],
            cwd=tempfile.gettempdir(),
            capture_output=True,
            text=True,
            timeout=60,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def websocket_available() -> bool:
    try:
        import websocket  # noqa: F401
    except ImportError:
        return False
    return True


def unavailable_reason() -> str | None:
    """Why Netron cannot be measured here, or None when it can."""
    missing = []
    if netron_version() is None:
        missing.append("netron (pip install netron)")
    if not websocket_available():
        missing.append("websocket-client (pip install websocket-client)")
    if find_chromium() is None:
        missing.append("chromium (apt-get install chromium)")
    return ("missing " + ", ".join(missing)) if missing else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_http(url: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                response.read(1)
                return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"nothing answered at {url} within {timeout:.0f} s") from None
            time.sleep(0.05)


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """End a process we started (its whole session, since Chromium forks helpers)."""
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


@contextmanager
def netron_server(model: Path) -> Iterator[str]:
    """Serve ``model`` with netron on a free localhost port; yields the page URL."""
    port = free_port()
    code = "import sys, netron; sys.argv = ['netron', *sys.argv[1:]]; netron.main()"
    process = subprocess.Popen(
        [sys.executable, "-c", code, str(model.resolve()), "--port", str(port), "--verbosity", "quiet"],
        cwd=tempfile.gettempdir(),  # not bench/, whose netron.py would shadow the package
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        url = f"http://localhost:{port}/"
        wait_for_http(url, 60)
        yield url
    finally:
        stop_process(process)


@contextmanager
def headless_chromium(executable: str) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A fresh headless Chromium; yields (DevTools websocket URL of its page, process)."""
    with tempfile.TemporaryDirectory(prefix="netray-bench-chromium-") as profile:
        process = subprocess.Popen(
            [executable, *CHROMIUM_FLAGS, "--remote-debugging-port=0", f"--user-data-dir={profile}", "about:blank"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            port_file = Path(profile) / "DevToolsActivePort"
            deadline = time.monotonic() + 60
            while not (port_file.is_file() and port_file.read_text().strip()):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("chromium did not start its DevTools endpoint")
                time.sleep(0.05)
            port = int(port_file.read_text().split()[0])
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as response:
                targets = json.loads(response.read())
            page = next(t for t in targets if t.get("type") == "page")
            yield page["webSocketDebuggerUrl"], process
        finally:
            stop_process(process)


class DevTools:
    """A minimal synchronous Chrome DevTools Protocol client over one websocket."""

    def __init__(self, url: str) -> None:
        import websocket

        self._socket = websocket.create_connection(url, timeout=30, suppress_origin=True)
        self._next_id = 0
        self.crashed = False

    def close(self) -> None:
        self._socket.close()

    def call(self, method: str, timeout: float = 30, **params: Any) -> dict[str, Any]:
        """Send one command and wait for its answer; events seen on the way are noted."""
        self._next_id += 1
        request_id = self._next_id
        self._socket.send(json.dumps({"id": request_id, "method": method, "params": params}))
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"DevTools {method} did not answer in {timeout:.0f} s")
            self._socket.settimeout(remaining)
            message = json.loads(self._socket.recv())
            if message.get("method") in ("Inspector.targetCrashed", "Inspector.detached"):
                self.crashed = True
                raise RuntimeError(f"the page crashed ({message['method']})")
            if message.get("id") == request_id:
                if "error" in message:
                    raise RuntimeError(f"DevTools {method}: {message['error'].get('message')}")
                result: dict[str, Any] = message.get("result", {})
                return result

    def evaluate(self, expression: str, timeout: float = 30) -> Any:
        result = self.call("Runtime.evaluate", timeout=timeout, expression=expression, returnByValue=True)
        return result.get("result", {}).get("value")


def process_tree_rss_mb(root_pid: int) -> float:
    """Resident memory of a process and its descendants now (Linux /proc), in MB."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    page = os.sysconf("SC_PAGE_SIZE")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            statm = (entry / "statm").read_text().split()
        except OSError:
            continue
        pid = int(entry.name)
        children.setdefault(int(stat[1]), []).append(pid)
        rss[pid] = int(statm[1]) * page
    total, stack = 0, [root_pid]
    while stack:
        pid = stack.pop()
        total += rss.get(pid, 0)
        stack.extend(children.get(pid, []))
    return total / 1e6


def measure(model: Path, timeout: float = 300.0, poll_s: float = 0.05) -> NetronResult:
    """Time from navigation to Netron's drawn graph of ``model`` in headless Chromium."""
    reason = unavailable_reason()
    if reason:
        return NetronResult("unavailable", detail=reason)
    chromium = find_chromium()
    assert chromium is not None
    with netron_server(model) as url, headless_chromium(chromium) as (devtools_url, browser):
        tools = DevTools(devtools_url)
        peak_rss = 0.0
        started = time.monotonic()  # reset just before navigation
        try:
            tools.call("Page.enable")
            tools.call("Runtime.enable")
            # Netron asks for cookie consent on first visit, after trying ipinfo.io for up to
            # 2 s; a returning user has the cookie, so give it one and skip both.
            tools.call("Network.setCookie", name="consent", value=str(int(time.time() * 1000)), url=url)
            started = time.monotonic()
            tools.call("Page.navigate", url=url)
            while True:
                elapsed = time.monotonic() - started
                if elapsed > timeout:
                    return NetronResult(
                        "timeout", detail=f"no drawn graph after {timeout:.0f} s", gave_up_after_s=round(elapsed, 1)
                    )
                if browser.poll() is not None:
                    detail = f"chromium exited with status {browser.returncode}"
                    return NetronResult("crashed", detail=detail, gave_up_after_s=round(elapsed, 1))
                # A page busy laying out answers late; the answer time is what counts.
                drawn = tools.evaluate(GRAPH_DRAWN_JS, timeout=max(1.0, timeout - elapsed))
                if drawn:
                    ready = time.monotonic() - started
                    peak_rss = max(peak_rss, process_tree_rss_mb(browser.pid))
                    return NetronResult("ok", round(ready, 3), int(drawn), round(peak_rss, 1))
                error = tools.evaluate(ERROR_JS)
                if error:
                    return NetronResult("error", detail=str(error)[:200])
                peak_rss = max(peak_rss, process_tree_rss_mb(browser.pid))
                time.sleep(poll_s)
        except TimeoutError as exc:
            return NetronResult("timeout", detail=str(exc), gave_up_after_s=round(time.monotonic() - started, 1))
        except (RuntimeError, OSError) as exc:
            status = "crashed" if tools.crashed or browser.poll() is not None else "error"
            gave_up = round(time.monotonic() - started, 1)
            return NetronResult(status, detail=str(exc)[:200], gave_up_after_s=gave_up)
        finally:
            tools.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Netron's time to a drawn graph in headless Chromium.")
    parser.add_argument("models", nargs="+", type=Path)
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per model (default 300)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    results = {str(path): asdict(measure(path, args.timeout)) for path in args.models}
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        for path, result in results.items():
            ready = f"{result['ready_s']:.2f} s" if result["ready_s"] is not None else result["status"]
            print(f"{Path(path).name:30} {ready:>10}  {result['detail']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
