"""Core ML models made by coremltools itself, for the plugin's tests.

coremltools (test-only dependency, ~26 MB, Linux wheels on PyPI) builds NeuralNetwork specs with
its ``NeuralNetworkBuilder`` and quantizes them with ``quantization_utils``; ``ct.convert`` turns
small torch modules into ML Program ``.mlpackage`` folders whose weights coremltools' own blob
writer (``libmilstoragepython``) puts in ``weights/weight.bin``; ``coremltools.optimize``
compresses them (int4 per block, 3- and 4-bit palettes). None of this needs macOS.
"""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("TQDM_DISABLE", "1")


def quiet_coremltools() -> Any:
    """Import coremltools without its warnings about torch versions and the macOS-only runtime."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        logging.getLogger("coremltools").setLevel(logging.ERROR)
        import coremltools

    logging.getLogger("coremltools").setLevel(logging.ERROR)
    return coremltools


def network_weights(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "conv_w": rng.standard_normal((6, 3, 3, 3)).astype(np.float32),  # [C_out, C_in, kH, kW]
        "conv_b": rng.standard_normal(6).astype(np.float32),
        "alpha": rng.random(6).astype(np.float32),
        "mean": rng.random(6).astype(np.float32),
        "variance": (rng.random(6) + 1).astype(np.float32),
        "fc_w": rng.standard_normal((4, 54)).astype(np.float32),  # [C_out, C_in]
        "fc_b": rng.standard_normal(4).astype(np.float32),
        "embed_w": rng.standard_normal((5, 10)).astype(np.float32),  # [C_out, inputDim]
    }


def build_classifier(weights: dict[str, np.ndarray]) -> Any:
    """conv -> PReLU -> batchnorm -> average pool -> flatten -> inner product -> softmax, as a classifier."""
    ct = quiet_coremltools()
    from coremltools.models import datatypes
    from coremltools.models.neural_network import NeuralNetworkBuilder

    builder = NeuralNetworkBuilder(
        [("image", datatypes.Array(3, 8, 8))], [("probs", datatypes.Array(4))], mode="classifier"
    )
    builder.add_convolution(
        "conv1", kernel_channels=3, output_channels=6, height=3, width=3, stride_height=1, stride_width=1,
        border_mode="valid", groups=1, W=weights["conv_w"].transpose(2, 3, 1, 0), b=weights["conv_b"],
        has_bias=True, input_name="image", output_name="c1",
    )  # fmt: skip
    builder.add_activation("prelu", "PRELU", "c1", "a1", params=weights["alpha"])
    builder.add_batchnorm(
        "bn1", 6, gamma=np.ones(6), beta=np.zeros(6), mean=weights["mean"], variance=weights["variance"],
        input_name="a1", output_name="b1",
    )  # fmt: skip
    builder.add_pooling(
        "pool", 2, 2, 2, 2, layer_type="AVERAGE", padding_type="VALID", input_name="b1", output_name="p1"
    )
    builder.add_flatten("flat", 0, "p1", "f1")
    builder.add_inner_product(
        "fc", W=weights["fc_w"], b=weights["fc_b"], input_channels=54, output_channels=4, has_bias=True,
        input_name="f1", output_name="fc1",
    )  # fmt: skip
    builder.add_softmax("softmax", "fc1", "probs")
    builder.set_class_labels(["cat", "dog", "bird", "fish"], predicted_feature_name="label")
    builder.set_pre_processing_parameters(
        image_input_names=["image"], is_bgr=False, red_bias=-1.0, green_bias=-1.0, blue_bias=-1.0, image_scale=2 / 255
    )
    spec = builder.spec
    # An image input with preprocessing, as the converters write it.
    image = spec.description.input[0].type
    image.imageType.width, image.imageType.height = 8, 8
    image.imageType.colorSpace = ct.proto.FeatureTypes_pb2.ImageFeatureType.RGB
    meta = spec.description.metadata
    meta.author, meta.license, meta.shortDescription, meta.versionString = (
        "netray tests",
        "MIT",
        "A tiny classifier",
        "1.2",
    )
    meta.userDefined["trained_on"] = "noise"
    return spec


def save_spec(spec: Any, path: Path) -> Path:
    path.write_bytes(spec.SerializeToString())
    return path


def quantized(spec: Any, nbits: int, mode: str) -> Any:
    ct = quiet_coremltools()
    from coremltools.models.neural_network import quantization_utils

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = ct.models.MLModel(spec, skip_model_load=True)
        return quantization_utils.quantize_weights(model, nbits=nbits, quantization_mode=mode).get_spec()


def build_recurrent(weights: dict[str, np.ndarray]) -> Any:
    """An embedding and an LSTM: weights whose shapes come from the layer's sizes."""
    quiet_coremltools()
    from coremltools.models import datatypes
    from coremltools.models.neural_network import NeuralNetworkBuilder

    builder = NeuralNetworkBuilder([("ids", datatypes.Array(1))], [("h", datatypes.Array(3))])
    builder.add_embedding(
        "embed",
        weights["embed_w"],
        None,
        input_dim=10,
        output_channels=5,
        has_bias=False,
        input_name="ids",
        output_name="e",
    )
    rng = np.random.default_rng(1)
    w_x = [rng.standard_normal((3, 5)).astype(np.float32) for _ in range(4)]
    w_h = [rng.standard_normal((3, 3)).astype(np.float32) for _ in range(4)]
    b = [rng.standard_normal(3).astype(np.float32) for _ in range(4)]
    builder.add_unilstm(
        "lstm",
        W_h=w_h,
        W_x=w_x,
        b=b,
        hidden_size=3,
        input_size=5,
        input_names=["e"],
        output_names=["h", "h_out", "c_out"],
    )
    return builder.spec


