"""Readable terminal output for `netray info` and `netray formats` (rich tables)."""

from __future__ import annotations

import sys
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from netray.ir import meta_text
from netray.units import human_bytes, human_count

MAX_OPS_SHOWN = 25


def terminal() -> Console:
    # Piped output (a file, a test) gets a wide page rather than rich's 80 columns,
    # so names and shapes are never cut.
    return Console() if sys.stdout.isatty() else Console(width=160)


def _shape(shape: list[Any] | None) -> str:
    if shape is None:
        return "?"
    # Escaped: rich would read "[batch, 3]" as markup.
    return escape("[" + ", ".join("?" if d is None else str(d) for d in shape) + "]")




def _key_values(title: str, values: dict[str, Any], cut: dict[str, int], console: Console) -> None:
    if not values:
        return
    console.print(f"[bold]{escape(title)}[/bold]")
    table = Table(show_header=False)
    table.add_column("key")
    table.add_column("value", overflow="fold")
    for key, value in values.items():
        text = meta_text(value, 100, cut.get(key))
        table.add_row(escape(key), escape(text))
    console.print(table)


def print_summary(summary: dict[str, Any], console: Console | None = None) -> None:
    console = console or terminal()
    console.print(f"[bold]{escape(summary['source'] or '')}[/bold]")
    console.print(f"format      {summary['format']}")
    if summary["producer"]:
        console.print(f"producer    {escape(summary['producer'])}")
    if summary["imports"]:
        console.print("imports     " + ", ".join(f"{k or 'ai.onnx'} {v}" for k, v in summary["imports"].items()))
    console.print(f"parameters  {summary['parameters']:,} ({human_count(summary['parameters'])})")
    tensors = summary["tensors"]
    if tensors["count"]:
        by_dtype = ", ".join(f"{escape(k)} {human_bytes(v)}" for k, v in tensors["bytes_by_dtype"].items())
        console.print(f"tensors     {tensors['count']:,} ({human_bytes(tensors['bytes'])}: {by_dtype})")
    if summary["weights_only"]:
        console.print("structure   weights only: the file holds named tensors and no operations")
    elif not summary["graphs"] and not tensors["count"]:
        console.print("structure   key/values only: the file holds metadata, no tensors and no operations")
    _key_values("metadata (what the file states)", summary["metadata"], summary.get("metadata_cut", {}), console)
    _key_values("properties (what the plugin derived)", summary["properties"], {}, console)
    for graph in summary["graphs"]:
        if graph.get("inferred"):
            console.print(escape(f"structure   inferred: {graph['inferred']}"))
        table = Table(title=f"graph {graph['name']!r}: {graph['nodes']} operations", title_justify="left")
        table.add_column("")
        table.add_column("name")
        table.add_column("dtype")
        table.add_column("shape")
        for kind in ("inputs", "outputs"):
            for v in graph[kind]:
                table.add_row(kind[:-1], escape(v["name"]), escape(str(v["dtype"] or "?")), _shape(v["shape"]))
        console.print(table)
    ops = list(summary["ops"].items())
    if not ops:
        return
    table = Table(title=f"operations ({sum(c for _, c in ops)} in all graphs)", title_justify="left")
    table.add_column("op")
    table.add_column("count", justify="right")
    for op, count in ops[:MAX_OPS_SHOWN]:
        table.add_row(escape(op), str(count))
    if len(ops) > MAX_OPS_SHOWN:
        table.add_row(f"… {len(ops) - MAX_OPS_SHOWN} more types", "")
    console.print(table)


def print_formats(rows: list[dict[str, Any]], console: Console | None = None) -> None:
    console = console or terminal()
    if not rows:
        console.print("No format plugins installed. Install one, e.g.: pip install netray-plugin-onnx")
        return
    table = Table(title="installed format plugins", title_justify="left")
    for col in ("plugin", "distribution", "version", "contract", "formats", "extensions"):
        table.add_column(col)
    for row in rows:
        names = ", ".join(f["name"] for f in row["formats"]) or (f"[red]failed: {escape(row['error'])}[/red]" if row["error"] else "")
        exts = ", ".join(sorted({e for f in row["formats"] for e in f["extensions"]}))
        table.add_row(row["plugin"], row["distribution"], row["version"], row.get("contract") or "-", names, exts)
    console.print(table)
    for row in rows:
        for problem in row.get("problems", []):
            console.print(f"[yellow]{escape(row['plugin'])}: {escape(problem)}[/yellow]")


def _number(value: int | float | None, unit: str) -> str:
    from netray.metrics import format_number

    return format_number(value, unit)


def print_costs(costs: dict[str, Any], console: Console | None = None) -> None:
    """``info --costs``: totals, the peak, costs by op type, by group, and the top nodes."""
    console = console or terminal()
    total = costs["total"]
    console.print(f"[bold]costs of graph {escape(repr(costs['graph']))}[/bold]")
    console.print(f"MACs        {_number(total['macs'], 'MAC')} ({total['macs']:,})")
    console.print(f"FLOPs       {_number(total['flops'], 'FLOP')} ({total['flops']:,})")
    console.print(f"parameters  {total['parameters']:,} in {_number(total['weight_bytes'], 'B')}")
    peak = costs["peak"]
    if peak.get("bytes") is not None:
        where = f" at {escape(peak['name'] or peak['node'])} ({escape(peak['op'])})" if peak.get("node") else " (the inputs)"
        console.print(f"peak memory {_number(peak['bytes'], 'B')} of activations{where}")
    if costs["assumed_dims"]:
        named = ", ".join(f"{k}=1" for k in costs["assumed_dims"])
        console.print(escape(f"assumed     {named} (set with --dim NAME=SIZE)"))
    if costs["unknown_ops"]:
        unknown = ", ".join(f"{op} ×{n}" for op, n in costs["unknown_ops"].items())
        console.print(escape(f"unknown     {total['unknown_ops']} nodes have no formula or no known shapes: {unknown}"))
    _cost_table("by op type", [(op, row) for op, row in costs["by_op"].items()][:MAX_OPS_SHOWN], console)
    groups = sorted(costs["groups"], key=lambda g: -g["macs"])[:TOP_SHOWN]
    _cost_table("groups (most MACs first)", [(f"{g['label']} ({g['group']})", g) for g in groups], console)
    for metric, unit in (("macs", "MAC"), ("parameters", ""), ("activation_bytes", "B")):
        rows = costs["top"][metric][:TOP_SHOWN]
        if not rows:
            continue
        table = Table(title=f"top nodes by {metric.replace('_', ' ')}", title_justify="left")
        for column in ("node", "op", metric.replace("_", " ")):
            table.add_column(column, justify="right" if column != "node" and column != "op" else "left")
        for row in rows:
            table.add_row(escape(row["name"] or row["node"]), escape(row["op"]), _number(row["value"], unit))
        console.print(table)


TOP_SHOWN = 10  # the terminal shows 10 of each list; --json has 20


def _cost_table(title: str, rows: list[tuple[str, dict[str, Any]]], console: Console) -> None:
    if not rows:
        return
    table = Table(title=title, title_justify="left")
    table.add_column("")
    for column in ("count", "parameters", "MACs", "FLOPs"):
        table.add_column(column, justify="right")
    for name, row in rows:
        count = row.get("count", row.get("ops", ""))
        table.add_row(escape(name), str(count), _number(row["parameters"], ""), _number(row["macs"], "MAC"), _number(row["flops"], "FLOP"))
    console.print(table)
