"""Running an ONNX model with onnxruntime or onnx's reference evaluator, capturing every value.

Capture works by asking the runtime for every value at once: each node output of the main
graph is made a graph output of a copy of the model, which runs once. The onnxruntime session
runs with graph optimizations off (``ORT_DISABLE_ALL``), so every node computes as the graph
states it: a fused kernel (Conv with its BatchNormalization folded in, an attention fusion)
would compute the surviving values differently depending on which values are outputs. With
optimizations off, a captured value is bit for bit what onnxruntime returns when that value
alone is made a graph output (tests/test_onnx_run.py checks every value of ResNet-50), and the
graph outputs are those of a plain run under the same options.

Memory: the runtime holds every intermediate at once (252 MB for ResNet-50 at batch 1).
When the IR's shapes say the values would take more than ``max_capture_bytes`` (a quarter of
the memory available, :func:`capture_budget`), the values are split into batches in graph
order, one session (and one run) per batch: time for memory.
The runtime keeps the last capture's arrays and has onnxruntime write the next capture with
the same inputs' shapes into them (an IOBinding): asking ``run`` for every value made a new
numpy array per value, more than doubling a small model's run.

Values typed as sequences, maps or optionals are not captured (their ``capture`` would get
no array); neither are graph inputs and weights.

onnxruntime and onnx's reference evaluator are imported here only, when a model is run.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from netray import Model
from netray.errors import error_line
from netray.runtime import Cancelled, Capture, RunCancelled, RunError

ORT_NAME = "onnxruntime"
REFERENCE_NAME = "onnx reference"
MAX_CAPTURE_BYTES = 8 * 1024**3  # above this (by the IR's shapes), values are captured in batches
MIN_CAPTURE_BYTES = 256 * 1024**2
_EXTERNAL = 1  # TensorProto.EXTERNAL
_CANCEL_POLL_SECONDS = 0.05


def load_proto(model: Model, runtime: str, with_onnx: bool = True) -> tuple[Any, Path]:
    """The model's ModelProto read again from ``model.source`` (external data left in place,
    every location checked to stay in the model's folder) and that folder.

    ``with_onnx=False`` parses a binary file with netray's own message classes
    (:mod:`netray_onnx.proto`): onnxruntime takes bytes, and ``import onnx`` costs 0.6 s of
    a 1.2 s ``netray run`` of ResNet-50 (its ml_dtypes). The text syntax needs onnx's parser.
    """
    from netray_onnx import proto as onnx_proto
    from netray_onnx.formats import TEXT_FORMAT
    from netray_onnx.tensors import external_path

    source = model.source
    if source is None:
        raise RunError(f"{runtime}: the model was not read from a file, so there is nothing to run")
    path = Path(source)
    try:
        if model.format == TEXT_FORMAT:
            import onnx.parser

            proto: Any = onnx.parser.parse_model(path.read_text(encoding="utf-8"))
            if not with_onnx:
                proto = onnx_proto.ModelProto.FromString(proto.SerializeToString())
        elif with_onnx:
            import onnx

            proto = onnx.load(str(path), load_external_data=False)
        else:
            proto = onnx_proto.ModelProto.FromString(path.read_bytes())
    except Exception as exc:  # onnx raises DecodeError, ParseError, OSError...
        raise RunError(f"{runtime}: cannot read {path.name}: {error_line(exc)}") from None
    base = path.parent
    for tensor in _all_tensors(proto.graph):
        if tensor.data_location == _EXTERNAL:
            location = {e.key: e.value for e in tensor.external_data}.get("location", "")
            try:
                external_path(base, location)
            except ValueError as exc:
                raise RunError(f"{runtime}: tensor {tensor.name!r}: {exc}") from None
    return proto, base


def _all_tensors(graph: Any) -> Iterator[Any]:
    """Initializers and Constant tensors of a graph and its subgraphs (where external data may be)."""
    yield from graph.initializer
    for node in graph.node:
        for attribute in node.attribute:
            if attribute.HasField("t"):
                yield attribute.t
            yield from attribute.tensors
            if attribute.HasField("g"):
                yield from _all_tensors(attribute.g)
            for sub in attribute.graphs:
                yield from _all_tensors(sub)


def non_tensor_values(proto: Any, model: Model | None = None) -> set[str]:
    """Names of the main graph's values typed as sequences, maps or optionals (by onnx's inference,
    its C++ library loaded without ``import onnx``). Its input is the structure of the binary file
    ``model`` was read from (memory-mapped, weights skipped) where there is one: serializing the
    proto again would copy every weight."""
    from netray_onnx.formats import FORMAT
    from netray_onnx.inference import infer
    from netray_onnx.loader import file_structure
    from netray_onnx.wire import structure_bytes

    try:
        if model is not None and model.source is not None and model.format == FORMAT:
            structure = file_structure(Path(model.source))
        else:
            structure = structure_bytes(proto.SerializeToString())
        inferred = infer(structure)
    except Exception:  # inference is a help here, not a requirement
        inferred = proto
    graph = inferred.graph
    found = set()
    for info in [*graph.value_info, *graph.output, *graph.input]:
        if info.type.WhichOneof("value") not in (None, "tensor_type", "sparse_tensor_type"):
            found.add(info.name)
    return found


def captured_names(model: Model, proto: Any) -> list[str]:
    """The values to capture, in graph order: node outputs of the IR's main graph that the ONNX
    graph produces (not graph inputs, not weights, not sequences/maps/optionals)."""
    produced = {name for node in proto.graph.node for name in node.output if name}
    inputs = {v.name for v in proto.graph.input} | {t.name for t in proto.graph.initializer}
    skip = non_tensor_values(proto, model) | inputs
    names: list[str] = []
    seen: set[str] = set()
    for node in model.main.nodes:
        for value in node.output_values():
            name = value.name
            if name and name in produced and name not in skip and not value.is_weight and name not in seen:
                seen.add(name)
                names.append(name)
    return names


def _estimated_bytes(model: Model, name: str, inputs: Mapping[str, np.ndarray]) -> int:
    """Bytes of a value by the IR's type; named dims bound from the inputs' actual shapes, else 1."""
    value = model.main.values.get(name)
    if value is None or value.type is None or value.type.shape is None:
        return 0
    dims: dict[str, int] = {}
    for v in model.main.inputs:
        array = inputs.get(v.name)
        if array is not None and v.type is not None and v.type.shape is not None and len(v.type.shape) == array.ndim:
            for dim, size in zip(v.type.shape, array.shape, strict=True):
                if isinstance(dim, str):
                    dims[dim] = int(size)
    count = 1
    for dim in value.type.shape:
        count *= dim if isinstance(dim, int) and dim >= 0 else dims.get(str(dim), 1)
    try:
        itemsize = np.dtype(str(value.type.dtype)).itemsize
    except TypeError:
        itemsize = 4
    return count * itemsize


def capture_budget() -> int:
    """Bytes of values one capture may hold: a quarter of the memory available now, within
    256 MiB .. 8 GiB (8 GiB where the system does not say). A capture holds every value it
    asks for at once, where a plain run reuses its buffers; more values than this take more
    runs, each asking for a batch."""
    available = None
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    available = int(line.split()[1]) * 1024
                    break
    except (OSError, ValueError):
        pass
    if available is None:
        return MAX_CAPTURE_BYTES
    return max(MIN_CAPTURE_BYTES, min(MAX_CAPTURE_BYTES, available // 4))


def batches(sizes: list[int], budget: int) -> list[range]:
    """Consecutive ranges of ``sizes`` whose sums stay within ``budget`` (a lone larger item gets its own)."""
    ranges: list[range] = []
    start, total = 0, 0
    for i, size in enumerate(sizes):
        if i > start and total + size > budget:
            ranges.append(range(start, i))
            start, total = i, 0
        total += size
    if start < len(sizes) or not ranges:
        ranges.append(range(start, len(sizes)))
    return ranges


def _with_outputs(proto: Any, names: list[str]) -> Any:
    """A copy of ``proto`` whose graph outputs are its own followed by ``names`` (untyped: the
    runtime infers their types)."""
    copy = type(proto)()
    copy.CopyFrom(proto)
    present = {o.name for o in copy.graph.output}
    for name in names:
        if name not in present:
            copy.graph.output.add(name=name)
    return copy


def _check(cancelled: Cancelled) -> None:
    if cancelled():
        raise RunCancelled()


class _CancelWatch:
    """One thread, for every session, that stops a running one when its ``cancelled()`` turns True.

    A thread started and joined per run cost about 0.75 ms of each run (half of a small
    model's whole run); this one waits for runs and polls only while some are going.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._active: dict[int, tuple[Cancelled, Any, threading.Event]] = {}
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    @contextlib.contextmanager
    def watching(self, cancelled: Cancelled, run_options: Any) -> Iterator[threading.Event]:
        stopped = threading.Event()
        with self._lock:
            self._active[id(stopped)] = (cancelled, run_options, stopped)
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="netray-onnx-cancel", daemon=True)
                self._thread.start()
        self._wake.set()
        try:
            yield stopped
        finally:
            with self._lock:
                self._active.pop(id(stopped), None)

    def _loop(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            while True:
                with self._lock:
                    running = list(self._active.values())
                if not running:
                    break
                for cancelled, run_options, stopped in running:
                    try:
                        stop = cancelled()
                    except Exception:  # a failing callback is not a request to stop
                        stop = False
                    if stop:
                        stopped.set()
                        run_options.terminate = True
                        with self._lock:
                            self._active.pop(id(stopped), None)
                time.sleep(_CANCEL_POLL_SECONDS)


_WATCH = _CancelWatch()


class OrtRuntime:
    """A model in onnxruntime (CPU) that captures every value of its main graph."""

    name = ORT_NAME

    def __init__(self, model: Model, max_capture_bytes: int | None = None) -> None:
        import onnxruntime  # noqa: F401  (fails here, not at the first run, when it is missing)

        self.model = model
        self.proto, self.base = load_proto(model, ORT_NAME, with_onnx=False)
        self.outputs = [o.name for o in self.proto.graph.output]
        self.names = captured_names(model, self.proto)
        self.max_capture_bytes = max_capture_bytes if max_capture_bytes is not None else capture_budget()
        self._sessions: dict[tuple[str, ...], tuple[Any, list[str]]] = {}  # the session and its output names
        self._torch: Any = None
        self._sizes: dict[tuple[Any, ...], list[int]] = {}  # estimated bytes per value, by the inputs' shapes
        self._buffers: dict[tuple[Any, ...], _Reused] = {}  # the last capture's arrays, written again by the next

    @property
    def backward_supported(self) -> bool:
        from netray_onnx.autograd import onnx2torch_available

        return onnx2torch_available()

    def session(self, outputs: list[str]) -> tuple[Any, list[str]]:
        """An InferenceSession of the model with ``outputs`` added to its graph outputs, and the
        names of all its outputs (cached: asking the session for them takes 0.2 ms per 1,000)."""
        import onnxruntime as ort

        key = tuple(outputs)
        cached = self._sessions.get(key)
        if cached is not None:
            return cached
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        options.log_severity_level = 3
        # The model is given as bytes: ORT reads external data from the model's own folder
        # (every location was checked to stay inside it).
        options.add_session_config_entry("session.model_external_initializers_file_folder_path", str(self.base))
        proto = _with_outputs(self.proto, outputs) if outputs else self.proto
        try:
            session = ort.InferenceSession(proto.SerializeToString(), options, providers=["CPUExecutionProvider"])
        except Exception as exc:
            raise RunError(f"{ORT_NAME}: cannot load the model: {error_line(exc)}") from None
        found = self._sessions = {key: (session, [o.name for o in session.get_outputs()])}  # one at a time: each holds the weights
        return found[key]

    def _feeds(self, session: Any, inputs: Mapping[str, np.ndarray]) -> dict[str, Any]:
        feeds: dict[str, Any] = {}
        for arg in session.get_inputs():
            if arg.name not in inputs:
                raise RunError(f"{ORT_NAME}: no value given for input {arg.name!r}")
            feeds[arg.name] = np.ascontiguousarray(inputs[arg.name])
        return feeds

    def _run(self, outputs: list[str], inputs: Mapping[str, np.ndarray], cancelled: Cancelled) -> dict[str, Any]:
        """One run asking for ``outputs`` (graph outputs come too): values by name; ``cancelled`` is polled while it runs.

        A capture (``outputs`` given) writes into the arrays of the previous capture with the
        same inputs' shapes, through an IOBinding: onnxruntime's ``run`` turns each output
        into a new numpy array, which cost more than the whole run of a small model (1,187
        values of the fused Llama: 2.4 ms against 1.0 ms). The arrays are the runtime's, valid
        until its next run (``forward`` copies the graph outputs it returns).
        """
        import onnxruntime as ort

        session, names = self.session(outputs)
        feeds = self._feeds(session, inputs)
        key = (tuple(outputs), tuple((k, v.shape, v.dtype.str) for k, v in feeds.items()))
        buffers = self._buffers.pop(key, None) if outputs else None
        run_options = ort.RunOptions()
        with _WATCH.watching(cancelled, run_options) as stopped:
            try:
                values = buffers.run(session, feeds, run_options) if buffers is not None else None
            except Exception:  # a data-dependent shape changed since the last run: allocate afresh
                if stopped.is_set():
                    raise RunCancelled() from None
                values = None
            if values is None:
                try:
                    values = session.run(names, feeds, run_options)  # numpy arrays; lists/dicts for sequences/maps
                except Exception as exc:
                    if stopped.is_set():
                        raise RunCancelled() from None
                    raise RunError(f"{ORT_NAME}: {error_line(exc)}") from None
        if stopped.is_set():
            raise RunCancelled()
        if buffers is not None and values is buffers.arrays:
            self._buffers = {key: buffers}
        elif outputs and all(_reusable(v) for v in values):
            self._buffers = {key: _Reused(names, values)}  # one set at a time: it holds every value
        return dict(zip(names, values, strict=True))

    def forward(
        self, inputs: Mapping[str, np.ndarray], capture: Capture, cancelled: Cancelled
    ) -> dict[str, np.ndarray]:
        _check(cancelled)
        key = tuple(sorted((k, np.shape(v)) for k, v in inputs.items()))
        sizes = self._sizes.get(key)
        if sizes is None:
            sizes = self._sizes[key] = [_estimated_bytes(self.model, n, inputs) for n in self.names]
        groups = batches(sizes, self.max_capture_bytes) if sum(sizes) > self.max_capture_bytes else [range(len(sizes))]
        results: dict[str, np.ndarray] = {}
        for group in groups:
            _check(cancelled)
            chosen = self.names[group.start : group.stop]
            values = self._run(chosen, inputs, cancelled)
            for name in chosen:  # in graph order, so the first NaN comes first
                value = values.get(name)
                if isinstance(value, np.ndarray):  # a sequence, map or optional is not captured
                    capture(name, value)
            for name in self.outputs:  # graph outputs come with every batch (copied: the arrays are reused)
                value = values.get(name)
                if isinstance(value, np.ndarray) and name not in results:
                    results[name] = value.copy()
            del values
            _check(cancelled)
        return {name: results[name] for name in self.outputs if name in results}

    def plain(self, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The unmodified model's outputs under the same session options (no capture)."""
        return {name: value for name, value in self._run([], inputs, lambda: False).items() if isinstance(value, np.ndarray)}

    def backward(
        self,
        inputs: Mapping[str, np.ndarray],
        target: Mapping[str, np.ndarray] | None,
        capture: Capture,
        cancelled: Cancelled,
    ) -> dict[str, np.ndarray]:
        from netray_onnx.autograd import TorchGraph

        _check(cancelled)
        if self._torch is None:
            self._torch = TorchGraph(self.proto, self.base)
        return self._torch.backward(inputs, target, capture, cancelled)


class _Reused:
    """The last capture's arrays, bound as a session's outputs at the next run (binding takes
    about 45 us per output, 1 s for the 20,823 of the Llama 100 benchmark, so a single run
    does not pay it, and later runs keep the binding)."""

    def __init__(self, names: list[str], arrays: list[np.ndarray]) -> None:
        self.names = names
        self.arrays = arrays
        self.binding: Any = None
        self.session: Any = None  # the session the binding belongs to

    def run(self, session: Any, feeds: dict[str, Any], run_options: Any) -> list[np.ndarray]:
        """Run ``session`` writing its outputs into the arrays again (shapes as last time, or onnxruntime raises)."""
        if self.binding is None or self.session is not session:
            self.binding, self.session = session.io_binding(), session
            for name, array in zip(self.names, self.arrays, strict=True):
                self.binding.bind_output(name, "cpu", 0, array.dtype, list(array.shape), array.ctypes.data)
        for name, array in feeds.items():
            self.binding.bind_cpu_input(name, array)
        session.run_with_iobinding(self.binding, run_options)
        return self.arrays


def _reusable(value: Any) -> bool:
    """Whether onnxruntime can write a later run's output into ``value`` (a plain, non-empty numeric array it gave)."""
    return (
        isinstance(value, np.ndarray)
        and value.dtype.kind in "biuf"
        and value.size > 0
        and value.flags.c_contiguous
        and value.flags.writeable
    )


def _inference_batch_norm() -> type:
    """BatchNormalization for onnx's reference evaluator: onnx 1.22's BatchNormalization-9 uses the
    batch's statistics whenever ``momentum`` is set, which inference (opsets 9-13) never does; this
    one normalizes with the running mean and variance unless ``training_mode`` (opset 14) says otherwise."""
    from onnx.reference.op_run import OpRun
    from onnx.reference.ops.op_batch_normalization import BatchNormalization_14, _batchnorm_test_mode

    class BatchNormalization(OpRun):
        op_domain = ""

        def _run(self, x, scale, bias, mean, var, epsilon=None, momentum=None, training_mode=None, **_):  # type: ignore[no-untyped-def]
            if training_mode:
                return BatchNormalization_14._run(self, x, scale, bias, mean, var, epsilon, momentum, training_mode)  # type: ignore[arg-type]
            eps = 1e-5 if epsilon is None else epsilon
            return (_batchnorm_test_mode(x, scale, bias, mean, var, epsilon=eps).astype(x.dtype),)

    return BatchNormalization


class ReferenceRuntime:
    """The model in onnx's reference evaluator (``onnx.reference.ReferenceEvaluator``)."""

    name = REFERENCE_NAME
    backward_supported = False

    def __init__(self, model: Model) -> None:
        import onnx
        from onnx.reference import ReferenceEvaluator

        proto, base = load_proto(model, REFERENCE_NAME)
        try:
            onnx.load_external_data_for_model(proto, str(base))
            self.evaluator = ReferenceEvaluator(proto, new_ops=[_inference_batch_norm()])
        except Exception as exc:
            raise RunError(f"{REFERENCE_NAME}: cannot load the model: {error_line(exc)}") from None
        self.outputs = [o.name for o in proto.graph.output]
        self.weights = {t.name for t in proto.graph.initializer}  # old models list them as inputs too
        self.names = captured_names(model, proto)

    def forward(
        self, inputs: Mapping[str, np.ndarray], capture: Capture, cancelled: Cancelled
    ) -> dict[str, np.ndarray]:
        _check(cancelled)
        wanted = self.names + [o for o in self.outputs if o not in set(self.names)]
        feeds = {name: inputs[name] for name in self.evaluator.input_names if name in inputs}
        missing = [name for name in self.evaluator.input_names if name not in inputs and name not in self.weights]
        if missing:
            raise RunError(f"{REFERENCE_NAME}: no value given for input {missing[0]!r}")
        try:
            values = self.evaluator.run(wanted, feeds)
        except Exception as exc:
            raise RunError(f"{REFERENCE_NAME}: {error_line(exc)}") from None
        _check(cancelled)
        results: dict[str, np.ndarray] = {}
        captured = set(self.names)
        for name, value in zip(wanted, values, strict=True):
            if not isinstance(value, np.ndarray | np.generic):
                continue
            array = np.asarray(value)
            if name in captured:
                capture(name, array)
            if name in self.outputs:
                results[name] = array
        return {name: results[name] for name in self.outputs if name in results}

    def backward(
        self,
        inputs: Mapping[str, np.ndarray],
        target: Mapping[str, np.ndarray] | None,
        capture: Capture,
        cancelled: Cancelled,
    ) -> dict[str, np.ndarray]:
        raise RunError(f"{REFERENCE_NAME}: no gradients (run backward on onnxruntime, through onnx2torch)")
