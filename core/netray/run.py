"""Running a model and painting what happened onto its graph (``netray run``, the viewer's Run…).

:func:`run_model` builds the inputs (:mod:`netray.run_inputs`), asks the plugin that read
the model for its runtime (:class:`netray.runtime.Runtime`), and reduces every captured
value to :class:`~netray.runtime.ValueStats` as it arrives: arrays are dropped at once
unless ``save`` or ``compare`` needs them, so a run takes the runtime's own memory plus
the statistics. Then it finds the first node whose output is non-finite while its inputs
were finite, runs backward (gradients of weights and values), compares with another
runtime or another file of the same graph, and turns all of it into per-node
:class:`~netray.metrics.Metric` tables for the viewer.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from netray.errors import RunCancelled, RunError
from netray.ir import Graph, Model, Node, Value
from netray.metrics import Metric
from netray.run_inputs import make_inputs
from netray.runtime import Difference, Runtime, ValueStats
from netray.value_stats import StatsBatch

Progress = Callable[[int, int], None]


@dataclass
class RunOptions:
    """What ``netray run`` takes (see ``netray run --help``)."""

    inputs: str | Path | None = None
    seed: int = 0
    dims: dict[str, int] = field(default_factory=dict)
    runtime: str = ""
    backward: bool = False
    target: str | Path | None = None
    compare: str | None = None  # a runtime's name ("reference") or another file of the same graph
    save: str | Path | None = None
    mean: Sequence[float] = (0.0,)
    std: Sequence[float] = (1.0,)
    atol: float = 1e-4
    rtol: float = 1e-3
    bins: int = 0  # histogram bins per value (the viewer's panel asks for 32)
    keep: Callable[[str, np.ndarray], bool] | None = None  # arrays to keep in RunResult.arrays (feature maps)
    cancelled: Callable[[], bool] = lambda: False
    progress: Progress | None = None


@dataclass
class RunResult:
    """Everything a run found, by value name (and by node id through :meth:`metrics`)."""

    model: Model
    runtime: str
    inputs: dict[str, ValueStats]
    outputs: dict[str, ValueStats]
    values: dict[str, ValueStats]
    assumed_dims: dict[str, int] = field(default_factory=dict)
    first_nonfinite: dict[str, Any] | None = None
    constant_infinities: list[dict[str, Any]] = field(default_factory=list)  # masks' -inf: the file's own
    gradients: dict[str, ValueStats] = field(default_factory=dict)  # weights
    backward_error: str = ""  # why gradients were asked for and not computed
    value_gradients: dict[str, ValueStats] = field(default_factory=dict)
    compared_with: str = ""
    compare: dict[str, Difference] = field(default_factory=dict)
    first_divergence: dict[str, Any] | None = None
    saved: Path | None = None
    arrays: dict[str, np.ndarray] = field(default_factory=dict, repr=False)  # what RunOptions.keep chose

    def to_json(self) -> dict[str, Any]:
        """The issue's schema: outputs, values, first_nonfinite, gradients, compare, first_divergence."""
        return {
            "runtime": self.runtime,
            "inputs": {k: s.to_json() for k, s in self.inputs.items()},
            "outputs": {k: s.to_json() for k, s in self.outputs.items()},
            "values": {k: s.to_json() for k, s in self.values.items()},
            "assumed_dims": self.assumed_dims,
            "first_nonfinite": self.first_nonfinite,
            "constant_infinities": self.constant_infinities,
            "gradients": {k: s.to_json() for k, s in self.gradients.items()},
            "backward_error": self.backward_error or None,
            "value_gradients": {k: s.to_json() for k, s in self.value_gradients.items()},
            "compared_with": self.compared_with or None,
            "compare": {k: d.to_json() for k, d in self.compare.items()},
            "first_divergence": self.first_divergence,
        }

    def largest(self, count: int = 20) -> list[tuple[str, ValueStats]]:
        """The floating-point values with the largest magnitudes (max |x|), largest first
        (sizes, indices and flags are left out: they are not activations)."""
        known = [(k, s) for k, s in self.values.items() if s.max_abs is not None and "float" in s.dtype]
        known.sort(key=lambda item: -(item[1].max_abs or 0.0))
        return known[:count]

    def metrics(self) -> list[Metric]:
        """Per-node tables for overlays: each node takes the statistics of its first output."""
        graph = self.model.main
        producer = {v.name: n for n in graph.nodes for v in n.output_values()}

        def table(stats: dict[str, ValueStats], pick: Callable[[ValueStats], float | None]) -> dict[str, float]:
            out: dict[str, float] = {}
            for name, s in stats.items():
                node = producer.get(name)
                number = pick(s)
                if node is not None and node.id and number is not None and node.id not in out:
                    out[node.id] = number
            return out

        runtime = self.runtime
        metrics = [
            Metric("mean |x|", table(self.values, lambda s: s.mean_abs), "", f"mean magnitude of the node's output ({runtime})", "max", log=True),
            Metric("std", table(self.values, lambda s: s.std), "", "standard deviation of the node's output", "max", log=True),
            Metric("max |x|", table(self.values, lambda s: s.max_abs), "", "largest magnitude in the node's output", "max", log=True),
            Metric("NaN/Inf count", table(self.values, lambda s: float(s.nonfinite)), "", "non-finite elements of the node's output", "sum"),
            Metric("zeros %", table(self.values, lambda s: 100.0 * s.zeros / s.size if s.size else None), "%", "share of exact zeros in the node's output", "mean"),
        ]
        if self.value_gradients:
            metrics.append(Metric("gradient norm", table(self.value_gradients, lambda s: s.norm), "", "L2 norm of the loss's gradient at the node's output", "max", log=True))
        if self.compare:
            diffs = {k: d for k, d in self.compare.items()}
            values = {}
            for name, d in diffs.items():
                node = producer.get(name)
                if node is not None and node.id and node.id not in values:
                    values[node.id] = d.max_abs
            metrics.append(Metric("compare difference", values, "", f"max |difference| against {self.compared_with}", "max", log=True))
        return metrics


