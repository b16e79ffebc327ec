"""Run the mutation fuzz of tests/test_fuzz_shared_models.py outside pytest: other seeds, some families,
and the time each family takes.

Every mutant of every file of ../shared/models (or NETRAY_SHARED_MODELS) goes through `netray info`
in per-family driver processes, two families at a time; a mutant without a clean answer (a hang,
a crash, a traceback, a second stderr line, an unexpected plugin exception) is printed with what
it said. The exit status is 1 when any mutant failed.

    python bench/fuzz.py                       # the seed CI runs
    python bench/fuzz.py --seed 7 --seed 8     # fresh rounds, while hunting bugs
    python bench/fuzz.py --family keras --family gguf --workers 1
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parent.parent


def fuzz_module(seed: int) -> ModuleType:
    """tests/test_fuzz_shared_models.py, imported with ``seed`` (a module per seed: SEED is read at import)."""
    os.environ["NETRAY_FUZZ_SEED"] = str(seed)
    path = REPO / "tests" / "test_fuzz_shared_models.py"
    spec = importlib.util.spec_from_file_location(f"netray_bench_fuzz_{seed}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, action="append", help="a seed (repeatable); default: the tests' own")
    parser.add_argument("--family", action="append", help="a folder of the shared models (repeatable); default: all")
    parser.add_argument("--workers", type=int, default=2, help="families run at the same time (default 2)")
    args = parser.parse_args()
    shared = Path(os.environ.get("NETRAY_SHARED_MODELS", REPO.parent / "shared" / "models"))
    if not shared.is_dir():
        print(f"no shared models at {shared} (set NETRAY_SHARED_MODELS)", file=sys.stderr)
        return 2
    failed = 0
    for seed in args.seed or [None]:
        module = fuzz_module(seed if seed is not None else int(os.environ.get("NETRAY_FUZZ_SEED", "20240611")))
        names = args.family or module.families(shared)
        started = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix="netray-fuzz-") as work:

            def run(family: str, module: ModuleType = module, work: str = work) -> tuple[str, list, float]:  # type: ignore[type-arg]
                began = time.perf_counter()
                found = module.run_driver(shared, module.family_mutants(shared, family), Path(work) / family)
                return family, found, time.perf_counter() - began

            with ThreadPoolExecutor(args.workers) as pool:
                results = list(pool.map(run, names))
        print(f"seed {module.SEED}: {sum(len(found) for _, found, _ in results)} mutants in {time.perf_counter() - started:.0f} s")
        for family, found, seconds in results:
            bad = [o for o in found if o.problem]
            print(f"  {family:12} {len(found):5} mutants {seconds:6.1f} s  {len(bad)} failed")
            for outcome in bad:
                print(f"    {outcome.mutant.name}: {outcome.problem}: {outcome.detail}")
            failed += len(bad)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
