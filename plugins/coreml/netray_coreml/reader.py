"""Reading a Core ML model (``.mlmodel`` or ``.mlpackage``) into a netray Model.

The file is a ``CoreML.Specification.Model`` protobuf, parsed with the classes of proto.py
(coremltools' own schema, no coremltools needed). Its ``Type`` oneof says what it is:

* neural networks (``neuralNetwork``, ``...Classifier``, ``...Regressor``): neuralnetwork.py;
* ML Programs (``mlProgram``): mlprogram.py, weights in ``weights/weight.bin`` beside the model;
* pipelines: one node per stage, chained by feature names, each network stage as a subgraph;
* anything else (trees, GLMs, SVMs, kNN, vectorizers, text and vision models ...): one node
  named after the model type, holding its parameters as attributes.

A file that does not parse as a whole (written by a pre-release schema, or damaged inside a
field) opens with every top-level field that parses; the one that does not is shown as a node
of its type, and ``Model.properties["unreadable"]`` says precisely where parsing stops.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from google.protobuf.message import DecodeError

from netray import Attribute, AttrKind, FormatError, Graph, Metadata, Model, Node, Port, Value
from netray_coreml import messages, nnshapes, proto
from netray_coreml.features import feature_type, feature_value
from netray_coreml.formats import PACKAGE_FORMAT
from netray_coreml.lazy import Slice, read_stripped
from netray_coreml.mlprogram import Context, read_program
from netray_coreml.neuralnetwork import NETWORK, NetworkBuilder, classifier, preprocessing
from netray_coreml.operators import MODEL_DOMAIN, category
from netray_coreml.package import resolve_package
from netray_coreml.sniff import package_of
from netray_coreml.weights import WeightSource
from netray_coreml.wire import WireError, diagnose, fields

MAX_PROTOBUF_BYTES = 2**31 - 1  # protobuf's limit for one message
MAX_PIPELINE_DEPTH = 16
NETWORK_TYPES = ("neuralNetwork", "neuralNetworkClassifier", "neuralNetworkRegressor")
PIPELINE_TYPES = ("pipeline", "pipelineClassifier", "pipelineRegressor")
GRAPH_TYPES = (*NETWORK_TYPES, *PIPELINE_TYPES, "mlProgram")
COREMLTOOLS_PREFIX = "com.github.apple.coremltools."


def _read_bytes(path: Path, format: str) -> bytes:
    try:
        size = path.stat().st_size
        if size > MAX_PROTOBUF_BYTES:
            raise FormatError(path, format, f"{size:,} bytes: a Core ML protobuf is at most 2 GiB")
        return path.read_bytes()
    except OSError as exc:
        raise FormatError(path, format, f"cannot read the file: {exc.strerror or exc}") from None


@dataclass
class Parsed:
    spec: Any
    unreadable: dict[int, str] = field(default_factory=dict)  # top-level field number -> where it stops parsing
    slices: list[Slice] = field(default_factory=list)  # weight bytes left in the file (lazy.py)


def read_spec(path: Path, format: str) -> Parsed:
    """The Model of ``path``, its NeuralNetwork weight bytes left in the file where the walk allows."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise FormatError(path, format, f"cannot read the file: {exc.strerror or exc}") from None
    if size > MAX_PROTOBUF_BYTES:
        raise FormatError(path, format, f"{size:,} bytes: a Core ML protobuf is at most 2 GiB")
    try:
        stripped, slices = read_stripped(path, proto.Model.DESCRIPTOR)
        return Parsed(proto.Model.FromString(stripped), slices=slices)
    except (WireError, DecodeError, RecursionError, OSError, ValueError):
        pass  # damaged or unusual: parse the whole file, which says precisely what is wrong
    return parse(_read_bytes(path, format), path, format)


