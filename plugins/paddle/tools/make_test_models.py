"""Write the small real Paddle models the Paddle plugin's tests read (tests/data/), with Paddle itself.

    python plugins/paddle/tools/make_test_models.py          # in an environment with paddlepaddle (CPU)

Paddle is ~870 MB installed, too heavy for the tests, so this runs once by hand and its
output is committed: ``tests/data/README.md`` records the Paddle version that wrote them.
It writes the same small network (conv, batch norm, relu, max pool, flatten, fc, then a
tensor-dependent loop and branch, so the programs have sub-blocks) twice:

- ``tiny_legacy.pdmodel`` + ``.pdiparams``: a ProgramDesc (framework.proto), with the
  legacy static graph (``FLAGS_enable_pir_api=0``, ``paddle.static.save_inference_model``);
- ``tiny_pir.json`` + ``.pdiparams``: a PIR program as ``paddle.jit.save`` writes it in Paddle 3;

and for each, ``*.expected.npz``: every parameter as Paddle holds it in memory after saving,
which the tests compare with what netray reads from the ``.pdiparams`` bytes.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

DATA = Path(__file__).resolve().parent.parent / "tests" / "data"


def legacy() -> None:
    """The ProgramDesc model, written by the legacy static-graph API."""
    import numpy as np
    import paddle

    paddle.enable_static()
    paddle.seed(0)
    main, startup = paddle.static.Program(), paddle.static.Program()
    with paddle.static.program_guard(main, startup):
        x = paddle.static.data("image", [None, 3, 8, 8], "float32")
        y = paddle.static.nn.conv2d(x, 4, 3, padding=1)
        y = paddle.static.nn.batch_norm(y, is_test=True)
        y = paddle.nn.functional.relu(y)
        y = paddle.nn.functional.max_pool2d(y, 2)
        y = paddle.static.nn.fc(paddle.flatten(y, 1), 10)
        i = paddle.full([1], 0, "int64")
        n = paddle.full([1], 3, "int64")
        _, y = paddle.static.nn.while_loop(lambda i, y: i < n, lambda i, y: (i + 1, y * 0.5), [i, y])
        z = paddle.nn.functional.softmax(y)
    exe = paddle.static.Executor(paddle.CPUPlace())
    exe.run(startup)
    scope = paddle.static.global_scope()
    rng = np.random.default_rng(1)  # batch-norm statistics that are not just 0 and 1
    for name in ("batch_norm_0.w_1", "batch_norm_0.w_2"):
        tensor = scope.find_var(name).get_tensor()
        tensor.set(rng.uniform(0.5, 1.5, np.array(tensor).shape).astype("float32"), paddle.CPUPlace())
    paddle.static.save_inference_model(str(DATA / "tiny_legacy"), [x], [z], exe, program=main)
    params = {
        v.name: np.array(scope.find_var(v.name).get_tensor())
        for v in main.list_vars()
        if v.persistable and v.name not in ("feed", "fetch")
    }
    np.savez(DATA / "tiny_legacy.expected.npz", **params)


def pir() -> None:
    """The PIR program, written by paddle.jit.save (Paddle 3's default)."""
    import numpy as np
    import paddle
    from paddle import nn

    paddle.seed(0)

    class Tiny(nn.Layer):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2D(3, 4, 3, padding=1)
            self.bn = nn.BatchNorm2D(4)
            self.pool = nn.MaxPool2D(2)
            self.fc = nn.Linear(4 * 4 * 4, 10)

        def forward(self, x):  # type: ignore[no-untyped-def]
            y = self.pool(nn.functional.relu(self.bn(self.conv(x))))
            y = self.fc(paddle.flatten(y, 1))
            i = paddle.zeros([1], "int64")
            while i < 3:
                y = y * 0.5
                i += 1
            if paddle.mean(y) > 0:
                y = y + 1
            else:
                y = y - 1
            return nn.functional.softmax(y)

    net = Tiny()
    rng = np.random.default_rng(2)
    net.bn._mean.set_value(rng.uniform(-1, 1, [4]).astype("float32"))
    net.bn._variance.set_value(rng.uniform(0.5, 1.5, [4]).astype("float32"))
    net.eval()
    spec = [paddle.static.InputSpec([None, 3, 8, 8], "float32", "image")]
    paddle.jit.save(net, str(DATA / "tiny_pir"), input_spec=spec)
    # The state dict's structured names map to the saved parameter names.
    np.savez(DATA / "tiny_pir.expected.npz", **{p.name: p.numpy() for p in [*net.parameters(), *net.buffers()]})


def main() -> None:
    DATA.mkdir(parents=True, exist_ok=True)
    if len(sys.argv) > 1:  # one writer per process: the legacy one needs PIR off from the start
        {"legacy": legacy, "pir": pir}[sys.argv[1]]()
        return
    import paddle

    env = dict(os.environ)
    subprocess.run([sys.executable, __file__, "legacy"], check=True, env={**env, "FLAGS_enable_pir_api": "0"})
    subprocess.run([sys.executable, __file__, "pir"], check=True, env=env)
    for stale in DATA.glob("tiny_pir.pdmodel"):
        stale.unlink()
    print(f"wrote {sorted(p.name for p in DATA.iterdir())} with paddlepaddle {paddle.__version__}")


if __name__ == "__main__":
    main()