class Tiny:
    """The torch module ML Program tests convert: conv, mean, two linear layers."""

    @staticmethod
    def make() -> Any:
        import torch

        class Module(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.conv = torch.nn.Conv2d(3, 16, 3)
                self.fc = torch.nn.Linear(16, 32)
                self.fc2 = torch.nn.Linear(32, 4)

            def forward(self, x: Any) -> Any:
                y = torch.relu(self.conv(x)).mean(dim=(2, 3))
                return self.fc2(torch.nn.functional.gelu(self.fc(y)))

        torch.manual_seed(0)
        return Module().eval()


def convert(module: Any, folder: Path, name: str, precision: str = "fp16", target: str = "iOS18") -> tuple[Any, Path]:
    """``ct.convert`` of a traced module to an ML Program package; returns (MLModel, path)."""
    import torch

    ct = quiet_coremltools()
    example = torch.rand(1, 3, 16, 16)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        traced = torch.jit.trace(module, example)
        model = ct.convert(
            traced, inputs=[ct.TensorType(name="x", shape=example.shape)], convert_to="mlprogram",
            compute_precision=ct.precision.FLOAT32 if precision == "fp32" else ct.precision.FLOAT16,
            minimum_deployment_target=getattr(ct.target, target),
        )  # fmt: skip
    path = folder / f"{name}.mlpackage"
    model.save(str(path))
    return model, path


def compressed(model: Any, folder: Path, name: str, kind: str) -> Path:
    """int4 per-block linear quantization, or a 3- or 4-bit palette, of a converted model."""
    quiet_coremltools()
    import coremltools.optimize.coreml as cto

    if kind == "int4":
        op_config: Any = cto.OpLinearQuantizerConfig(
            mode="linear_symmetric", dtype="int4", granularity="per_block", block_size=8, weight_threshold=0
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = cto.linear_quantize_weights(model, cto.OptimizationConfig(global_config=op_config))
    else:
        op_config = cto.OpPalettizerConfig(nbits=int(kind.removeprefix("lut")), mode="uniform", weight_threshold=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = cto.palettize_weights(model, cto.OptimizationConfig(global_config=op_config))
    path = folder / f"{name}.mlpackage"
    out.save(str(path))
    return path


def mil_constants(package: Path) -> dict[str, np.ndarray]:
    """Every const of an ML Program package as coremltools' own MIL loader reads it (its blob reader)."""
    ct = quiet_coremltools()
    from coremltools.converters.mil.frontend.milproto.load import load as load_mil

    spec = ct.utils.load_spec(str(package))
    weights_dir = package / "Data" / "com.apple.CoreML" / "weights"
    program = load_mil(spec, specification_version=spec.specificationVersion, file_weights_dir=str(weights_dir))
    found: dict[str, np.ndarray] = {}
    for function in program.functions.values():
        for op in function.find_ops(op_type="const"):
            found[op.outputs[0].name] = np.asarray(op.outputs[0].val)
    return found


def convert_loop(folder: Path) -> Path:
    """A scripted module with a loop and a branch: MIL ``while_loop`` and ``cond`` with nested blocks."""
    import torch

    ct = quiet_coremltools()

    class Loop(torch.nn.Module):
        def forward(self, x: torch.Tensor, n: int) -> torch.Tensor:
            for _ in range(n):
                x = x * 2 + 1
            if x.sum() > 0:
                x = x - 1
            return x + 0.5

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scripted = torch.jit.script(Loop())
        model = ct.convert(
            scripted,
            inputs=[ct.TensorType(name="x", shape=(2, 3)), ct.TensorType(name="n", shape=(1,), dtype=np.int32)],
            convert_to="mlprogram",
        )
    path = folder / "loop.mlpackage"
    model.save(str(path))
    return path


def convert_stateful(folder: Path) -> Path:
    """A module with a state buffer (iOS18 ``StateType``): MIL read_state / write_state."""
    import torch

    ct = quiet_coremltools()

    class Accumulate(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.register_buffer("acc", torch.zeros(1, 4))
            self.fc = torch.nn.Linear(4, 4)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            self.acc.add_(x)
            return self.fc(self.acc * 1.0)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        traced = torch.jit.trace(Accumulate().eval(), torch.rand(1, 4))
        model = ct.convert(
            traced,
            inputs=[ct.TensorType(name="x", shape=(1, 4))],
            states=[ct.StateType(wrapped_type=ct.TensorType(shape=(1, 4)), name="acc")],
            minimum_deployment_target=ct.target.iOS18,
        )
    path = folder / "stateful.mlpackage"
    model.save(str(path))
    return path


def save_multifunction(folder: Path) -> Path:
    """Two conversions of one module merged by ``ct.utils.save_multifunction`` (default function "two")."""
    import torch

    ct = quiet_coremltools()

    class Dense(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = torch.nn.Linear(4, 4)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.relu(self.fc(x))

    torch.manual_seed(1)
    module = Dense().eval()
    descriptor = ct.utils.MultiFunctionDescriptor()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        traced = torch.jit.trace(module, torch.rand(1, 4))
        for name, batch in (("one", 1), ("two", 2)):
            model = ct.convert(
                traced, inputs=[ct.TensorType(name="x", shape=(batch, 4))], minimum_deployment_target=ct.target.iOS18
            )
            source = folder / f"function_{name}.mlpackage"
            model.save(str(source))
            descriptor.add_function(str(source), src_function_name="main", target_function_name=name)
        descriptor.default_function_name = "two"
        path = folder / "multifunction.mlpackage"
        ct.utils.save_multifunction(descriptor, str(path))
    return path
