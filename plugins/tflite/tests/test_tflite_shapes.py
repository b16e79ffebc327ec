"""TFLite shapes are the file's own: ``shape``, with ``shape_signature``'s -1 as unknown, and an
empty shape without ``has_rank`` read as an unknown rank unless the tensor holds data."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("netray_tflite")
import netray


def types(path: Path) -> dict[str, str]:
    model = netray.load_model(path)
    return {name: str(v.type) for g in model.all_graphs() for name, v in g.values.items()}


def test_real_files_state_every_shape_they_have_and_nothing_is_inferred(shared_models: Path) -> None:
    for path in sorted((shared_models / "tflite").rglob("*.tflite")):
        model = netray.load_model(path)
        for graph in model.all_graphs():
            assert all(v.type.inferred == "" for v in graph.values.values()), path.name


def test_real_regression_keeps_its_unranked_input_unknown(shared_models: Path) -> None:
    """Every tensor of regression.tflite has shape [] and has_rank false. W and b hold 4 bytes each
    (scalars); X:0 holds nothing and is the unranked placeholder of the graph it was converted from
    (tf2onnx's regression GraphDef: X has unknown_rank), so X:0 and what MUL and ADD make of it have
    no known rank: a scalar there would be a guess."""
    assert types(shared_models / "tflite" / "tf2onnx" / "regression.tflite") == {
        "X:0": "float32",
        "W": "float32[scalar]",
        "b": "float32[scalar]",
        "Mul": "float32",
        "pred:0": "float32",
    }


def test_real_parse_example_outputs_keep_the_dynamic_batch(shared_models: Path) -> None:
    """shape [1, 1] with shape_signature [-1, 1]: the batch is dynamic, not 1."""
    found = types(shared_models / "tflite" / "tf_serving" / "parse_example.tflite")
    assert found["input"] == "string[?]"
    assert found["ParseExample/ParseExampleV2"] == "float32[?x1]"
    assert found["ParseExample/ParseExampleV2:1"] == "string[?x1]"
    assert found["ParseExample/ParseExampleV2/sparse_keys"] == "string[0]"


def test_real_half_plus_two_shapes_are_full(shared_models: Path) -> None:
    for name in ("half_plus_two.tflite", "half_plus_two_with_sigdef.tflite"):
        model = netray.load_model(shared_models / "tflite" / "tf_serving" / name)
        for node in model.main.nodes:
            for v in node.output_values():
                assert v.type.shape is not None and None not in v.type.shape, (name, v.name)
