"""Readable terminal output for ``netray run`` (rich tables)."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from netray.info_text import terminal
from netray.run import RunResult
from netray.runtime import ValueStats

TOP = 20


def _number(x: float | None) -> str:
    return "—" if x is None else f"{x:.4g}"


def _stats_table(title: str, rows: list[tuple[str, ValueStats]], console: Console) -> None:
    if not rows:
        return
    table = Table(title=title, title_justify="left")
    for column in ("value", "shape", "dtype", "min", "max", "mean", "std", "max |x|", "NaN/Inf", "zeros"):
        table.add_column(column, justify="left" if column in ("value", "shape", "dtype") else "right")
    for name, s in rows:
        shape = "x".join(str(d) for d in s.shape) or "scalar"
        table.add_row(
            escape(name), shape, s.dtype, _number(s.min), _number(s.max), _number(s.mean), _number(s.std),
            _number(s.max_abs), str(s.nonfinite), f"{s.zeros:,}",
        )
    console.print(table)


def print_run(result: RunResult, console: Console | None = None) -> None:
    console = console or terminal()
    source = result.model.source
    console.print(f"[bold]{escape(str(source or ''))}[/bold] run on {escape(result.runtime)}: {len(result.values):,} values captured")
    if result.assumed_dims:
        named = ", ".join(f"{k}=1" for k in result.assumed_dims)
        console.print(escape(f"assumed     {named} (set with --dim NAME=SIZE)"))
    _stats_table("outputs", list(result.outputs.items()), console)
    found = result.first_nonfinite
    constants = result.constant_infinities
    if found is None and constants:
        first = constants[0]
        more = f" and {len(constants) - 1:,} more" if len(constants) > 1 else ""
        console.print(escape(f"first NaN/Inf: none made by a computation; infinities set by constants only (masks): {first['name'] or first['node']} ({first['op']}){more}"))
    elif found is None:
        console.print("first NaN/Inf: none, every captured value is finite")
    else:
        inputs = " while all its inputs were finite" if found.get("inputs_finite", True) else " from infinities (NaN starts here)"
        cause = f"; {found['cause']}" if found.get("cause") else inputs
        console.print(escape(f"first NaN/Inf: {found['name'] or found['node']} ({found['op']}) made {found['value']} non-finite{cause}"))
    _stats_table(f"largest magnitudes (top {TOP})", result.largest(TOP), console)
    if result.backward_error:
        console.print(escape(f"gradients: not computed: {result.backward_error}"))
    if result.gradients:
        ranked = sorted(result.gradients.items(), key=lambda item: -(item[1].norm or 0.0))[:TOP]
        _stats_table(f"weight gradients, largest norm first (top {TOP})", ranked, console)
    if result.compared_with:
        console.print(escape(f"compared with {result.compared_with}: {len(result.compare):,} values"))
        divergence = result.first_divergence
        if divergence is None:
            console.print("first divergence: none within the tolerances")
        else:
            console.print(escape(
                f"first divergence: {divergence['value']} at {divergence['name'] or divergence['node']} ({divergence['op']}):"
                f" max |diff| {divergence['max_abs']:.4g}, max relative {divergence['max_rel']:.4g}"
            ))
        worst = sorted(result.compare.items(), key=lambda item: -item[1].max_abs)[:10]
        table = Table(title="largest differences", title_justify="left")
        for column in ("value", "max |diff|", "max relative"):
            table.add_column(column, justify="left" if column == "value" else "right")
        for name, d in worst:
            table.add_row(escape(name), f"{d.max_abs:.4g}", f"{d.max_rel:.4g}")
        console.print(table)
    if result.saved is not None:
        console.print(escape(f"saved       {result.saved}"))
