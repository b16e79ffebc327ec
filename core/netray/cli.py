"""`netray open|info|run|export|diff|formats`: a thin layer over the API.

Errors a user can cause (a bad file, a missing plugin) exit with status 2 and one
line on stderr, ``netray: error: <file>: <what is wrong>``; ``--debug`` adds the
traceback.
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from netray.errors import FormatError, RunError

EXIT_USER_ERROR = 2
F = TypeVar("F", bound=Callable[..., Any])


def process_start_time() -> float:
    """``time.monotonic()``'s reading at the moment this process started.

    Read from /proc where available, so ``ready_s`` includes interpreter start-up
    and imports; elsewhere falls back to the time this module was imported.
    """
    try:
        ticks = os.sysconf("SC_CLK_TCK")
        with open("/proc/self/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        started_after_boot = int(fields[19]) / ticks
        with open("/proc/uptime") as f:
            uptime = float(f.read().split()[0])
        # CLOCK_MONOTONIC and /proc/uptime both count from boot on Linux.
        return time.monotonic() - (uptime - started_after_boot)
    except (OSError, ValueError, IndexError):
        return _IMPORTED_AT


_IMPORTED_AT = time.monotonic()


def one_line(message: str) -> str:
    """The first non-empty line of a message: a library's error can span many (its traceback, advice)."""
    return next((line.strip() for line in message.splitlines() if line.strip()), message.strip())


def fail(message: str, debug: bool) -> None:
    if debug:
        traceback.print_exc()
    click.echo(f"netray: error: {one_line(message)}", err=True)
    sys.exit(EXIT_USER_ERROR)


def user_errors(func: F) -> F:
    """Turn FormatError (and unexpected errors, in short) into one line and exit status 2."""

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        debug = bool(click.get_current_context().obj.get("debug"))
        try:
            return func(*args, **kwargs)
        except (FormatError, RunError) as exc:
            fail(str(exc), debug)
        except (OSError, MemoryError, RecursionError) as exc:
            fail(f"{type(exc).__name__}: {exc}", debug)

    wrapper.__name__ = func.__name__
    wrapper.__doc__ = func.__doc__
    return wrapper  # type: ignore[return-value]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
@click.version_option(package_name="netray-core")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """netray: open any AI model file and see it as an interactive graph."""
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug
    # Plugins' failures while loading or sniffing are collected by the manager;
    # show them once the command is done (and on error), not as tracebacks.
    ctx.call_on_close(print_plugin_warnings)


def print_plugin_warnings() -> None:
    from netray.plugins import get_manager

    for warning in dict.fromkeys(get_manager().warnings):
        click.echo(f"netray: warning: {one_line(warning)}", err=True)


def validate_expand(_ctx: click.Context, _param: click.Parameter, value: str) -> str:
    from netray.exporter import ExportError, expand_mode

    try:
        return expand_mode(value)
    except ExportError as exc:
        raise click.BadParameter("use auto, none, all or a depth (0, 1, 2, ...)") from exc


def validate_dims(_ctx: click.Context, _param: click.Parameter, value: tuple[str, ...]) -> dict[str, int]:
    """``--dim NAME=SIZE`` options as ``{name: size}``; a malformed one is a usage error naming it."""
    if not value:
        return {}
    from netray.shapes import parse_dims

    try:
        return parse_dims(value)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None


@cli.command("open")
@click.argument("file", required=False, type=click.Path(path_type=Path))
@click.option("--snapshot", "snapshot_path", type=click.Path(path_type=Path), help="Open offscreen, save the window to this PNG, print timings as JSON and exit.")
@click.option("--expand", default="auto", callback=validate_expand, show_default=True, help="Groups to expand: auto, none, all or a depth N.")
@user_errors
def open_command(file: Path | None, snapshot_path: Path | None, expand: str) -> None:
    """Open FILE in the viewer window."""
    from netray.app import ViewerMissing, viewer

    try:
        front = viewer("netray open")
    except ViewerMissing as exc:
        fail(str(exc), False)
        return
    if snapshot_path is not None:
        if file is None:
            raise click.UsageError("--snapshot needs a FILE")
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        result = front.snapshot(str(file), str(snapshot_path), expand=expand, t0=process_start_time())
        click.echo(json.dumps(result))
        return
    sys.exit(front.run(str(file) if file else None, expand=expand))