# -- the run --------------------------------------------------------------------------------------------


def execution_nodes(graph: Graph) -> list[Node]:
    from netray.graph_order import execution_sequence

    return [graph.nodes[i] for i in execution_sequence(graph)]


class _Collector:
    """The capture callback: statistics as values come (small ones batched), arrays kept only when asked."""

    def __init__(
        self, keep: bool, bins: int, total: int, progress: Progress | None, chosen: Callable[[str, np.ndarray], bool] | None = None
    ) -> None:
        self._stats: dict[str, ValueStats] = {}
        self._seen: set[str] = set()
        self._batch = StatsBatch(bins)
        self.arrays: dict[str, np.ndarray] = {}
        self.chosen: dict[str, np.ndarray] = {}
        self.keep = keep
        self.choose = chosen
        self.total = total
        self.progress = progress

    def __call__(self, name: str, array: np.ndarray) -> None:
        if name in self._seen:
            return
        self._seen.add(name)
        self._batch.add(name, array)
        if self.keep:
            self.arrays[name] = np.array(array, copy=True)
        if self.choose is not None and self.choose(name, array):
            self.chosen[name] = self.arrays[name] if self.keep else np.array(array, copy=True)
        if self.progress is not None:
            self.progress(len(self._seen), self.total)

    @property
    def stats(self) -> dict[str, ValueStats]:
        """Statistics by value name, in the order the values came."""
        self._stats.update(self._batch.flush())
        return self._stats


def _runtime(model: Model, name: str) -> Runtime:
    from netray.plugins import get_manager

    return get_manager().runtime(model, name)


