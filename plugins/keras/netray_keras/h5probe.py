"""Everything h5py reads of a user's file runs in a child Python, with a time budget.

HDF5's C library trusts a file's internal structure. On damaged files it can:

- loop forever: a zeroed block inside a global heap collection (where Keras 2 keeps
  its ``model_config`` string) leaves an object of size 0 that ``H5HG`` deserialization
  steps over by 0 bytes, for ever, in C, holding the GIL: no Python signal handler or
  thread can interrupt it;
- crash the process (SIGSEGV) on some flipped bytes of an object header;
- print its own diagnostics to the process's stderr.

netray must answer every file with a model or one line. Checking the structure
ourselves before h5py would mean re-implementing HDF5's parser (superblocks, object
headers, B-trees, local, global and fractal heaps) and still trusting h5py on what we
missed; instead the reading is isolated: a child process opens the file with h5py,
lists what the reader needs (root attributes, datasets with their shapes, dtypes and
byte offsets) and prints it as JSON, or writes one dataset as ``.npy`` bytes. A child
that runs out of time is killed, one that dies is reported with its signal, and both
become a :class:`netray.FormatError` naming the file. The cost is one Python start
with h5py per model opened (about 0.3 s); contiguous weights are then memory-mapped
in this process, without h5py.
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from netray import FormatError
from netray_keras.archive import FORMAT

if TYPE_CHECKING:
    import h5py

# Reading a model's structure takes well under a second even for thousands of datasets;
# this is a bound for a reader gone into a loop, not a performance target.
TIME_BUDGET_S = 10.0
HANDLED = 3  # the child's exit status for a failure it explains in its JSON line
ROOT_ATTRIBUTES = ("model_config", "keras_version", "backend", "training_config")
BOOTSTRAP = (
    "import json, sys; request = json.loads(sys.argv[1]); sys.path[:0] = request['sys_path']; "
    "from netray_keras.h5probe import child_main; child_main(request)"
)


@dataclass(frozen=True)
class H5Source:
    """Where the bytes of an HDF5 file are: a whole file, a window of one (a zip member stored
    uncompressed), or a compressed member of a zip archive."""

    path: Path
    window: tuple[int, int] | None = None  # (offset, size) within ``path``
    member: str | None = None  # a compressed zip member of ``path``

    def request(self) -> dict[str, Any]:
        return {"path": str(self.path), "window": list(self.window) if self.window else None, "member": self.member}

    @staticmethod
    def from_request(request: dict[str, Any]) -> H5Source:
        window = request.get("window")
        return H5Source(Path(request["path"]), tuple(window) if window else None, request.get("member"))  # type: ignore[arg-type]

    @contextmanager
    def open(self) -> Iterator[h5py.File]:
        """The file opened with h5py (in the child process)."""
        import h5py

        if self.window is not None:
            from netray.fileslice import FileSlice

            window = FileSlice(self.path, *self.window)
            try:
                with h5py.File(window, "r") as f:
                    yield f
            finally:
                window.close()
        elif self.member is not None:
            with zipfile.ZipFile(self.path) as archive, archive.open(self.member) as member, h5py.File(member, "r") as f:
                yield f
        else:
            with h5py.File(self.path, "r") as f:
                yield f


@dataclass
class H5Index:
    """What the child read: the root's Keras attributes (as text) and every stored variable."""

    attributes: dict[str, str] = field(default_factory=dict)
    root_attribute_names: list[str] = field(default_factory=list)
    root_members: list[str] = field(default_factory=list)
    by_group: dict[str, list[list[Any]]] = field(default_factory=dict)
    by_owner: dict[str, list[list[Any]]] = field(default_factory=dict)
    everything: list[list[Any]] = field(default_factory=list)
    keras3: bool = False


# -- the parent side -------------------------------------------------------------------------
def read_index(source: H5Source, layout: str) -> H5Index:
    """The attributes and weight index of an HDF5 file (``layout``: "keras2" or "keras3")."""
    answer = run_child(source, {"op": "index", "layout": layout}, "the HDF5 file's structure")
    try:
        return H5Index(**json.loads(answer))
    except (ValueError, TypeError) as exc:
        raise FormatError(source.path, FORMAT, f"the HDF5 reader's answer was not understood ({exc})") from exc


