"""The formats the TensorFlow plugin reads, declared as data (no reader imported)."""

from netray import FormatInfo

GRAPHDEF = "TensorFlow GraphDef"
METAGRAPH = "TensorFlow MetaGraph"
SAVEDMODEL = "TensorFlow SavedModel"
CHECKPOINT = "TensorFlow checkpoint"
FINGERPRINT = "TensorFlow SavedModel fingerprint"

FORMATS = [
    FormatInfo(
        GRAPHDEF,
        (".pb", ".pbtxt", ".graphdef"),
        "frozen TensorFlow GraphDef, binary or text",
        # GraphDef's field 1 (node, a message) first: tag 0x0a; in text, "node {".
        patterns=(rb"\A\x0a[\x01-\xff]", rb"\A\s*node\s*\{"),
        runs_with='TensorFlow (pip install tensorflow)',
    ),
    FormatInfo(
        SAVEDMODEL,
        (".pb", ".pbtxt"),
        "TensorFlow SavedModel folder (saved_model.pb + variables/)",
        directory=True,
        contains=("saved_model.pb", "saved_model.pbtxt"),
        companions=("variables/variables.index", "variables/variables.data-*-of-*", "fingerprint.pb"),
        runs_with='TensorFlow (pip install tensorflow)',
    ),
    FormatInfo(
        METAGRAPH,
        (".meta",),
        "TensorFlow MetaGraphDef (checkpoint .meta)",
        patterns=(rb"\A\s*meta_info_def\s*\{",),
        companions=("{stem}.index", "{stem}.data-*-of-*"),
        runs_with='TensorFlow (pip install tensorflow)',
    ),
    # The index's table footer (magic 0xdb4775248b80fb57) ends the file, out of reach of declarations:
    # the sniff hook checks it, and claims the .data-NNNNN-of-NNNNN shards by name beside their index.
    FormatInfo(
        CHECKPOINT,
        (".index",),
        "TensorFlow checkpoint (TensorBundle): a .index table of variables and its .data-NNNNN-of-NNNNN shards",
        companions=("{stem}.data-*-of-*",),
    ),
    FormatInfo(
        FINGERPRINT,
        ("fingerprint.pb",),
        "TensorFlow SavedModel fingerprint.pb (hashes); opens the SavedModel beside it",
        companions=("saved_model.pb",),
    ),
]
