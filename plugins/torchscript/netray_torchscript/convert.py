"""A TorchScript graph (``torch._C.Graph``, inlined) -> netray Graphs, with weights, scopes and source lines.

What becomes what:
- ``prim::Constant`` inputs become attributes of the node using them (named by the
  operator schema), as do lists/tuples built only from constants;
- ``prim::GetAttr`` chains from ``self`` resolve to a module path: a parameter or
  buffer becomes a weight value (a Tensor whose loader reads the loaded module's
  tensor), any other attribute a named input without producer;
- ``prim::If`` / ``prim::Loop`` blocks become the node's subgraphs;
- the module hierarchy recorded by inlining (``b1(Block).conv(Conv2d)``) is the scope.
None of these folded nodes are counted as operations.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from netray import Attribute, AttrKind, Graph, Node, Port, SourceLocation, Tensor, TensorType, Value
from netray_pytorch.operators import category, documentation, split_target
from netray_torchscript.schema import argument_names

FOLDED_KINDS = ("prim::Constant", "prim::GetAttr")
_CONSTANT_COLLECTIONS = ("prim::ListConstruct", "prim::TupleConstruct")
_SCALAR_TYPES = {
    "Float": "float32", "Double": "float64", "Half": "float16", "BFloat16": "bfloat16", "Long": "int64",
    "Int": "int32", "Short": "int16", "Char": "int8", "Byte": "uint8", "Bool": "bool",
    "ComplexFloat": "complex64", "ComplexDouble": "complex128", "QInt8": "qint8", "QUInt8": "quint8", "QInt32": "qint32",
}
_HIERARCHY_ENTRY = re.compile(r"([^.()]+)\(([^()]*)\)")
_FRAME = re.compile(r'File "([^"]+)", line (\d+)')


def scope_of(node: Any) -> tuple[str, ...]:
    """``b1(Block).conv(Conv2d).SELF(Conv2d)`` -> ``("b1", "conv")``."""
    try:
        hierarchy = node.getModuleHierarchy()
    except Exception:  # older torch without module hierarchy: no scope
        return ()
    names = [m.group(1) for m in _HIERARCHY_ENTRY.finditer(hierarchy or "")]
    return tuple(n for n in names if n not in ("SELF", "UNKNOWN_INSTANCE"))


def source_of(node: Any) -> SourceLocation | None:
    """The original Python file and line the exporter recorded (before the serialized code/)."""
    try:
        text = node.sourceRange()
    except Exception:
        return None
    match = _FRAME.search(text or "")
    if not match:
        return None
    return SourceLocation(match.group(1), int(match.group(2)), stack=text)


def value_type(value: Any) -> TensorType:
    """dtype and shape where the graph records them (loaded graphs seldom do); other types by name."""
    t = value.type()
    kind = t.kind()
    if kind == "TensorType":
        scalar = t.scalarType()
        sizes = t.sizes() if t.dim() is not None else None
        return TensorType(_SCALAR_TYPES.get(scalar) if scalar else None, tuple(sizes) if sizes is not None else None)
    return TensorType(str(t), None)


def tensor_from_torch(name: str, tensor: Any) -> Tensor:
    """A netray Tensor for an in-memory torch tensor (TorchScript holds its tensors once loaded)."""
    dtype = _SCALAR_TYPES.get(str(tensor.dtype).replace("torch.", "").capitalize(), str(tensor.dtype).replace("torch.", ""))
    dtype = {"float": "float32", "double": "float64", "half": "float16", "long": "int64", "int": "int32"}.get(dtype, dtype)

    def load(t: Any = tensor) -> np.ndarray:
        t = t.detach().cpu()
        if t.is_quantized:
            t = t.int_repr()
        elif str(t.dtype) == "torch.bfloat16":
            t = t.float()
        return t.numpy()

    return Tensor(name, dtype, tuple(int(d) for d in tensor.shape), loader=load,
                  byte_size=int(tensor.numel()) * int(tensor.element_size()), location=f"module attribute {name}")


def _attribute(name: str, value: Any) -> Attribute:
    plain = Attribute.of(name, value)
    if plain is not None:
        return plain
    if isinstance(value, (list, tuple)):
        return Attribute(name, AttrKind.OTHER, [str(v) for v in value])
    if value is None:
        return Attribute(name, AttrKind.OTHER, None)
    if type(value).__module__ == "torch" and type(value).__name__ == "Tensor":
        return Attribute(name, AttrKind.TENSOR, tensor_from_torch(name, value))
    return Attribute(name, AttrKind.OTHER, str(value))


class GraphConverter:
    """Converts one method's inlined graph; module tensors come from ``state`` (dotted path -> tensor).

    Use one converter per graph, while that graph is alive: it keys torch Values, which
    are only valid as long as their graph is. ``weights`` may be shared so that methods
    using the same parameter share one Tensor."""

    def __init__(self, state: dict[str, Any], weights: dict[str, Tensor] | None = None) -> None:
        self.state = state
        self.paths: dict[Any, str] = {}  # GetAttr outputs -> dotted attribute path
        self.constants: dict[Any, Any] = {}  # folded values -> their Python value
        self.weights: dict[str, Tensor] = weights if weights is not None else {}

    def convert(self, graph: Any, name: str) -> Graph:
        inputs = list(graph.inputs())
        if inputs and inputs[0].type().kind() == "ClassType":
            self.paths[inputs[0]] = ""  # self
            inputs = inputs[1:]
        return self._block(graph.nodes(), inputs, list(graph.outputs()), name, "main")

    def _block(self, nodes: Any, inputs: list[Any], outputs: list[Any], name: str, kind: str) -> Graph:
        out = Graph(name, kind=kind)
        for v in inputs:
            out.inputs.append(out.value(v.debugName(), value_type(v)))
        for node in nodes:
            if self._fold(node):
                continue
            out.add_node(self._node(node, out))
        for v in outputs:
            out.outputs.append(self._value(v, out))
        return out.link()

    def _fold(self, node: Any) -> bool:
        """Record constants and attribute paths; True when the node is not shown as an operation."""
        kind = node.kind()
        if kind == "prim::Constant":
            try:
                self.constants[node.output()] = node.output().toIValue()
            except Exception:  # a constant torch cannot hand to Python (a function, a class)
                self.constants[node.output()] = str(node.output().type())
            return True
        if kind == "prim::GetAttr":
            owner = self.paths.get(node.input())
            attr = node.s("name")
            self.paths[node.output()] = attr if not owner else f"{owner}.{attr}"
            return True
        if kind in _CONSTANT_COLLECTIONS and node.outputsSize() == 1 and all(i in self.constants for i in node.inputs()):
            items = [self.constants[i] for i in node.inputs()]
            self.constants[node.output()] = items if kind == "prim::ListConstruct" else tuple(items)
            return True
        return False

    def _value(self, v: Any, graph: Graph) -> Value:
        path = self.paths.get(v)
        if path is not None:
            value = graph.value(path or "self", value_type(v))
            tensor = self.state.get(path)
            if tensor is not None and value.initializer is None:
                weight = self.weights.get(path)
                if weight is None:
                    weight = self.weights[path] = tensor_from_torch(path, tensor)
                value.initializer = weight
                value.type = TensorType(weight.dtype, weight.shape)
            elif tensor is None:
                value.description = "module attribute"
            return value
        return graph.value(v.debugName(), value_type(v))

    def _node(self, node: Any, graph: Graph) -> Node:
        domain, op = split_target(node.kind())
        outputs = list(node.outputs())
        result = Node(op, name=outputs[0].debugName() if outputs else f"{op}_{len(graph.nodes)}", domain=domain,
                      category=category(op), scope=scope_of(node), source=source_of(node), doc=documentation(op))
        try:
            schema = node.schema()
        except Exception:
            schema = ""
        names = argument_names(schema) if schema and schema != "(no schema)" else ()
        for i, v in enumerate(node.inputs()):
            arg = names[i] if i < len(names) else f"input{i}"
            if v in self.constants:
                result.attributes.append(_attribute(arg, self.constants[v]))
            else:
                result.inputs.append(Port(arg, [self._value(v, graph)]))
        for i, v in enumerate(outputs):
            result.outputs.append(Port("output" if i == 0 else f"output{i}", [graph.value(v.debugName(), value_type(v))]))
        for attr in node.attributeNames():
            result.attributes.append(_node_attribute(node, attr))
        for b, block in enumerate(node.blocks()):
            label = ("then", "else")[b] if op == "If" and b < 2 else f"block{b}"
            result.subgraphs.append(self._block(block.nodes(), list(block.inputs()), list(block.outputs()),
                                                f"{result.name}.{label}", "subgraph"))
        return result


def _node_attribute(node: Any, name: str) -> Attribute:
    kind = node.kindOf(name)
    getter = getattr(node, kind, None)
    try:
        value = getter(name) if getter else None
    except Exception:
        value = None
    return _attribute(name, value if isinstance(value, (bool, int, float, str, list, tuple)) else str(value))
