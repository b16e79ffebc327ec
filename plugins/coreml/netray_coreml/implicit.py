"""Values nested blocks read from their enclosing graph, made visible as edges.

A MIL ``while_loop`` body or a NeuralNetwork ``loop`` layer's network reads values of the
enclosing graph by name without listing them. As ONNX's plugin does for If/Loop bodies, such
values become implicit inputs of the subgraph and a port ``implicit`` of the node that holds it,
so the viewer draws the edge the file implies.
"""

from __future__ import annotations

from netray import Graph, Port, Value


def capture(outer: Graph, subgraphs: list[Graph]) -> Port | None:
    """Marks what ``subgraphs`` read from outside as their implicit inputs; the node's port for them."""
    names: dict[str, None] = {}
    for sub in subgraphs:
        declared = {v.name for v in sub.inputs}
        returned = {v.name for v in sub.outputs}
        for value in sub.values.values():
            if value.name in declared or value.producer is not None or value.initializer is not None:
                continue
            if value.consumers or value.name in returned:
                known = outer.values.get(value.name)
                if known is not None and value.type.dtype is None and value.type.shape is None:
                    value.type = known.type
                value.metadata["implicit"] = "from the enclosing graph"
                sub.inputs.append(value)
                names[value.name] = None
    if not names:
        return None
    values: list[Value] = [outer.value(name) for name in names]
    return Port("implicit", values)