def _weight_nonfinite(value: Value) -> str:
    """What non-finite numbers a weight holds: "nan", "inf" (infinities only) or "" (none, or unreadable)."""
    tensor = value.initializer
    if tensor is None or not tensor.has_data:
        return ""
    try:
        array = tensor.numpy()
    except Exception:  # an unreadable weight is not evidence of a NaN
        return ""
    if array.dtype.kind not in "fc" or bool(np.isfinite(array).all()):
        return ""
    return "nan" if bool(np.isnan(array).any()) else "inf"


def nonfinite_origins(graph: Graph, inputs: dict[str, ValueStats], values: dict[str, ValueStats]) -> list[dict[str, Any]]:
    """Every node where non-finite values start, in execution order: a NaN where no activation
    input held one, or an infinity where every activation input was finite.

    Each is ``{"node", "name", "op", "value", "inputs_finite"}``, with ``"cause"`` when a weight it
    reads holds non-finite values, and ``"constant": True`` for infinities (no NaN) that are the
    file's own (an attention mask's -inf), not a computation gone wrong: made by a node that reads
    no floating-point activation (a constant, ``ConstantOfShape``, ``full``) or taken from a weight
    that holds infinities and no NaN (a stored mask value).
    """
    known = {**inputs, **values}
    found: list[dict[str, Any]] = []
    for node in execution_nodes(graph):
        outs = [values[v.name] for v in node.output_values() if v.name in values]
        bad = [v.name for v in node.output_values() if v.name in values and values[v.name].nonfinite]
        if not bad:
            continue
        activations = [known.get(v.name) for v in node.input_values() if v.initializer is None]
        makes_nan = any(s.nan for s in outs) and not any(s is not None and s.nan for s in activations)
        makes_inf = not any(s is not None and s.nonfinite for s in activations)
        if not (makes_nan or makes_inf):
            continue
        origin: dict[str, Any] = {"node": node.id, "name": node.name, "op": node.op, "value": bad[0], "inputs_finite": makes_inf}
        poisoned = {v.name: kind for v in node.input_values() if v.initializer is not None and (kind := _weight_nonfinite(v))}
        if poisoned:
            name, kind = next(iter(poisoned.items()))
            origin["cause"] = f"weight {name} holds {'NaN' if kind == 'nan' else 'infinities'}"
        stored_infinities = bool(poisoned) and "nan" not in poisoned.values()
        if not makes_nan and (stored_infinities or not (poisoned or any(s is None or _floating(s) for s in activations))):
            origin["constant"] = True
        found.append(origin)
    return found


def _floating(stats: ValueStats) -> bool:
    return "float" in stats.dtype or "complex" in stats.dtype


def first_nonfinite(graph: Graph, inputs: dict[str, ValueStats], values: dict[str, ValueStats]) -> dict[str, Any] | None:
    """The first node (in execution order) where NaN or Inf starts, constants' own infinities left
    out (see :func:`nonfinite_origins`); a non-finite weight it reads is named as the cause."""
    return next((o for o in nonfinite_origins(graph, inputs, values) if not o.get("constant")), None)


def _compare(
    model: Model, graph: Graph, inputs: dict[str, np.ndarray], mine: dict[str, np.ndarray], options: RunOptions
) -> tuple[str, dict[str, Difference], dict[str, Any] | None]:
    """Run the same inputs through another runtime (or another file of the same graph) and compare by value name."""
    spec = options.compare or ""
    looks_like_file = bool(Path(spec).suffix) or "/" in spec or "\\" in spec
    if looks_like_file and not Path(spec).exists():
        raise RunError(f"--compare {spec}: no such file (or give a runtime's name, such as reference)")
    if looks_like_file:
        from netray.api import load_model

        other_model = load_model(spec)
        other = _runtime(other_model, "")
        label = f"{Path(spec).name} ({other.name})"
    else:
        other = _runtime(model, spec)
        label = other.name
    theirs = _Collector(True, 0, 0, None)
    outputs = other.forward(inputs, theirs, options.cancelled)
    for name, array in outputs.items():
        theirs(name, array)
    differences: dict[str, Difference] = {}
    first: dict[str, Any] | None = None
    for node in execution_nodes(graph):
        for v in node.output_values():
            if v.name not in mine or v.name not in theirs.arrays:
                continue
            d = differences[v.name] = Difference.between(mine[v.name], theirs.arrays[v.name])
            reference = theirs.stats[v.name].max_abs
            if first is None and d.diverges(options.atol, options.rtol, reference):
                first = {"node": node.id, "name": node.name, "op": node.op, "value": v.name, **d.to_json()}
    return label, differences, first


