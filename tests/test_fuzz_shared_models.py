"""A mutation fuzz over the real model files: `netray info` on a damaged file answers cleanly.

Every file of ``../shared/models`` (and every folder-format model there, such as a
SavedModel) is damaged in deterministic ways (seeded by its path): truncations at
several points, flipped bytes in its first 64 bytes, a region of random bytes, zeroed
4 KiB blocks, huge little-endian length fields where a small one stood, and for text
formats deleted, duplicated and garbage lines. Each mutant is opened with
``netray info`` and must give a clean answer:

* exit status 0 with a summary on stdout and nothing on stderr, or
* exit status 2 with exactly one stderr line, ``netray: error: ...``;

never a traceback, a hang, a crash (a signal), a second line (a library's warning) or a
plugin's unexpected exception (the core's "plugin 'x' failed: KeyError: ..." line).

Starting a Python (with torch, h5py ...) for each of ~4,500 mutants would take over an hour,
so the mutants of one format family run in one driver process (this file, run as a
script): it calls the real ``netray`` click command in-process per mutant, with file
descriptors 1 and 2 redirected to files (so C libraries' prints are caught too), the
plugin manager's warnings cleared and a ``SIGALRM`` budget; it prints one JSON line
per mutant. A driver that stops answering (a hang inside C code, where no signal
handler runs) or dies (a crash) is killed and restarted after that mutant, which is
named as the failure. A sample of the mutants also goes through the real CLI, one
process each. Mutants are written into fresh folders beside hard links of their
companions, so the pairs a format reads (.xml + .bin, .prototxt + .caffemodel) stay
together and no reader can cache one mutant's answer for the next.

Slow (4,509 mutants of 132 files in about 80 s on two cores; the Keras and TorchScript families
take half a minute each): runs under ``CI=true`` or ``NETRAY_SLOW_TESTS=1``. ``bench/fuzz.py`` runs
other seeds and families outside pytest.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import queue
import random
import re
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pytest

SLOW = os.environ.get("CI", "").lower() == "true" or os.environ.get("NETRAY_SLOW_TESTS") == "1"
# Another seed gives other mutants: NETRAY_FUZZ_SEED=7 for a fresh round while hunting bugs.
SEED = int(os.environ.get("NETRAY_FUZZ_SEED", "20240611"))
WORKERS = 2
MUTANT_BUDGET_S = 20.0  # in the driver, per mutant (SIGALRM)
SILENCE_LIMIT_S = 60.0  # no answer from a driver this long: a hang in C code
CLI_TIMEOUT_S = 90.0  # one `netray info` process (torch's import included)
CLI_SAMPLES_PER_FAMILY = 4

TEXT_SUFFIXES = {".prototxt", ".pbtxt", ".cfg", ".param", ".xml", ".json", ".txt"}
FOLDER_MODEL_MARKERS = ("saved_model.pb", "saved_model.pbtxt", "Manifest.json")
HUGE_U32 = 0xFFFF_FFF0
HUGE_U64 = 0x7FFF_FFFF_FFFF_FFF0
# netray.PluginError's words: a plugin let an exception other than FormatError out of netray_load.
UNEXPECTED = re.compile(r"plugin '[^']+' failed: [A-Za-z_.]+(Error|Exception|Interrupt|Exit)?: ")
GARBAGE_CHARACTERS = "abcxyz019 _-.,:;=#{}[]<>\"'/\\\t"


# ---------------------------------------------------------------------------------------
# The mutants
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Mutant:
    """One damaged copy of one file of a model, and what `netray info` opens.

    ``unit`` is the folder (relative to the shared models) copied for the mutant: the
    file's own folder, or the folder-format model that holds it. ``target`` is the
    damaged file and ``opens`` the path opened, both relative to the unit ("." = the
    unit itself, a folder model).
    """

    unit: str
    target: str
    kind: str
    index: int
    opens: str

    @property
    def name(self) -> str:
        opened = "" if self.opens == self.target else f" (opening {self.opens})"
        return f"{self.unit}/{self.target} [{self.kind} {self.index}]{opened}"


def rng_for(mutant: Mutant) -> random.Random:
    key = f"{SEED}:{mutant.unit}/{mutant.target}:{mutant.kind}:{mutant.index}".encode()
    return random.Random(int.from_bytes(hashlib.sha256(key).digest()[:8], "little"))


def is_text(name: str, data: bytes) -> bool:
    if Path(name).suffix.lower() not in TEXT_SUFFIXES:
        return False
    try:
        data[:65536].decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


TRUNCATION_POINTS = 6
HEAD_FLIPS = 6
RANDOM_REGIONS = 4
ZEROED_BLOCKS = 8
HUGE_LENGTHS = 6
LINE_EDITS = 3


def mutation_kinds(name: str, data: bytes) -> list[tuple[str, int]]:
    """The (kind, index) pairs applied to a file of these bytes."""
    counts = [
        ("truncate", TRUNCATION_POINTS),
        ("flip-head", HEAD_FLIPS),
        ("random-region", RANDOM_REGIONS),
        ("zero-block", ZEROED_BLOCKS),
        ("huge-length", HUGE_LENGTHS),
    ]
    if is_text(name, data):
        counts += [("delete-line", LINE_EDITS), ("duplicate-line", LINE_EDITS), ("garbage-line", LINE_EDITS)]
    return [(kind, index) for kind, count in counts for index in range(count)]


def length_field_offsets(data: bytes) -> list[int]:
    """4-aligned offsets in the first KiB holding a small non-zero u32 (at most the file's size): likely lengths, counts or offsets."""
    size = len(data)
    found = []
    for offset in range(0, min(size, 1024) - 3, 4):
        (value,) = struct.unpack_from("<I", data, offset)
        if 0 < value <= size:
            found.append(offset)
    return found


def mutate(data: bytes, mutant: Mutant) -> bytes:
    """The damaged bytes of ``mutant`` (deterministic)."""
    rng = rng_for(mutant)
    size = len(data)
    kind, index = mutant.kind, mutant.index
    if kind.startswith("selftest-"):
        return data
    if kind == "truncate":
        cut = [min(16, size // 2), min(300, size // 2), size // 3, size // 2, 2 * size // 3, size - 1][index]
        return data[: max(cut, 1)]
    buffer = bytearray(data)
    if kind == "flip-head":
        for _ in range(rng.randint(1, 4)):
            at = rng.randrange(min(64, size))
            buffer[at] ^= rng.randrange(1, 256)
    elif kind == "random-region":
        length = min(size, rng.randint(16, 512))
        at = rng.randrange(size - length + 1)
        buffer[at : at + length] = rng.randbytes(length)
    elif kind == "zero-block":
        # The first blocks (headers, metadata, indexes) in turn, then blocks anywhere; within a
        # small file, a 4 KiB run from a point inside it.
        blocks = list(range(0, size, 4096))
        if len(blocks) == 1:
            at = (size * (index + 1) // (ZEROED_BLOCKS + 1)) & ~63
        elif index < ZEROED_BLOCKS // 2 and index < len(blocks):
            at = blocks[index]
        else:
            at = rng.choice(blocks)
        buffer[at : at + 4096] = bytes(len(buffer[at : at + 4096]))
    elif kind == "huge-length":
        offsets = length_field_offsets(data) or [0]
        at = offsets[0] if index == 0 else rng.choice(offsets)
        if at + 8 <= size and data[at + 4 : at + 8] == b"\0\0\0\0":
            struct.pack_into("<Q", buffer, at, HUGE_U64)
        elif at + 4 <= size:
            struct.pack_into("<I", buffer, at, HUGE_U32)
        else:
            buffer[at:] = b"\xff" * (size - at)
    else:
        return mutate_lines(data, kind, rng)
    return bytes(buffer)


def mutate_lines(data: bytes, kind: str, rng: random.Random) -> bytes:
    lines = data.split(b"\n")
    if kind == "delete-line":
        candidates = [i for i, line in enumerate(lines) if line.strip()] or [0]
        del lines[rng.choice(candidates)]
    elif kind == "duplicate-line":
        at = rng.randrange(len(lines))
        lines.insert(at, lines[at])
    elif kind == "garbage-line":
        garbage = "".join(rng.choice(GARBAGE_CHARACTERS) for _ in range(rng.randint(1, 60)))
        lines.insert(rng.randrange(len(lines) + 1), garbage.encode())
    else:
        raise ValueError(f"unknown mutation {kind!r}")
    return b"\n".join(lines)


def folder_model_root(path: Path, family: Path) -> Path | None:
    """The folder-format model (SavedModel, .mlpackage) holding ``path``, if any."""
    for folder in path.parents:
        if folder == family or family not in folder.parents:
            return None
        if folder.suffix == ".mlpackage" or any((folder / marker).exists() for marker in FOLDER_MODEL_MARKERS):
            return folder
    return None


def family_mutants(shared: Path, family: str) -> list[Mutant]:
    """Every mutant of every file of one format family folder (``shared/<family>``), in a stable order."""
    family_dir = shared / family
    mutants = []
    for path in sorted(p for p in family_dir.rglob("*") if p.is_file() and p.stat().st_size > 0):
        root = folder_model_root(path, family_dir)
        unit = root if root is not None else path.parent
        target = path.relative_to(unit).as_posix()
        kinds = mutation_kinds(path.name, path.read_bytes()[:65536])
        for n, (kind, index) in enumerate(kinds):
            # Inside a folder model, every other mutant opens the folder, the rest the file itself.
            opens = "." if root is not None and n % 2 == 0 else target
            mutants.append(Mutant(unit.relative_to(shared).as_posix(), target, kind, index, opens))
    return mutants


def materialize(shared: Path, mutant: Mutant, where: Path) -> Path:
    """Write ``mutant`` into a fresh folder under ``where`` beside hard links (or copies) of its unit's other files; the path to open."""
    source = shared / mutant.unit
    unit_copy = where / source.name
    for original in source.rglob("*"):
        relative = original.relative_to(source)
        destination = unit_copy / relative
        if original.is_dir():
            destination.mkdir(parents=True, exist_ok=True)
            continue
        destination.parent.mkdir(parents=True, exist_ok=True)
        if relative.as_posix() == mutant.target:
            destination.write_bytes(mutate(original.read_bytes(), mutant))
        else:
            try:
                os.link(original, destination)
            except OSError:
                shutil.copyfile(original, destination)
    return unit_copy if mutant.opens == "." else unit_copy / mutant.opens


# ---------------------------------------------------------------------------------------
# What a clean answer is
# ---------------------------------------------------------------------------------------


def outcome_problem(code: int, stdout: str, stderr: str) -> str | None:
    """Why this outcome of `netray info` is not clean; None when it is."""
    if "Traceback" in stderr or "Traceback" in stdout:
        return "a traceback"
    if code < 0:
        return f"killed by signal {-code}"
    lines = stderr.splitlines()
    if code == 0:
        if not stdout.strip():
            return "exit 0 with nothing on stdout"
        if stderr.strip():
            return f"exit 0 but stderr has {len(lines)} line(s)"
        return None
    if code == 2:
        if len(lines) != 1:
            return f"exit 2 with {len(lines)} stderr lines instead of one"
        if not lines[0].startswith("netray: error: "):
            return "exit 2 but the line does not start 'netray: error: '"
        if UNEXPECTED.search(lines[0]):
            return "a plugin raised an unexpected exception (the core's PluginError), not a FormatError"
        return None
    return f"exit status {code}"


# ---------------------------------------------------------------------------------------
# The driver: many mutants in one process (this file run as a script)
# ---------------------------------------------------------------------------------------


class MutantTimeout(BaseException):
    """The per-mutant budget ran out (a BaseException, so no reader's `except Exception` swallows it)."""


@contextlib.contextmanager
def captured_output(folder: Path) -> Iterator[tuple[Path, Path]]:
    """Redirect file descriptors 1 and 2 (Python's and C libraries' output alike) to files."""
    out_path, err_path = folder / "stdout", folder / "stderr"
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        os.dup2(out.fileno(), 1)
        os.dup2(err.fileno(), 2)
        try:
            yield out_path, err_path
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


def run_info_in_process(path: Path) -> int:
    """`netray info PATH` in this process, as the console script runs it; its exit status."""
    import warnings

    from netray.cli import cli
    from netray.plugins import get_manager

    get_manager().warnings.clear()
    with warnings.catch_warnings():  # a fresh "default" registry: warnings show as in a new process
        try:
            cli.main(["info", str(path)], prog_name="netray")
        except SystemExit as stop:
            return stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
        except MutantTimeout:
            raise
        except BaseException:
            traceback.print_exc()
            return 1
    return 0


def misbehave(kind: str) -> int:
    """What the harness's own test asks of the driver: each way a reader can fail the user."""
    if kind == "selftest-spin":  # a loop in C code: no signal handler runs
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
        time.sleep(3600)
    elif kind == "selftest-slow":
        time.sleep(3600)
    elif kind == "selftest-crash":
        os.kill(os.getpid(), signal.SIGSEGV)
    elif kind == "selftest-chatty":
        print("netray: error: x: one line\nand a second", file=sys.stderr)
        return 2
    return 0


def drive(spec_path: Path) -> None:
    """Run the mutants of a spec file, printing one JSON line as each starts and ends."""
    global SEED
    spec = json.loads(spec_path.read_text())
    shared, work = Path(spec["shared"]), Path(spec["work"])
    SEED = spec["seed"]  # the parent's: the mutants are the ones it listed
    report = os.fdopen(os.dup(1), "w", buffering=1)

    def on_alarm(_signum: int, _frame: Any) -> None:
        raise MutantTimeout

    signal.signal(signal.SIGALRM, on_alarm)
    from netray.plugins import get_manager

    get_manager()  # plugins load once, as in every CLI process, but outside each mutant's budget
    for number, fields in enumerate(spec["mutants"], start=spec["first"]):
        mutant = Mutant(**fields)
        folder = work / f"m{number:05d}"
        folder.mkdir(parents=True)
        path = materialize(shared, mutant, folder / "model")
        report.write(json.dumps({"start": number}) + "\n")
        started = time.perf_counter()
        timed_out = False
        with captured_output(folder) as (out_path, err_path):
            signal.setitimer(signal.ITIMER_REAL, spec["budget"])
            try:
                code = misbehave(mutant.kind) if mutant.kind.startswith("selftest-") else run_info_in_process(path)
            except MutantTimeout:
                timed_out, code = True, -1
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
        result = {
            "done": number,
            "code": code,
            "timeout": timed_out,
            "seconds": round(time.perf_counter() - started, 3),
            "stdout": out_path.read_text(errors="replace")[:4000],
            "stderr": err_path.read_text(errors="replace")[:4000],
        }
        report.write(json.dumps(result) + "\n")
        shutil.rmtree(folder, ignore_errors=True)
        if timed_out:
            return  # the process may be left inconsistent: the parent restarts after this mutant


# ---------------------------------------------------------------------------------------
# The parent side
# ---------------------------------------------------------------------------------------


@dataclass
class Outcome:
    mutant: Mutant
    problem: str | None
    detail: str
    seconds: float


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["QT_QPA_PLATFORM"] = "offscreen"
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def excerpt(stdout: str, stderr: str) -> str:
    text = (stderr.strip() or stdout.strip()).splitlines()
    return " | ".join(text[:6])[:600]


def run_driver(shared: Path, mutants: list[Mutant], work: Path) -> list[Outcome]:
    """Every mutant's outcome through driver processes, restarted after a hang or a crash."""
    outcomes: list[Outcome] = []
    work.mkdir(parents=True, exist_ok=True)
    first = 0
    while first < len(mutants):
        spec = work / f"spec-{first}.json"
        spec.write_text(
            json.dumps(
                {
                    "shared": str(shared),
                    "work": str(work / f"run-{first}"),
                    "first": first,
                    "budget": MUTANT_BUDGET_S,
                    "seed": SEED,
                    "mutants": [asdict(m) for m in mutants[first:]],
                }
            )
        )
        process = subprocess.Popen(
            [sys.executable, __file__, "--drive", str(spec)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=child_env(),
            start_new_session=True,
        )
        lines: queue.Queue[str | None] = queue.Queue()
        errors: list[str] = []

        def pump(process: subprocess.Popen[str] = process, lines: queue.Queue[str | None] = lines) -> None:
            assert process.stdout is not None
            for line in process.stdout:
                lines.put(line)
            lines.put(None)

        def drain(process: subprocess.Popen[str] = process, errors: list[str] = errors) -> None:
            assert process.stderr is not None
            errors.append(process.stderr.read())

        threading.Thread(target=pump, daemon=True).start()
        threading.Thread(target=drain, daemon=True).start()
        current: int | None = None
        next_first = len(mutants)
        while True:
            try:
                line = lines.get(timeout=SILENCE_LIMIT_S)
            except queue.Empty:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
                if current is None:
                    raise AssertionError(f"the fuzz driver did not start within {SILENCE_LIMIT_S:.0f} s") from None
                outcomes.append(Outcome(mutants[current], f"hung (no answer in {SILENCE_LIMIT_S:.0f} s)", "", SILENCE_LIMIT_S))
                next_first = current + 1
                break
            if line is None:  # the driver ended: all done, or it died during `current`
                code = process.wait()
                if current is not None:
                    time.sleep(0.1)
                    detail = (errors[0] if errors else "").strip().splitlines()[-3:]
                    outcomes.append(Outcome(mutants[current], f"the process died (status {code})", " | ".join(detail), 0.0))
                    next_first = current + 1
                elif code != 0:
                    raise AssertionError(f"the fuzz driver failed (status {code}): {(errors[0] if errors else '')[-2000:]}")
                break
            event = json.loads(line)
            if "start" in event:
                current = event["start"]
                continue
            mutant = mutants[event["done"]]
            current = None
            if event["timeout"]:
                problem: str | None = f"hung (more than {MUTANT_BUDGET_S:.0f} s)"
            else:
                problem = outcome_problem(event["code"], event["stdout"], event["stderr"])
            outcomes.append(Outcome(mutant, problem, excerpt(event["stdout"], event["stderr"]), event["seconds"]))
            if event["timeout"]:
                process.wait()
                next_first = event["done"] + 1
                break
        first = next_first
    return outcomes


def run_cli(shared: Path, mutant: Mutant, work: Path) -> Outcome:
    """One mutant through the real `netray info`, in its own process."""
    folder = Path(tempfile.mkdtemp(dir=work))
    path = materialize(shared, mutant, folder)
    started = time.perf_counter()
    try:
        result = subprocess.run(
            [sys.executable, "-m", "netray.cli", "info", str(path)],
            capture_output=True,
            text=True,
            timeout=CLI_TIMEOUT_S,
            env=child_env(),
        )
    except subprocess.TimeoutExpired:
        return Outcome(mutant, f"hung (more than {CLI_TIMEOUT_S:.0f} s)", "", CLI_TIMEOUT_S)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    problem = outcome_problem(result.returncode, result.stdout, result.stderr)
    return Outcome(mutant, problem, excerpt(result.stdout, result.stderr), time.perf_counter() - started)


def families(shared: Path) -> list[str]:
    """The format family folders; ``NETRAY_FUZZ_FAMILIES=keras,gguf`` narrows them (while fixing one reader)."""
    chosen = {name for name in os.environ.get("NETRAY_FUZZ_FAMILIES", "").split(",") if name}
    return sorted(p.name for p in shared.iterdir() if p.is_dir() and (not chosen or p.name in chosen))


def cli_sample(mutants: list[Mutant]) -> list[Mutant]:
    """A deterministic spread of a family's mutants: every kind of damage gets its turn across families."""
    if not mutants:
        return []
    step = max(1, len(mutants) // CLI_SAMPLES_PER_FAMILY)
    offset = len(mutants) % step
    return mutants[offset::step][:CLI_SAMPLES_PER_FAMILY]


def failures_report(outcomes: list[Outcome]) -> str:
    bad = [o for o in outcomes if o.problem]
    return "\n".join(f"{o.mutant.name}: {o.problem}: {o.detail}" for o in bad)


slow = pytest.mark.skipif(not SLOW, reason="runs ~1,700 mutants; set NETRAY_SLOW_TESTS=1 (always on under CI=true)")


@pytest.mark.slow
@slow
def test_every_mutant_of_the_real_files_gets_a_clean_answer(shared_models: Path, tmp_path: Path) -> None:
    names = families(shared_models)
    started = time.perf_counter()
    seconds: dict[str, float] = {}

    def run_family(family: str) -> list[Outcome]:
        began = time.perf_counter()
        found = run_driver(shared_models, family_mutants(shared_models, family), tmp_path / family)
        seconds[family] = time.perf_counter() - began
        return found

    with ThreadPoolExecutor(WORKERS) as pool:
        results = list(pool.map(run_family, names))
    outcomes = [o for family_outcomes in results for o in family_outcomes]
    elapsed = time.perf_counter() - started
    print("\n" + ", ".join(f"{family} {len(found)} in {seconds[family]:.0f} s" for family, found in zip(names, results, strict=True)))
    clean_exits = sum(1 for o in outcomes if not o.problem and "netray: error:" not in o.detail)
    print(f"\nfuzz: {len(outcomes)} mutants of {len(names)} format families in {elapsed:.0f} s ({clean_exits} opened, the rest refused in one line)")
    slowest = sorted(outcomes, key=lambda o: -o.seconds)[:3]
    print("slowest: " + "; ".join(f"{o.mutant.name} {o.seconds:.1f} s" for o in slowest))
    assert len(outcomes) > 0
    assert not any(o.problem for o in outcomes), "mutants without a clean answer:\n" + failures_report(outcomes)


@pytest.mark.slow
@slow
def test_a_sample_of_mutants_through_the_real_cli(shared_models: Path, tmp_path: Path) -> None:
    sample = [m for family in families(shared_models) for m in cli_sample(family_mutants(shared_models, family))]
    with ThreadPoolExecutor(WORKERS) as pool:
        outcomes = list(pool.map(lambda mutant: run_cli(shared_models, mutant, tmp_path), sample))
    assert len(outcomes) >= len(families(shared_models))
    assert not any(o.problem for o in outcomes), "mutants without a clean answer:\n" + failures_report(outcomes)


def test_mutants_are_deterministic_and_damage_the_file(tmp_path: Path) -> None:
    """The same mutant twice gives the same bytes; every kind changes the file."""
    data = b"name: 'net'\n" + b"layer {\n  name: 'conv'\n  top: 'conv'\n}\n" * 400
    source = tmp_path / "shared" / "fam" / "m"
    source.mkdir(parents=True)
    (source / "net.prototxt").write_bytes(data)
    mutants = family_mutants(tmp_path / "shared", "fam")
    assert {m.kind for m in mutants} >= {"truncate", "flip-head", "random-region", "zero-block", "huge-length", "garbage-line"}
    for mutant in mutants:
        once = mutate(data, mutant)
        assert once == mutate(data, mutant)
        assert once != data, mutant.name
    opened = materialize(tmp_path / "shared", mutants[0], tmp_path / "out")
    assert opened.read_bytes() == mutate(data, mutants[0])


@pytest.mark.slow
@slow
def test_the_harness_names_hangs_crashes_and_extra_lines(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A driver that spins in C, sleeps past its budget, dies or prints two lines: each is named, and the rest still run."""
    shared = tmp_path / "shared"
    (shared / "fam").mkdir(parents=True)
    (shared / "fam" / "model.bin").write_bytes(b"x" * 64)
    kinds = ["selftest-spin", "selftest-ok", "selftest-slow", "selftest-crash", "selftest-chatty", "selftest-ok"]
    mutants = [Mutant("fam", "model.bin", kind, 0, "model.bin") for kind in kinds]
    monkeypatch.setattr(sys.modules[__name__], "SILENCE_LIMIT_S", 8.0)
    monkeypatch.setattr(sys.modules[__name__], "MUTANT_BUDGET_S", 2.0)
    outcomes = {o.mutant.kind: o for o in run_driver(shared, mutants, tmp_path / "work")}
    assert set(outcomes) == set(kinds)
    assert outcomes["selftest-spin"].problem == "hung (no answer in 8 s)"
    assert outcomes["selftest-slow"].problem == "hung (more than 2 s)"
    assert outcomes["selftest-crash"].problem is not None and "died" in outcomes["selftest-crash"].problem
    assert outcomes["selftest-chatty"].problem == "exit 2 with 2 stderr lines instead of one"
    assert outcomes["selftest-ok"].problem == "exit 0 with nothing on stdout"  # ran after every failure


def test_what_counts_as_a_clean_answer() -> None:
    assert outcome_problem(0, "format ONNX\n", "") is None
    assert outcome_problem(2, "", "netray: error: x: ONNX: truncated\n") is None
    assert outcome_problem(2, "", "netray: error: x: bad\nsecond line\n") is not None
    assert outcome_problem(0, "ok", "/usr/lib/h5py warning\n") is not None
    assert outcome_problem(1, "", "Traceback (most recent call last):\n") == "a traceback"
    assert outcome_problem(2, "", "netray: error: x: plugin 'tflite' failed: KeyError: 3\n") is not None
    assert outcome_problem(-11, "", "") == "killed by signal 11"


if __name__ == "__main__" and sys.argv[1:2] == ["--drive"]:
    drive(Path(sys.argv[2]))