@cli.command("info")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option("--costs", is_flag=True, help="Add costs: totals, top 20 nodes by each metric, by op type and group, peak memory.")
@click.option("--dim", "dims", multiple=True, metavar="NAME=SIZE", callback=validate_dims, help="Set a named dimension (batch=8). Repeatable.")
@user_errors
def info_command(file: Path, as_json: bool, costs: bool, dims: dict[str, int]) -> None:
    """Summarise FILE: format, producer, graphs, inputs and outputs, operations, parameters."""
    from netray.api import load_model
    from netray.shapes import apply_dims
    from netray.summary import costs_summary, model_summary

    model = load_model(file)
    if dims:
        apply_dims(model, dims)
    summary = model_summary(model)
    if costs and not model.weights_only:
        summary["costs"] = costs_summary(model, dims)
    if as_json:
        click.echo(json.dumps(summary, indent=2, default=str))
        return
    from netray.info_text import print_costs, print_summary

    print_summary(summary)
    if "costs" in summary:
        print_costs(summary["costs"])


def _floats(text: str | None) -> tuple[float, ...] | None:
    if text is None:
        return None
    try:
        return tuple(float(x) for x in text.split(","))
    except ValueError:
        raise click.UsageError(f"expected numbers separated by commas, such as 0.485,0.456,0.406, not {text!r}") from None


@cli.command("run")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--inputs", type=click.Path(path_type=Path), help="A .npy (one input), a .npz (by input name) or an image for a 4-D input.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the random inputs.")
@click.option("--dim", "dims", multiple=True, metavar="NAME=SIZE", callback=validate_dims, help="Set a named dimension (batch=8). Repeatable.")
@click.option("--runtime", default="", help="A runtime the format's plugin offers besides its usual one (ONNX: reference).")
@click.option("--backward", is_flag=True, help="Also compute gradients: loss = sum of the outputs, or squared error to --target.")
@click.option("--target", type=click.Path(path_type=Path), help="With --backward: target outputs (.npy, or .npz by output name).")
@click.option("--compare", metavar="RUNTIME|FILE", help="Run the same inputs on another runtime (ONNX: reference) or another file of the same graph, and compare every value.")
@click.option("--atol", type=float, default=1e-4, show_default=True, help="With --compare: absolute tolerance of the first divergence.")
@click.option("--rtol", type=float, default=1e-3, show_default=True, help="With --compare: tolerance relative to the reference's largest magnitude.")
@click.option("--mean", "mean_text", metavar="M[,M,M]", help="With an image input: subtracted per channel after scaling to [0, 1].")
@click.option("--std", "std_text", metavar="S[,S,S]", help="With an image input: divided per channel after the mean.")
@click.option("--save", type=click.Path(path_type=Path), help="Save every captured value to this .npz.")
@click.option("--json", "json_path", type=click.Path(path_type=Path), help="Write the statistics as JSON to this file (- for standard output).")
@click.option(
    "--node-data",
    "node_data",
    type=click.Path(path_type=Path),
    help="Write the per-node run metrics (mean |x|, std, max |x|, NaN/Inf count, zeros %, ...) as node data JSON: "
    "netray export --node-data paints them, the viewer loads them.",
)
@user_errors
def run_command(
    file: Path,
    inputs: Path | None,
    seed: int,
    dims: dict[str, int],
    runtime: str,
    backward: bool,
    target: Path | None,
    compare: str | None,
    atol: float,
    rtol: float,
    mean_text: str | None,
    std_text: str | None,
    save: Path | None,
    json_path: Path | None,
    node_data: Path | None,
) -> None:
    """Run FILE on its runtime: output statistics, the first NaN, the largest values; gradients and comparisons on request."""
    from netray.api import load_model
    from netray.run import RunOptions, run_model
    options = RunOptions(
        inputs=inputs, seed=seed, dims=dims, runtime=runtime, backward=backward, target=target, compare=compare,
        save=save, mean=_floats(mean_text) or (0.0,), std=_floats(std_text) or (1.0,), atol=atol, rtol=rtol,
    )
    result = run_model(load_model(file), options)
    if node_data is not None:
        from netray.metrics import write_node_data

        write_node_data(result.metrics(), node_data)
    if json_path is not None:
        text = json.dumps(result.to_json(), indent=1, default=str)
        if str(json_path) == "-":
            click.echo(text)
            return
        json_path.write_text(text, encoding="utf-8")
    from netray.run_text import print_run

    print_run(result)