def run_model(model: Model | str | Path, options: RunOptions | None = None, **fields: Any) -> RunResult:
    """Run ``model`` (a Model, or a model file to load) once, and backward, and a comparison, if
    asked; see the module's note. ``fields`` are :class:`RunOptions`' fields, over ``options``:
    ``run_model(model, backward=True, dims={"batch": 2})``."""
    if not isinstance(model, Model):
        from netray.api import load_model

        model = load_model(model)
    options = options or RunOptions()
    if fields:
        options = dataclasses.replace(options, **fields)
    runtime = _runtime(model, options.runtime)  # first: a model of weights only has no graph, and says so
    graph = model.main
    inputs, assumed = make_inputs(model, options.inputs, options.seed, options.dims, options.mean, options.std)
    total = sum(1 for n in graph.nodes for _ in n.output_values())
    keep = options.save is not None or options.compare is not None
    collected = _Collector(keep, options.bins, total, options.progress, options.keep)
    outputs = runtime.forward(inputs, collected, options.cancelled)
    for name, array in outputs.items():
        collected(name, array)
    result = RunResult(
        model,
        runtime.name,
        {k: ValueStats.of(a) for k, a in inputs.items()},
        {k: collected.stats[k] for k in outputs},
        collected.stats,
        assumed,
    )
    result.arrays = collected.chosen
    origins = nonfinite_origins(graph, result.inputs, collected.stats)
    result.first_nonfinite = next((o for o in origins if not o.get("constant")), None)
    result.constant_infinities = [o for o in origins if o.get("constant")]
    if options.backward:
        # A runtime without gradients says why in its own words (what to convert to), from backward();
        # the forward results stand either way.
        target = _target(options.target, model) if options.target is not None else None
        grads = _Collector(False, options.bins, total, None)
        try:
            weights = runtime.backward(inputs, target, grads, options.cancelled)
        except RunCancelled:
            raise
        except RunError as exc:
            result.backward_error = str(exc)
        else:
            result.value_gradients = grads.stats
            result.gradients = {k: ValueStats.of(a) for k, a in weights.items()}
    if options.compare is not None:
        result.compared_with, result.compare, result.first_divergence = _compare(model, graph, inputs, collected.arrays, options)
    if options.save is not None:
        result.saved = _save(Path(options.save), collected.arrays)
    return result


def _target(source: str | Path, model: Model) -> dict[str, np.ndarray]:
    path = Path(source)
    outputs = [v.name for v in model.main.outputs]
    try:
        if path.suffix.lower() == ".npz":
            with np.load(path, allow_pickle=False) as archive:
                return {k: archive[k] for k in archive.files if k in outputs}
        if len(outputs) != 1:
            raise RunError(f"{path}: a .npy target fits a model with one output; this one has {len(outputs)}: use a .npz")
        return {outputs[0]: np.load(path, allow_pickle=False)}
    except (OSError, ValueError) as exc:
        raise RunError(f"{path}: cannot read the target: {exc}") from None


def _save(path: Path, arrays: dict[str, np.ndarray]) -> Path:
    """Captured values as one ``.npz`` (names as the graph's; written to a temporary name, then moved)."""
    from netray.atomic import replacing

    with replacing(path) as temporary, open(temporary, "wb") as f:
        np.savez(f, **arrays)  # type: ignore[arg-type]
    return path

