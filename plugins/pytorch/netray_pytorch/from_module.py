"""In-memory ``torch.nn.Module`` -> torch.export -> the same reader as ``.pt2`` files.

The serialized JSON graph comes from torch's own serializer, so a module and its
saved ``.pt2`` look the same; weights are read from the program's state_dict in memory.
"""

from __future__ import annotations

import functools
import json
import weakref
from typing import Any

import numpy as np

from netray import FormatError, Model, TensorType
from netray.ir import TensorLoader
from netray_pytorch.exported_program import FORMAT, build_model

# The programs in-memory models were read from: the runtime runs the user's own object (no file
# to load). Weak keys: a program lives as long as the Model read from it.
_PROGRAMS: weakref.WeakKeyDictionary[Model, Any] = weakref.WeakKeyDictionary()


def is_torch_module(obj: Any) -> bool:
    """A torch.nn.Module or ExportedProgram; ScriptModules belong to the TorchScript plugin."""
    cls = type(obj)
    if any(c.__module__.startswith("torch.jit") for c in cls.__mro__):
        return False
    return any(c.__module__ == "torch.nn.modules.module" and c.__name__ == "Module" for c in cls.__mro__) or any(
        c.__module__.startswith("torch.export") and c.__name__ == "ExportedProgram" for c in cls.__mro__
    )


def _to_numpy(tensor: Any) -> np.ndarray:
    """A copy of an in-memory tensor's values (bfloat16 widened: numpy has no such type)."""
    t = tensor.detach().cpu()
    if str(t.dtype) == "torch.bfloat16":
        t = t.float()
    return np.asarray(t.numpy())


def load_module(obj: Any, options: dict[str, Any]) -> Model:
    import torch
    from torch._export.serde.serialize import serialize

    where = f"<{type(obj).__name__}>"
    if isinstance(obj, torch.export.ExportedProgram):
        program = obj
    else:
        example = options.get("example_inputs")
        if example is None:
            raise FormatError(where, FORMAT, "a torch.nn.Module needs example_inputs=(tensor, ...) to be traced")
        args = tuple(example) if isinstance(example, (list, tuple)) else (example,)
        try:
            program = torch.export.export(obj.eval(), args)
        except Exception as exc:  # export failures are about the user's module, reported in one line
            raise FormatError(where, FORMAT, f"torch.export failed: {type(exc).__name__}: {str(exc).splitlines()[0]}") from exc
    artifact = serialize(program, serialize_state_dict=False, serialize_constants=False, serialize_example_inputs=False)
    data = json.loads(artifact.exported_program)
    tensors = {**dict(program.state_dict), **{k: v for k, v in program.constants.items() if isinstance(v, torch.Tensor)}}

    def source(fqn: str, ttype: TensorType, meta: dict[str, Any]) -> TensorLoader | None:
        tensor = tensors.get(fqn)
        if tensor is None:
            return None
        return functools.partial(_to_numpy, tensor)

    model = build_model(data, source, where)
    model.properties["source"] = "in memory (torch.export)"
    _PROGRAMS[model] = program
    return model


def program_of(model: Model) -> Any:
    """The live ExportedProgram ``model`` was read from (for running it), while both exist; None otherwise."""
    return _PROGRAMS.get(model)