@cli.command("export")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("-o", "--output", "output", required=True, type=click.Path(path_type=Path), help="Where to write: .svg, .png, .pdf, .json or .netray.")
@click.option("--expand", default="auto", callback=validate_expand, show_default=True, help="Groups to expand: auto, none, all or a depth N.")
@click.option(
    "--expand-group",
    "expand_groups",
    multiple=True,
    metavar="GROUP",
    help="Also expand this group (and the groups around it): an id (model/layers.3), a label (layers.3) or a pattern (*attn). Repeatable.",
)
@click.option("--collapse-group", "collapse_groups", multiple=True, metavar="GROUP", help="Collapse this group (id, label or pattern). Repeatable.")
@click.option("--direction", type=click.Choice(["TB", "LR"]), default="TB", show_default=True, help="Top to bottom or left to right.")
@click.option("--theme", type=click.Choice(["light", "dark"]), default="light", show_default=True, help="Colours of the picture.")
@click.option("--fold-constants/--no-fold-constants", default=True, show_default=True, help="Draw constant nodes inside the boxes that use them.")
@click.option("--names", is_flag=True, help="Show each node's name in its box.")
@click.option("--hide-attributes", is_flag=True, help="Leave attributes out of the boxes.")
@click.option("--hide-weights", is_flag=True, help="Leave weights and folded constants out of the boxes.")
@click.option("--hide-edge-shapes", is_flag=True, help="Leave tensor shapes off the edges.")
@click.option("--graph", "graph", default="0", show_default=True, help="Which graph: an index into the model's graphs or a graph's name.")
@click.option("--no-weights", "no_weights", is_flag=True, help="For .netray: store structure only, no tensor values.")
@click.option(
    "--metric",
    metavar="NAME",
    help="Colour the boxes by a metric, with its legend, as the viewer's overlay: a cost (MACs, FLOPs, parameters, "
    "'weight bytes', 'activation bytes', 'arithmetic intensity') or a metric of --node-data.",
)
@click.option("--node-data", "node_data", type=click.Path(path_type=Path), help="Node data JSON (netray run --node-data, Model Explorer's) to colour by.")
@click.option("--dim", "dims", multiple=True, metavar="NAME=SIZE", callback=validate_dims, help="With a cost --metric: set a named dimension (batch=8). Repeatable.")
@user_errors
def export_command(
    file: Path,
    output: Path,
    expand: str,
    expand_groups: tuple[str, ...],
    collapse_groups: tuple[str, ...],
    direction: str,
    theme: str,
    fold_constants: bool,
    names: bool,
    hide_attributes: bool,
    hide_weights: bool,
    hide_edge_shapes: bool,
    graph: str,
    no_weights: bool,
    metric: str | None,
    node_data: Path | None,
    dims: dict[str, int],
) -> None:
    """Write FILE as a picture (.svg .png .pdf), JSON or a .netray file; needs no display.

    Pictures are drawn as the viewer draws them; the options mirror its View menu.
    """
    from netray.app import ViewerMissing
    from netray.exporter import ExportError, export_model
    from netray.labels import BoxText
    try:
        written = export_model(
            file,
            output,
            expand=expand,
            expand_groups=expand_groups,
            collapse_groups=collapse_groups,
            direction=direction,
            theme=theme,
            graph=int(graph) if graph.isdigit() else graph,
            weights=not no_weights,
            fold_constants=fold_constants,
            text=BoxText(names=names, attributes=not hide_attributes, weights=not hide_weights),
            edge_labels=not hide_edge_shapes,
            metric=metric,
            node_data=node_data,
            dims=dims,
        )
    except (ExportError, ViewerMissing) as exc:
        fail(str(exc), bool(click.get_current_context().obj.get("debug")))
        return
    click.echo(f"wrote {written}")


