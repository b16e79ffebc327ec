"""Small numpy helpers shared by the hierarchy and the layout."""

from __future__ import annotations

from typing import Any

import numpy as np


def unique(values: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """The sorted distinct values of a 1-D array, as ``np.unique(values)``.

    ``np.unique`` checks for masked arrays, and that first check imports
    ``numpy.ma``: about 10 ms of every ``netray open``, for arrays we know are plain.
    """
    ordered = np.sort(values.ravel())
    if ordered.size == 0:
        return ordered
    keep = np.empty(ordered.size, dtype=bool)
    keep[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=keep[1:])
    return ordered[keep]
