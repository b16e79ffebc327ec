"""The formats the Core ML plugin reads, declared as data (no reader imported)."""

from netray import FormatInfo

FORMAT = "Core ML"
PACKAGE_FORMAT = "Core ML package"

# Model's field 1 (specificationVersion, a small varint), then field 2 (the description) whose
# first field is an input FeatureDescription (tag 0x0a): every coremltools writer puts them first.
MLMODEL_PATTERN = rb"\A\x08[\x01-\x1f]\x12[\x80-\xff]{0,3}[\x00-\x7f]\x0a"

FORMATS = [
    FormatInfo(
        FORMAT,
        (".mlmodel",),
        "Apple Core ML model (protobuf CoreML.Specification.Model)",
        patterns=(MLMODEL_PATTERN,),
        companions=("weights/*.bin",),
        runs_with='Core ML on macOS (pip install coremltools)',
    ),
    FormatInfo(
        PACKAGE_FORMAT,
        (".mlpackage",),
        "Apple Core ML package folder (Manifest.json, Data/com.apple.CoreML/model.mlmodel, weights/weight.bin)",
        directory=True,
        contains=("Manifest.json", "Data/com.apple.CoreML/"),
        # Any of these files opened on its own opens the package around it.
        companions=("Manifest.json", "Data/com.apple.CoreML/*.mlmodel", "Data/com.apple.CoreML/weights/*.bin"),
        runs_with='Core ML on macOS (pip install coremltools)',
    ),
]