@cli.command("diff")
@click.argument("file_a", type=click.Path(path_type=Path))
@click.argument("file_b", type=click.Path(path_type=Path))
@click.option("--json", "json_path", type=click.Path(path_type=Path), help="Write the pairs and changes as JSON to this file (- for standard output).")
@click.option("--weights/--no-weights", default=True, show_default=True, help="Compare weights' values (max |diff|, max rel, cosine), or only their dtypes and shapes.")
@click.option("--tolerance", type=float, default=0.0, show_default=True, help="Largest absolute weight difference still counted as equal.")
@click.option("-o", "--output", "output", type=click.Path(path_type=Path), help="Also draw both sides with the changes marked: .svg, .png or .pdf (needs the viewer).")
@click.option("--open", "open_window", is_flag=True, help="Open both models side by side in the viewer's split view.")
@user_errors
def diff_command(file_a: Path, file_b: Path, json_path: Path | None, weights: bool, tolerance: float, output: Path | None, open_window: bool) -> None:
    """Compare FILE_A with FILE_B: a summary, then the changes grouped by scope.

    Exits 0 when the models are the same (within --tolerance), 1 when they differ, 2 on errors.
    """
    from netray.api import load_model
    from netray.diff import diff_lines, diff_models

    if tolerance < 0:
        raise click.UsageError("--tolerance must be 0 or more")
    if output is not None and output.suffix.lower() not in (".svg", ".png", ".pdf"):
        raise click.UsageError(f"-o must name a .svg, .png or .pdf file, not {output.name}")
    result = diff_models(load_model(file_a), load_model(file_b), weights=weights, tolerance=tolerance)
    if json_path is not None:
        text = json.dumps(result.to_json(), indent=1, default=str)
        if str(json_path) == "-":
            click.echo(text)
        else:
            json_path.write_text(text, encoding="utf-8")
    if json_path is None or str(json_path) != "-":
        click.echo("\n".join(diff_lines(result, limit=500)))
    if output is not None or open_window:
        _diff_viewer(result, file_a, file_b, output, open_window)
    sys.exit(0 if result.same else 1)


def _diff_viewer(result: Any, file_a: Path, file_b: Path, output: Path | None, open_window: bool) -> None:
    """Draw or open the comparison through the viewer's ``render_diff`` and ``open_diff``."""
    from netray.app import ViewerMissing, viewer

    debug = bool(click.get_current_context().obj.get("debug"))
    try:
        front = viewer("netray diff -o/--open")
    except ViewerMissing as exc:
        fail(str(exc), debug)
        return
    if output is not None:
        render = getattr(front, "render_diff", None)
        if render is None:
            fail("netray diff -o needs the viewer's split view (render_diff), which this viewer does not have yet", debug)
            return
        from netray.exporter import prepare_qt_platform

        prepare_qt_platform()
        render(result, str(output))
        click.echo(f"wrote {output}")
    if open_window:
        opener = getattr(front, "open_diff", None)
        if opener is None:
            fail("netray diff --open needs the viewer's split view (open_diff), which this viewer does not have yet", debug)
            return
        opener(str(file_a), str(file_b))


@cli.command("formats")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
def formats_command(as_json: bool) -> None:
    """List installed plugins: versions, contract, the formats they declare and any problem."""
    from netray.plugins import format_rows, get_manager

    rows = format_rows(get_manager())
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    from netray.info_text import print_formats

    print_formats(rows)


def main() -> None:
    # netray's process does no linear algebra, and OpenBLAS (numpy's) starts one thread
    # per core that spins while idle: on 2 cores it took ~60 ms from a 0.5 s
    # `netray open`. Set before anything imports numpy (importing this module does not).
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    cli(obj={})


if __name__ == "__main__":
    main()
