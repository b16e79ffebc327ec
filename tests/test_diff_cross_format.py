"""Comparing one network in two formats: r4ghu's MNIST CNN as Keras HDF5 and as Core ML."""

from __future__ import annotations

from pathlib import Path

import netray
from netray.diff import diff_models


def test_keras_against_core_ml_pairs_every_layer_and_finds_the_same_weights(shared_models: Path) -> None:
    a = netray.load_model(shared_models / "keras/r4ghu_mnist/mnistCNN.h5")
    b = netray.load_model(shared_models / "coreml/r4ghu_mnist/mnistCNN.mlmodel")
    result = diff_models(a, b)
    summary = result.summary()
    assert summary["removed"] == 0 and summary["matched"] == len(a.main.nodes)  # every Keras layer has a partner
    # NHWC against CHW activations and HWIO against OIHW kernels are layouts, not changes.
    assert summary["weights_changed"] == 0
    assert not any(f.field.startswith(("input_shape", "output_shape")) for c in result.changes for f in c.fields)
    # What Core ML adds around the network: input scaling, the softmax it splits out, the classifier.
    added = sorted(n.op for c in result.changes if c.kind == "added" for n in c.b)
    assert added == ["classifier", "scaler", "softmax"]
    splits = [c for c in result.changes if any(f.field == "split" for f in c.fields)]
    assert {c.a[0].op for c in splits} == {"Conv2D", "Dense"}  # a Keras layer's activation is a Core ML layer of its own