def parse(data: bytes, path: Path, format: str) -> Parsed:
    """The Model message; a file that fails as a whole keeps every top-level field that parses."""
    try:
        return Parsed(proto.Model.FromString(data))
    except DecodeError as exc:
        whole_error = str(exc)
    except RecursionError:
        raise FormatError(path, format, "the protobuf nests messages deeper than protobuf allows") from None
    try:
        top = fields(data)
    except WireError as exc:
        raise FormatError(path, format, f"not a readable Core ML protobuf: {exc}") from None
    spec = proto.Model()
    unreadable: dict[int, str] = {}
    for item in top:
        chunk = data[item.tag_start : item.end]  # the whole field, tag included
        try:
            spec.MergeFromString(chunk)
        except (DecodeError, RecursionError):
            schema = proto.Model.DESCRIPTOR.fields_by_number.get(item.number)
            if schema is not None:  # the parser may have set part of it before failing
                spec.ClearField(schema.name)
            unreadable[item.number] = (
                diagnose(proto.Model, chunk, base=item.tag_start) if len(chunk) < 64 * 1024 * 1024 else whole_error
            )
    if not unreadable:  # every field alone parses, together they do not: say what protobuf said
        raise FormatError(path, format, f"the protobuf does not parse: {whole_error}")
    if 1 in unreadable or 2 in unreadable or len(unreadable) == len(top):
        first = next(iter(unreadable.values()))
        raise FormatError(path, format, f"the protobuf does not parse: {first}")
    return Parsed(spec, unreadable)


def _metadata(description: Any) -> Metadata:
    found: Metadata = {}
    meta = description.metadata
    for name in ("shortDescription", "versionString", "author", "license"):
        text = getattr(meta, name)
        if text:
            found[name] = text
    for key in sorted(meta.userDefined):
        found[key] = meta.userDefined[key]
    return found


