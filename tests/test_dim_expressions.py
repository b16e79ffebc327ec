"""Sizes written as arithmetic on named dimensions (torch.export's ``2*s27 - 1``): parsed, never executed."""

from __future__ import annotations

import pytest

from netray.dim_expressions import dim_names, evaluate, resolve_size

SIZES = {"s27": 5, "s0": 7, "batch": 3}


@pytest.mark.parametrize(
    ("text", "names", "size"),
    [
        ("2*s27 - 1", ("s27",), 9),
        ("16*s27 - 8", ("s27",), 72),
        ("Max(1, s0)", ("s0",), 7),
        ("Min(s0, 4) + batch", ("s0", "batch"), 7),
        ("FloorDiv(s0, 2)", ("s0",), 3),
        ("CeilDiv(s0, 2)", ("s0",), 4),
        ("(s0 + 1)//2", ("s0",), 4),
        ("Mod(s0, 4)", ("s0",), 3),
        ("s0/7", ("s0",), 1),
        ("batch", ("batch",), 3),
        ("2*s0**2", ("s0",), 98),
    ],
)
def test_expressions_of_sizes_are_evaluated(text: str, names: tuple[str, ...], size: int) -> None:
    assert dim_names(text) == names and evaluate(text, SIZES) == size


@pytest.mark.parametrize(
    "text",
    ['__import__("os").system("true")', "s0.real", "lambda: 1", "[s0]", "s0 if s0 else 1", "f(s0)", "1.5*s0", "x" * 600, "s0 +"],
)
def test_anything_else_stays_text(text: str) -> None:
    """Attribute access, calls of other names, powers, floats, long or broken texts: not sizes (and not run)."""
    assert dim_names(text) == () and evaluate(text, SIZES) is None


def test_no_size_where_a_name_is_missing_or_the_result_is_none() -> None:
    assert evaluate("2*s1", SIZES) is None  # s1 has no size
    assert evaluate("s0/2", SIZES) is None and evaluate("FloorDiv(s0, 0)", SIZES) is None
    assert evaluate("1 - s0", SIZES) is None  # negative
    assert evaluate("s0**1000", SIZES) is None  # no size is a thousandth power


def test_resolve_size_counts_missing_names_as_one_and_says_so() -> None:
    assumed: dict[str, int] = {}
    assert resolve_size("2*s1 - 1", {}, assumed) == 1 and assumed == {"s1": 1}
    assert resolve_size("batch size", {}, assumed) == 1 and assumed["batch size"] == 1
    assert resolve_size("16*s27 - 8", SIZES, assumed) == 72
