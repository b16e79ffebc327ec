"""Regenerate ``netray_executorch/schemas.py``: argument names of the operators ExecuTorch ships kernels for.

A KernelCall stores only value indices: ``args`` lists one EValue per schema argument
(the ``out`` tensors too), then one per returned value. To name a box's ports and
attributes (``weight``, ``stride``) the plugin needs each operator's argument names,
which live in PyTorch's and ExecuTorch's operator schemas, not in the .pte. This script
reads them once, from the installed ``torch`` and ``executorch`` (never at run time):

* every operator of ExecuTorch's kernel libraries (portable, quantized, copy ops: the
  ``functions.yaml`` files in the executorch wheel), their schema from ``torch.ops`` or,
  for ExecuTorch's own, from the yaml's ``func:`` line;
* the operators that ExecuTorch registers in Python (``executorch_prim``, ``dim_order_ops``,
  ``llama`` custom ops, ``cortex_m``) where the wheel's modules import.

Run with the plugin's venv: ``.venv/bin/python plugins/executorch/tools/generate_schemas.py``
(made with torch 2.13.0 and executorch 1.5.1).
"""

from __future__ import annotations

import importlib
import importlib.util
import re
from pathlib import Path

import executorch
import executorch.exir
import torch
import yaml

OUT = Path(__file__).resolve().parent.parent / "netray_executorch" / "schemas.py"
YAMLS = ("kernels/portable/functions.yaml", "kernels/portable/custom_ops.yaml", "kernels/quantized/quantized.yaml",
         "kernels/portable/et_copy_ops.yaml", "kernels/optimized/optimized.yaml")
MODULES = ("executorch.exir.passes.executorch_prim_ops_registry", "executorch.extension.llm.custom_ops.custom_ops",
           "executorch.backends.cortex_m.ops.operators", "executorch.kernels.quantized")
# Operators ExecuTorch's emitter writes itself (exir/emit/_emitter.py), with no schema in torch.ops:
# their KernelCall args as the emitter lays them out.
EMITTED = {
    "executorch_prim::et_view.default": ("self size *out!", 0),
    "executorch_prim::et_copy_index.tensor": ("copy_to! copy_from index", 0),
}
NAMESPACES = ("executorch_prim", "dim_order_ops", "llama", "cortex_m", "quantized_decomposed", "et_copy")


def encode(schema: torch._C.FunctionSchema) -> tuple[str, int]:
    """``"input weight bias ... *out!"``: names in order, ``*`` before keyword-only, ``!`` on written ones."""
    words = []
    for a in schema.arguments:
        word = ("*" if a.kwarg_only else "") + a.name
        if a.alias_info is not None and a.alias_info.is_write:
            word += "!"
        words.append(word)
    return " ".join(words), len(schema.returns)


def full_name(schema: torch._C.FunctionSchema) -> str:
    name = schema.name if "::" in schema.name else f"aten::{schema.name}"
    return f"{name}.{schema.overload_name or 'default'}"


def lookup(name: str) -> torch._C.FunctionSchema | None:
    namespace, _, rest = name.rpartition("::")
    base, _, overload = rest.partition(".")
    try:
        packet = getattr(getattr(torch.ops, namespace or "aten"), base)
        return getattr(packet, overload or "default")._schema
    except (AttributeError, RuntimeError):
        return None


def defined_in(module: str) -> list[torch._C.FunctionSchema]:
    """The schemas a module declares with ``lib.define("name.overload(...) -> ...")``, read from its source text."""
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        return []
    source = Path(spec.origin).read_text()
    namespace = re.search(r'Library\(\s*"(\w+)"', source)
    out = []
    for match in re.finditer(r'\.define\(\s*((?:"[^"]*"\s*)+)\)', source):
        text = "".join(re.findall(r'"([^"]*)"', match.group(1)))
        if namespace and "::" not in text.split("(")[0]:
            text = f"{namespace.group(1)}::{text}"
        try:
            out.append(torch._C.parse_schema(text))
        except RuntimeError:
            continue
    return out


def main() -> None:
    root = Path(executorch.exir.__file__).parent.parent  # a namespace package: no __file__ of its own
    schemas: dict[str, tuple[str, int]] = {}
    for relative in YAMLS:
        path = root / relative
        if not path.exists():
            continue
        for entry in yaml.safe_load(path.read_text()) or []:
            if "func" in entry:
                func = entry["func"]
                if "::" not in func.split("(")[0]:
                    func = "aten::" + func
                schema = torch._C.parse_schema(func)
            else:
                schema = lookup(entry["op"])
            if schema is not None:
                schemas[full_name(schema)] = encode(schema)
    for module in MODULES:
        try:
            importlib.import_module(module)
        except Exception as exc:  # a backend whose dependencies are absent: read its lib.define("...") lines instead
            print(f"{module} does not import ({exc}); reading its schema strings")
            for schema in defined_in(module):
                schemas[full_name(schema)] = encode(schema)
    for namespace in NAMESPACES:
        for schema in torch._C._jit_get_all_schemas():
            if schema.name.startswith(namespace + "::"):
                schemas[full_name(schema)] = encode(schema)
    for schema in torch._C._jit_get_all_schemas():  # the out variants of every aten op the above names
        if schema.name.startswith("aten::") and schema.overload_name in ("out", "default", "int") and full_name(schema) not in schemas:
            base = schema.name
            if any(k.startswith(base + ".") for k in schemas) or schema.name in ("aten::sym_size", "aten::sym_numel", "aten::sym_stride"):
                schemas[full_name(schema)] = encode(schema)
    schemas.update(EMITTED)
    lines = [
        '"""Argument names of ExecuTorch\'s operators: ``"name.overload": ("arg arg *kwarg out!", returns)``. Generated: do not edit.',
        "",
        f"Made by tools/generate_schemas.py from torch {torch.__version__} and executorch {importlib.import_module('executorch.version').__version__}.",
        "``*`` marks a keyword-only argument and ``!`` one the operator writes (an ``out`` tensor); a",
        "KernelCall's ``args`` hold one value index per argument, then one per returned value.",
        '"""',
        "",
        "SCHEMAS: dict[str, tuple[str, int]] = {",
    ]
    lines += [f"    {name!r}: ({text!r}, {returns})," for name, (text, returns) in sorted(schemas.items())]
    lines.append("}")
    OUT.write_text("\n".join(lines) + "\n")
    print(f"wrote {len(schemas)} schemas to {OUT}")


if __name__ == "__main__":
    main()