class ModelReader:
    """Builds graphs from a parsed Model; sub-models of pipelines recurse through ``graph``."""

    def __init__(self, path: Path, model_file: Path, format: str, slices: list[Slice] | None = None) -> None:
        self.path = path
        self.source = WeightSource(model_file, format, slices or [])
        self.format = format
        self.location = model_file.name
        self.context = Context(model_file.parent, format, str(model_file), model_file.name)
        self.layers = 0
        self.properties: Metadata = {}

    def graphs(
        self, spec: Any, name: str, kind: str, depth: int = 0, unreadable: dict[int, str] | None = None
    ) -> list[Graph]:
        """The graphs of one model: its main graph first (ML Programs add one per further function)."""
        if depth > MAX_PIPELINE_DEPTH:
            raise FormatError(self.path, self.format, f"pipelines nested deeper than {MAX_PIPELINE_DEPTH} levels")
        model_type = spec.WhichOneof("Type")
        description = spec.description
        if model_type == "mlProgram":
            graphs, facts = read_program(spec.mlProgram, self.context, description.defaultFunctionName)
            self.properties.update(facts)
            self._describe_program(graphs, description)
            for graph in graphs:
                graph.name = name if graph.kind == "main" and kind == "subgraph" and len(graphs) == 1 else graph.name
                graph.kind = kind if graph.kind == "main" else graph.kind
            return graphs
        graph = Graph(name, kind)
        for feature in description.input:
            graph.inputs.append(feature_value(graph, feature))
        if model_type in NETWORK_TYPES:
            self._network(graph, getattr(spec, model_type), description, model_type)
        elif model_type in PIPELINE_TYPES:
            self._pipeline(graph, getattr(spec, model_type), model_type, depth)
        elif model_type is not None:
            graph.add_node(self._single(graph, model_type, getattr(spec, model_type), description))
        elif unreadable:
            number, where = next(iter(unreadable.items()))
            graph.add_node(self._unreadable(graph, number, where, description))
        else:
            raise FormatError(
                self.path,
                self.format,
                "the file holds no model (no field of Model's Type is set): truncated, or not Core ML",
            )
        for feature in description.output:
            graph.outputs.append(feature_value(graph, feature))
        graph.link()
        return [graph]

    def _network(self, graph: Graph, network: Any, description: Any, model_type: str) -> None:
        images = [f.name for f in description.input if f.type.WhichOneof("Type") == "imageType"]
        rename = preprocessing(graph, network, images, self.location)
        builder = NetworkBuilder(self.location, self.source)
        builder.build(graph, network, rename)
        self.layers += builder.layers
        # The rules are those of the rank-5 [Seq, B, C, H, W] layers; networks on N-D arrays state ranks per layer.
        rank5 = not network.arrayInputShapeMapping and not any(len(layer.inputTensor) for layer in network.layers)
        if rank5 and nnshapes.infer(graph):
            graph.metadata["blob shapes"] = "inferred from the input features and the layers' parameters"
        if model_type == "neuralNetworkClassifier":
            classifier(graph, network, description)
        for attribute in messages.attributes(network.updateParams) if network.HasField("updateParams") else []:
            self.properties[f"update {attribute.name}"] = attribute.text(200)
        for mapping in ("arrayInputShapeMapping", "imageInputShapeMapping"):
            value = getattr(network, mapping)
            enum = network.DESCRIPTOR.fields_by_name[mapping].enum_type.values_by_number.get(value)
            if value and enum is not None:
                self.properties[mapping] = enum.name

    def _pipeline(self, graph: Graph, params: Any, model_type: str, depth: int) -> None:
        pipeline = params if model_type == "pipeline" else params.pipeline
        names = list(pipeline.names)
        for k, sub in enumerate(pipeline.models):
            name = names[k] if k < len(names) and names[k] else f"model{k}"
            sub_type = sub.WhichOneof("Type") or "unknown"
            inputs = [Port(f.name, [self._feature(graph, f)]) for f in sub.description.input]
            outputs = [Port(f.name, [self._feature(graph, f)]) for f in sub.description.output]
            attributes: list[Attribute] = [
                Attribute("specificationVersion", AttrKind.INT, int(sub.specificationVersion))
            ]
            subgraphs: list[Graph] = []
            if sub_type in GRAPH_TYPES:
                subgraphs = self.graphs(sub, name, "subgraph", depth + 1)
            elif sub_type != "unknown":
                attributes += messages.attributes(getattr(sub, sub_type), skip=frozenset({NETWORK}))
            node = Node(
                sub_type,
                name,
                MODEL_DOMAIN,
                inputs,
                outputs,
                attributes,
                subgraphs,
                category=category(MODEL_DOMAIN, sub_type),
            )
            node.metadata.update(_metadata(sub.description))
            graph.add_node(node)

    def _feature(self, graph: Graph, feature: Any) -> Value:
        value = graph.value(feature.name)
        if value.type.dtype is None and value.type.shape is None and not value.type.denotation:
            value.type, facts = feature_type(feature.type)
            value.metadata.update(facts)
            value.description = value.description or feature.shortDescription
        return value

    def _single(self, graph: Graph, model_type: str, params: Any, description: Any) -> Node:
        """Models that are no graph: one node with the model's parameters."""
        inputs = [Port(f.name, [graph.value(f.name)]) for f in description.input]
        outputs = [Port(f.name, [graph.value(f.name)]) for f in description.output]
        attributes = messages.attributes(params, skip=frozenset({NETWORK}))
        return Node(
            model_type,
            model_type,
            MODEL_DOMAIN,
            inputs,
            outputs,
            attributes,
            category=category(MODEL_DOMAIN, model_type),
        )

    def _unreadable(self, graph: Graph, number: int, where: str, description: Any) -> Node:
        schema = proto.Model.DESCRIPTOR.fields_by_number.get(number)
        model_type = schema.name if schema is not None else f"field{number}"
        inputs = [Port(f.name, [graph.value(f.name)]) for f in description.input]
        outputs = [Port(f.name, [graph.value(f.name)]) for f in description.output]
        attributes = [Attribute("unreadable", AttrKind.STRING, where)]
        return Node(
            model_type,
            model_type,
            MODEL_DOMAIN,
            inputs,
            outputs,
            attributes,
            category=category(MODEL_DOMAIN, model_type),
        )

    def _describe_program(self, graphs: list[Graph], description: Any) -> None:
        """Puts the description's feature types and texts on the functions' inputs and outputs."""
        by_function = {f.name: f for f in description.functions}
        for graph in graphs:
            described = by_function.get(graph.name)
            features = described if described is not None else (description if graph is graphs[0] else None)
            if features is None:
                continue
            for feature in [*features.input, *features.output]:
                value = graph.values.get(feature.name)
                if value is None:
                    continue
                described_type, facts = feature_type(feature.type)
                value.metadata.update(facts)
                if feature.shortDescription:
                    value.description = feature.shortDescription
                if described_type.denotation and not value.type.denotation:
                    value.type.denotation = described_type.denotation


