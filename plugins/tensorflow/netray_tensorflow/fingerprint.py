"""A SavedModel's ``fingerprint.pb``: hashes that identify the model, read as metadata.

Opened on its own, the fingerprint opens the SavedModel of its folder (the plugin's
sniff claims it as the SavedModel when ``saved_model.pb`` is beside it). Alone, it
opens as a model with one empty graph whose metadata is the fingerprint.
"""

from __future__ import annotations

from pathlib import Path

from google.protobuf import message

from netray import FormatError, Graph, Metadata, Model
from netray_tensorflow import protos
from netray_tensorflow.formats import FINGERPRINT
from netray_tensorflow.sniff import FINGERPRINT_FILE, MAX_FINGERPRINT


def read_fingerprint(path: Path, format: str = FINGERPRINT) -> Metadata:
    """The fingerprint's fields as typed metadata (hashes as the uint64s the file holds)."""
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_FINGERPRINT + 1)
    except OSError as exc:
        raise FormatError(path, format, f"cannot read: {exc.strerror or exc}") from exc
    if len(data) > MAX_FINGERPRINT:
        raise FormatError(path, format, f"larger than {MAX_FINGERPRINT} bytes: not a FingerprintDef")
    proto = protos.FingerprintDef()
    try:
        proto.ParseFromString(data)
    except (message.DecodeError, RecursionError) as exc:
        raise FormatError(path, format, "not a valid FingerprintDef protobuf") from exc
    found: Metadata = {name: int(getattr(proto, name)) for name in protos.FINGERPRINT_FIELDS}
    if not any(found.values()):
        raise FormatError(path, format, "the FingerprintDef holds no hash")
    if proto.HasField("version"):
        found["version"] = int(proto.version.producer)
        if proto.version.min_consumer:
            found["version.min_consumer"] = int(proto.version.min_consumer)
    if getattr(proto, "uuid", ""):
        found["uuid"] = str(proto.uuid)
    return found


def load_fingerprint(path: Path) -> Model:
    """The SavedModel of the fingerprint's folder, or the fingerprint alone."""
    from netray_tensorflow.reader import SAVED_MODEL_FILES, load_saved_model

    if any((path.parent / name).is_file() for name in SAVED_MODEL_FILES):
        return load_saved_model(path.parent)
    model = Model(FINGERPRINT, [Graph(path.parent.name or FINGERPRINT_FILE, kind="main")])
    model.metadata = read_fingerprint(path)
    model.producer = "TensorFlow"
    model.description = "the fingerprint of a SavedModel whose saved_model.pb is not beside it"
    model.properties["saved_model.pb"] = f"not found in {path.parent.name or '.'}/: only the fingerprint is shown"
    return model
