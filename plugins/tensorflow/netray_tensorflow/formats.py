"""The formats the TensorFlow plugin reads, declared as data (no reader imported)."""

from netray import FormatInfo

GRAPHDEF = "TensorFlow GraphDef"
METAGRAPH = "TensorFlow MetaGraph"
SAVEDMODEL = "TensorFlow SavedModel"

FORMATS = [
    FormatInfo(
        GRAPHDEF,
        (".pb", ".pbtxt", ".graphdef"),
        "frozen TensorFlow GraphDef, binary or text",
        # GraphDef's field 1 (node, a message) first: tag 0x0a; in text, "node {".
        patterns=(rb"\A\x0a[\x01-\xff]", rb"\A\s*node\s*\{"),
    ),
    FormatInfo(
        SAVEDMODEL,
        (".pb", ".pbtxt"),
        "TensorFlow SavedModel folder (saved_model.pb + variables/)",
        directory=True,
        contains=("saved_model.pb", "saved_model.pbtxt"),
        companions=("variables/variables.index", "variables/variables.data-*-of-*", "fingerprint.pb"),
    ),
    FormatInfo(METAGRAPH, (".meta",), "TensorFlow MetaGraphDef (checkpoint .meta)", patterns=(rb"\A\s*meta_info_def\s*\{",)),
]