def load(path: Path, format: str) -> Model:
    """Read the ``.mlmodel`` file or ``.mlpackage`` folder at ``path``."""
    properties: Metadata = {}
    if format == PACKAGE_FORMAT or path.is_dir():
        folder = path if path.is_dir() else package_of(path)
        if folder is None:
            raise FormatError(path, format, "not inside a .mlpackage folder")
        package = resolve_package(folder)
        model_file = package.model
        properties.update(package.properties)
        if folder != path:
            properties["opened from"] = f"{path.relative_to(folder).as_posix()}, a file of the package {folder.name}"
            path = folder
    else:
        model_file = path
    parsed = read_spec(model_file, format)
    try:
        return _model(path, model_file, format, parsed, properties)
    except FormatError:
        raise
    except RecursionError:
        raise FormatError(path, format, "the model nests deeper than can be read") from None
    except (ValueError, TypeError, KeyError, IndexError, OverflowError, AttributeError, DecodeError) as exc:
        # A damaged file that protobuf accepted but whose values make no sense: one line, no traceback.
        raise FormatError(path, format, f"cannot read the model: {type(exc).__name__}: {exc}") from None


def _model(path: Path, model_file: Path, format: str, parsed: Parsed, properties: Metadata) -> Model:
    spec = parsed.spec
    reader = ModelReader(path, model_file, format, parsed.slices)
    model = Model(format)
    model.format_version = str(spec.specificationVersion)
    model.metadata = _metadata(spec.description)
    model.description = spec.description.metadata.shortDescription
    version = model.metadata.get(COREMLTOOLS_PREFIX + "version")
    if isinstance(version, str):
        model.producer, model.producer_version = "coremltools", version
    model.graphs = reader.graphs(spec, "main", "main", unreadable=parsed.unreadable)
    model_type = spec.WhichOneof("Type")
    model.properties = {
        "specification version": int(spec.specificationVersion),
        "model type": model_type or next((g.nodes[0].op for g in model.graphs if g.nodes), "unknown"),
        **properties,
    }
    if spec.isUpdatable:
        model.properties["updatable"] = True
    if len(spec.description.trainingInput):
        model.properties["training inputs"] = [f.name for f in spec.description.trainingInput]
    for name in ("predictedFeatureName", "predictedProbabilitiesName"):
        value = getattr(spec.description, name)
        if value:
            model.properties[name] = value
    if reader.layers:
        model.properties["layers"] = reader.layers
    if reader.context.operations:
        model.properties["operations"] = reader.context.operations
    model.properties.update(reader.properties)
    model.properties.update(reader.context.notes)
    for number, where in parsed.unreadable.items():
        schema = proto.Model.DESCRIPTOR.fields_by_number.get(number)
        name = schema.name if schema is not None else f"field {number}"
        model.properties["unreadable"] = (
            f"{name} (field {number}) does not parse with the schema of coremltools {proto.COREMLTOOLS_VERSION}: {where}"
        )
    model.properties["schema"] = f"coremltools {proto.COREMLTOOLS_VERSION} ({proto.COREMLTOOLS_COMMIT[:12]})"
    return model
