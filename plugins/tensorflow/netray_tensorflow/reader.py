"""TensorFlow files -> netray Model: frozen GraphDef, MetaGraph and SavedModel, binary or text.

The main graph is the GraphDef (for a SavedModel: the graph_def of the first
MetaGraph tagged ``serve``, else the first). Its node count is the GraphDef's
NodeDef count. Function library entries become Graphs in ``Model.functions``,
and nodes that call them (``PartitionedCall``, ``While``, ``If`` ...) hold them
in ``Node.subgraphs``. Signatures are listed in ``Model.properties`` and their
outputs are the main graph's outputs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from google.protobuf import message, text_format

from netray import FormatError, Graph, Model, TensorType
from netray_tensorflow import protos
from netray_tensorflow.checkpoint import VALUE_SUFFIX, variable_tensors
from netray_tensorflow.graphdef import Context, GraphBuilder
from netray_tensorflow.shapes import propagate_model
from netray_tensorflow.sniff import FINGERPRINT_FILE, GRAPHDEF, METAGRAPH, SAVEDMODEL, is_text
from netray_tensorflow.tensors import dtype_name, shape_of

# Beyond this many graph visits (Graph.walk follows every call of every function)
# calls inside function bodies are no longer expanded as subgraphs.
WALK_LIMIT = 20000
MAX_NESTING = 64  # Graph.walk recurses once per level of nested subgraphs
VARIABLE_OPS = frozenset({"VariableV2", "Variable", "VarHandleOp"})
SAVED_MODEL_FILES = ("saved_model.pb", "saved_model.pbtxt")


def read_message(path: Path, cls: Any, format: str) -> Any:
    """Parse ``path`` as ``cls``, binary or text, with every failure a FormatError."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise FormatError(path, format, f"cannot read file: {exc.strerror or exc}") from exc
    msg = cls()
    try:
        if is_text(data[:4096]):
            text_format.Parse(data.decode("utf-8"), msg, allow_unknown_field=False)
        else:
            msg.ParseFromString(data)
    except (message.DecodeError, text_format.ParseError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        reason = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise FormatError(path, format, f"not a valid {cls.__name__} protobuf: {reason}") from exc
    return msg


def build_graphs(graph_def: Any, ctx: Context, name: str, output_refs: list[str] | None) -> Graph:
    """The main graph and, into ``ctx.functions``, the function library; calls attached after."""
    library = graph_def.library.function
    for fdef in library:
        ctx.functions.setdefault(fdef.signature.name, Graph(fdef.signature.name, kind="function"))
    main = GraphBuilder(ctx, Graph(name, kind="main")).build(graph_def.node, output_refs=output_refs)
    for fdef in library:
        shell = ctx.functions[fdef.signature.name]
        if shell.nodes or shell.inputs:
            continue  # a duplicate definition: the first one wins
        sig = fdef.signature
        args = [(a.name, argument_type(fdef, i, a)) for i, a in enumerate(sig.input_arg)]
        refs = [fdef.ret[a.name] for a in sig.output_arg if a.name in fdef.ret]
        GraphBuilder(ctx, shell).build(fdef.node_def, arguments=args, output_refs=refs)
    return main


def argument_type(fdef: Any, index: int, arg: Any) -> TensorType:
    """A function argument's dtype, and its shape from the ``_output_shapes`` TensorFlow records in arg_attr."""
    dtype = dtype_name(arg.type) if arg.type else None
    shape = None
    if index in fdef.arg_attr and "_output_shapes" in fdef.arg_attr[index].attr:
        shapes = fdef.arg_attr[index].attr["_output_shapes"].list.shape
        shape = shape_of(shapes[0]) if len(shapes) == 1 else None
    return TensorType(dtype, shape)


def attach_calls(ctx: Context, tops: list[Graph]) -> str:
    """Put called functions into Node.subgraphs, never forming a cycle; returns a note when limited."""
    edges: dict[int, list[Graph]] = {}

    def reaches(start: Graph, target: Graph) -> bool:
        stack, seen = [start], set()
        while stack:
            g = stack.pop()
            if g is target:
                return True
            if id(g) not in seen:
                seen.add(id(g))
                stack.extend(edges.get(id(g), ()))
        return False

    notes = []
    for caller, node, callee in ctx.calls:
        if reaches(callee, caller):
            notes.append(f"recursive call {caller.name} -> {callee.name} not expanded")
            continue
        node.subgraphs.append(callee)
        edges.setdefault(id(caller), []).append(callee)
    cost, depth = walk_cost(tops)
    if cost > WALK_LIMIT or depth > MAX_NESTING:
        for caller, node, callee in ctx.calls:
            if caller.kind == "function" and callee in node.subgraphs:
                node.subgraphs.remove(callee)
        notes.append("calls inside function bodies are shown as attributes only (too many nested calls)")
    return "; ".join(notes)


def walk_cost(tops: list[Graph]) -> tuple[int, int]:
    """Graphs a full walk visits (capped) and the deepest nesting, without recursion.

    Subgraph links form a DAG here (attach_calls refuses cycles), so a post-order
    pass over each graph's distinct children computes both.
    """
    visits: dict[int, int] = {}
    depths: dict[int, int] = {}
    for top in tops:
        stack: list[tuple[Graph, bool]] = [(top, False)]
        while stack:
            g, children_done = stack.pop()
            if id(g) in visits:
                continue
            subs = [s for n in g.nodes for s in n.subgraphs]
            if not children_done:
                stack.append((g, True))
                stack.extend((s, False) for s in subs if id(s) not in visits)
                continue
            visits[id(g)] = min(WALK_LIMIT * 2, 1 + sum(visits[id(s)] for s in subs))
            depths[id(g)] = 1 + max((depths[id(s)] for s in subs), default=0)
    return sum(visits[id(g)] for g in tops), max((depths[id(g)] for g in tops), default=0)


def tensor_info_text(info: Any) -> str:
    shape = shape_of(info.tensor_shape)
    shape_text = "?" if shape is None else "[" + ",".join("?" if d is None else str(d) for d in shape) + "]"
    return f"{info.name or '(composite)'} {dtype_name(info.dtype)}{shape_text}"


def signatures(meta_graph: Any, model: Model) -> list[str]:
    """List each signature in the model properties; return the output tensor names of all of them."""
    outputs: list[str] = []
    for key in sorted(meta_graph.signature_def):
        sig = meta_graph.signature_def[key]
        ins = ", ".join(f"{k}={tensor_info_text(v)}" for k, v in sorted(sig.inputs.items()))
        outs = ", ".join(f"{k}={tensor_info_text(v)}" for k, v in sorted(sig.outputs.items()))
        method = f"{sig.method_name}: " if sig.method_name else ""
        model.properties[f"signature {key}"] = f"{method}({ins}) -> ({outs})"
        if not key.startswith("__"):
            outputs.extend(v.name for _, v in sorted(sig.outputs.items()) if v.name and v.name not in outputs)
    return outputs


def model_from_meta_graph(path: Path, meta_graph: Any, format: str, name: str) -> tuple[Model, Context]:
    info = meta_graph.meta_info_def
    ctx = Context(path, format, op_defs={op.name: op for op in info.stripped_op_list.op})
    model = Model(format)
    output_refs = signatures(meta_graph, model) or None
    main = build_graphs(meta_graph.graph_def, ctx, name, output_refs)
    model.graphs = [main]
    model.producer = "TensorFlow"
    model.producer_version = info.tensorflow_version
    if info.tags:
        model.properties["tags"] = ", ".join(info.tags)
    if info.tensorflow_git_version:
        model.properties["tensorflow git version"] = info.tensorflow_git_version
    if meta_graph.collection_def:
        model.properties["collections"] = ", ".join(sorted(meta_graph.collection_def))
    _versions(meta_graph.graph_def, model)
    return model, ctx


def _versions(graph_def: Any, model: Model) -> None:
    if graph_def.HasField("versions"):
        v = graph_def.versions
        model.properties["GraphDef version"] = f"producer {v.producer}, min consumer {v.min_consumer}"


def _finish(model: Model, ctxs: list[Context]) -> Model:
    notes = []
    for ctx in ctxs:
        model.functions.extend(g for g in ctx.functions.values() if g not in model.functions)
        note = attach_calls(ctx, [*model.graphs, *model.functions])
        if note:
            notes.append(note)
    if notes:
        model.properties["function calls"] = "; ".join(notes)
    model.properties["protobuf messages from"] = protos.SOURCE
    propagate_model(list(model.all_graphs()))
    return model


def load_graphdef(path: Path) -> Model:
    return model_from_graph_def(read_message(path, protos.GraphDef, GRAPHDEF), path, path.stem)


def model_from_graph_def(graph_def: Any, path: Path, name: str) -> Model:
    """A Model of a parsed GraphDef (from a file, or an in-memory message)."""
    if not graph_def.node and not graph_def.library.function:
        raise FormatError(path, GRAPHDEF, "the GraphDef holds no nodes")
    ctx = Context(path, GRAPHDEF)
    model = Model(GRAPHDEF, [build_graphs(graph_def, ctx, name, None)])
    model.producer = "TensorFlow"
    _versions(graph_def, model)
    return _finish(model, [ctx])


def load_meta_graph(path: Path) -> Model:
    meta_graph = read_message(path, protos.MetaGraphDef, METAGRAPH)
    if not meta_graph.graph_def.node and not meta_graph.graph_def.library.function:
        raise FormatError(path, METAGRAPH, "the MetaGraphDef holds no graph nodes")
    model, ctx = model_from_meta_graph(path, meta_graph, METAGRAPH, path.stem)
    # A checkpoint's .meta sits beside its .index and .data-* files.
    attach_variables(model, path.with_suffix(".index"), meta_graph)
    return _finish(model, [ctx])


def saved_model_file(path: Path) -> Path:
    """The saved_model.pb (or .pbtxt) of a SavedModel folder (or of the fingerprint.pb or the
    variables/variables.* files in it), or the file itself."""
    if path.is_file() and path.name.lower() == FINGERPRINT_FILE:
        path = path.parent
    elif path.is_file() and path.parent.name == "variables" and path.name.startswith("variables."):
        path = path.parent.parent
    if path.is_dir():
        for name in SAVED_MODEL_FILES:
            if (path / name).is_file():
                return path / name
        raise FormatError(path, SAVEDMODEL, "the folder holds no saved_model.pb")
    return path


def load_saved_model(path: Path) -> Model:
    file = saved_model_file(path)
    saved = read_message(file, protos.SavedModel, SAVEDMODEL)
    if not saved.meta_graphs:
        raise FormatError(file, SAVEDMODEL, "the SavedModel holds no MetaGraph")
    metas = list(saved.meta_graphs)
    first = next((i for i, m in enumerate(metas) if "serve" in m.meta_info_def.tags), 0)
    order = [first] + [i for i in range(len(metas)) if i != first]
    folder = file.parent
    model: Model | None = None
    ctxs = []
    for i in order:
        tags = ",".join(metas[i].meta_info_def.tags) or f"metagraph {i}"
        part, ctx = model_from_meta_graph(file, metas[i], SAVEDMODEL, f"{folder.name} [{tags}]")
        ctxs.append(ctx)
        if model is None:
            model = part
        else:
            model.graphs.extend(part.graphs)
            model.functions.extend(part.functions)
    assert model is not None
    model.format_version = str(saved.saved_model_schema_version)
    model.properties["metagraphs"] = str(len(metas))
    attach_variables(model, folder / "variables" / "variables.index", metas[first])
    attach_fingerprint(model, folder / FINGERPRINT_FILE)
    if path.is_file() and path != file:
        within = path.relative_to(folder).as_posix() if folder in path.parents else path.name
        model.properties["opened from"] = f"{within}, a file of the SavedModel {folder.name}/"
    return _finish(model, ctxs)


def attach_fingerprint(model: Model, path: Path) -> None:
    """The fingerprint.pb beside saved_model.pb, as the model's metadata; a broken one is noted, not fatal."""
    if not path.is_file():
        return
    from netray_tensorflow.fingerprint import read_fingerprint

    try:
        model.metadata.update(read_fingerprint(path, SAVEDMODEL))
    except FormatError as exc:
        model.properties["fingerprint"] = f"{path.name} not read: {exc.reason}"
        return
    model.properties["fingerprint"] = f"{path.name}: the hashes are the model's metadata"


def saved_variable_names(meta_graph: Any) -> dict[int, str]:
    """Object index -> variable name, from a SavedModel's object graph (TF2)."""
    names = {}
    for i, node in enumerate(meta_graph.object_graph_def.nodes):
        if node.WhichOneof("kind") == "variable":
            names[i] = node.variable.name.removesuffix(":0")
    return names


def attach_variables(model: Model, index_path: Path, meta_graph: Any) -> None:
    """Give variable nodes (VariableV2, VarHandleOp) their checkpoint values as lazy initializers.

    A checkpoint that cannot be read leaves the graph as it is, with the reason in the properties.
    """
    if not index_path.is_file():
        return
    try:
        tensors = variable_tensors(index_path, saved_variable_names(meta_graph))
    except FormatError as exc:
        model.properties["variables"] = f"not read: {exc.reason}"
        return
    matched = 0
    for node in model.main.nodes:
        if node.op not in VARIABLE_OPS or not node.outputs:
            continue
        shared = node.attribute("shared_name")
        for name in (shared.value if shared is not None else None, node.name):
            tensor = tensors.get(name) if isinstance(name, str) and name else None
            if tensor is not None:
                value = node.outputs[0].values[0]
                value.initializer = tensor
                value.type = TensorType(tensor.dtype, tensor.shape)
                matched += 1
                break
    model.properties["variables"] = f"{len(tensors)} tensors in {index_path.name}, {matched} given to variable nodes"
    restored_types(model.main, tensors)


def restored_types(graph: Graph, tensors: dict[str, Any]) -> None:
    """RestoreV2 outputs take the dtype and shape of the checkpoint tensors their ``tensor_names`` name."""
    for node in graph.nodes:
        inputs = [v for p in node.inputs for v in p.values]
        if node.op != "RestoreV2" or len(inputs) < 2 or inputs[1].initializer is None:
            continue
        try:
            names = [n.decode("utf-8") if isinstance(n, bytes) else str(n) for n in inputs[1].initializer.numpy().reshape(-1)]
        except FormatError:
            continue
        for value in node.output_values():
            index = value.name.rpartition(":")[2]
            if not index.isdigit() or int(index) >= len(names):
                continue
            tensor = tensors.get(names[int(index)]) or tensors.get(names[int(index)].removesuffix(VALUE_SUFFIX))
            if tensor is not None and value.type.shape is None:
                value.type = TensorType(tensor.dtype, tensor.shape)