def read_dataset(source: H5Source, h5_path: str) -> np.ndarray:
    """One dataset's values, read by h5py in a child process."""
    answer = run_child(source, {"op": "read", "h5_path": h5_path}, f"weight {h5_path}")
    try:
        return np.load(io.BytesIO(answer), allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise FormatError(source.path, FORMAT, f"cannot read weight {h5_path}: {exc}") from exc


def run_child(source: H5Source, request: dict[str, Any], what: str) -> bytes:
    """Run one request in a child Python; its stdout, or a FormatError saying what went wrong."""
    path = source.path
    package_parent = str(Path(__file__).resolve().parent.parent)
    import netray

    core_parent = str(Path(netray.__file__).resolve().parent.parent)
    full = {**request, **source.request(), "sys_path": list(dict.fromkeys([package_parent, core_parent]))}
    if not sys.executable:
        raise FormatError(path, FORMAT, "reading HDF5 needs a Python interpreter to run h5py in (sys.executable is empty)")
    try:
        done = subprocess.run(
            [sys.executable, "-c", BOOTSTRAP, json.dumps(full)],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=TIME_BUDGET_S,
            env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
        )
    except subprocess.TimeoutExpired:
        raise FormatError(
            path, FORMAT, f"h5py did not finish reading {what} in {TIME_BUDGET_S:.0f} s: the HDF5 file is damaged"
        ) from None
    except OSError as exc:
        raise FormatError(path, FORMAT, f"cannot start a Python to read HDF5 in: {exc}") from exc
    if done.returncode == 0:
        return done.stdout
    if done.returncode == HANDLED:
        message = json.loads(done.stdout.decode("utf-8", "replace") or "{}").get("error", "")
        raise FormatError(path, FORMAT, message or f"cannot read {what}")
    if done.returncode < 0:
        name = signal.Signals(-done.returncode).name if -done.returncode in signal.valid_signals() else str(-done.returncode)
        raise FormatError(path, FORMAT, f"the HDF5 library crashed ({name}) reading {what}: the file is damaged")
    last = done.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or [f"status {done.returncode}"]
    raise FormatError(path, FORMAT, f"reading {what} failed: {last[0][:300]}")


# -- the child side --------------------------------------------------------------------------
def child_main(request: dict[str, Any]) -> None:
    """Serve one request: stdout gets the answer (JSON or .npy bytes), or a JSON error with status 3."""
    try:
        source = H5Source.from_request(request)
        if request["op"] == "index":
            answer = json.dumps(asdict(index_file(source, request["layout"]))).encode()
        else:
            answer = dataset_bytes(source, request["h5_path"])
    except Exception as exc:
        sys.stdout.write(json.dumps({"error": explain(exc)}))
        sys.stdout.flush()
        os._exit(HANDLED)
    sys.stdout.buffer.write(answer)
    sys.stdout.flush()
    os._exit(0)  # no interpreter teardown: h5py's cleanup of a damaged file could still go wrong


def explain(exc: Exception) -> str:
    """One line for a failure inside the child."""
    if isinstance(exc, FormatError):
        return exc.reason
    said = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc  # KeyError's str() adds quotes
    text = str(said).strip().splitlines()
    detail = text[0][:300] if text else type(exc).__name__
    if isinstance(exc, (zipfile.BadZipFile, EOFError)):
        return f"cannot read the archive member: {detail}"
    return f"cannot read the HDF5 file: {detail}"


def text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, np.ndarray) and value.shape == ():
        return text(value.item())
    return str(value)


def index_file(source: H5Source, layout: str) -> H5Index:
    from netray_keras.weights import WeightStore, index_keras2, index_keras3

    store = WeightStore(source.path, source, base_offset=None)
    with source.open() as f:
        names = list(f.attrs.keys())
        index = H5Index(root_attribute_names=[str(n) for n in names], root_members=[str(n) for n in f.keys()])
        for key in ROOT_ATTRIBUTES:
            if key in names:
                index.attributes[key] = text(f.attrs[key])
        if layout == "keras3":
            index_keras3(store, f)
        elif "model_config" in names:
            index_keras2(store, f)
    index.by_group = {k: [list(astuple_info(i)) for i in v] for k, v in store.by_group.items()}
    index.by_owner = {k: [list(astuple_info(i)) for i in v] for k, v in store.by_owner.items()}
    index.everything = [list(astuple_info(i)) for i in store.everything]
    index.keras3 = store.keras3
    return index


def astuple_info(info: Any) -> tuple[Any, ...]:
    return (info.name, info.h5_path, list(info.shape), info.dtype, info.offset, info.nbytes)


def dataset_bytes(source: H5Source, h5_path: str) -> bytes:
    import h5py

    with source.open() as f:
        dataset = f[h5_path]
        if not isinstance(dataset, h5py.Dataset):
            raise FormatError(source.path, FORMAT, f"{h5_path} is not a dataset")
        values = np.asarray(dataset[()])
    if values.dtype.hasobject:
        raise FormatError(source.path, FORMAT, f"weight {h5_path} holds Python objects, which netray does not read")
    out = io.BytesIO()
    np.save(out, values, allow_pickle=False)
    return out.getvalue()
