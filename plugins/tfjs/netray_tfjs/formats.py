"""The formats the TensorFlow.js plugin reads, declared as data (no reader imported)."""

from netray import FormatInfo

LAYERS = "TensorFlow.js layers model"
GRAPH = "TensorFlow.js graph model"

# What model.json's first bytes show: its "format" key, or the first key of its modelTopology
# (a Keras config for layers models, a GraphDef in JSON for graph models).
LAYERS_PATTERNS = (
    rb'"format"\s*:\s*"layers-model"',
    rb'"modelTopology"\s*:\s*\{\s*"(?:class_name|config|keras_version|backend|model_config|training_config)"\s*:',
)
GRAPH_PATTERNS = (
    rb'"format"\s*:\s*"graph-model"',
    rb'"modelTopology"\s*:\s*\{\s*"(?:node|library|versions)"\s*:',
)
SHARDS = ("*.bin", "group*-shard*of*")

FORMATS = [
    FormatInfo(
        LAYERS,
        (".json",),
        "TensorFlow.js layers model: model.json (a Keras config) with its weight shards",
        patterns=LAYERS_PATTERNS,
        companions=SHARDS,
        runs_with='TensorFlow.js (npm install @tensorflow/tfjs-node), or tensorflowjs_converter to Keras',
    ),
    FormatInfo(
        GRAPH,
        (".json",),
        "TensorFlow.js graph model: model.json (a TensorFlow GraphDef) with its weight shards",
        patterns=GRAPH_PATTERNS,
        companions=SHARDS,
        runs_with='TensorFlow.js (npm install @tensorflow/tfjs-node), or tensorflowjs_converter to a SavedModel',
    ),
]
