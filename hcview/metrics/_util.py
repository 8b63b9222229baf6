"""Small shared helpers: label encoding and JSON-safe conversion."""
from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np


def encode_labels(y, labels: Sequence[str] | None = None) -> tuple[np.ndarray, list[str]]:
    """Return ``(indices, labels)``: ``y`` may hold class indices or class names.

    With ``labels`` given, names are looked up in it; with indices and no labels,
    labels become ``"0".."K-1"`` up to the largest index seen.
    """
    arr = np.asarray(y)
    if arr.dtype.kind in "iub":
        idx = arr.astype(np.int64)
        if labels is None:
            k = int(idx.max()) + 1 if idx.size else 0
            labels = [str(i) for i in range(k)]
        return idx, list(labels)
    if arr.dtype.kind == "f":
        if np.all(np.isnan(arr) | (arr == np.round(arr))):
            idx = np.where(np.isnan(arr), -1, arr).astype(np.int64)
            return encode_labels(idx, labels)
        raise ValueError("class labels must be integers or names")
    names = [str(v) for v in arr.tolist()]
    if labels is None:
        labels = sorted(set(names))
    pos = {lab: i for i, lab in enumerate(labels)}
    unknown = sorted({n for n in names if n not in pos})
    if unknown:
        raise ValueError(f"unknown class name(s): {', '.join(unknown[:5])}")
    return np.array([pos[n] for n in names], dtype=np.int64), list(labels)


def nan_to_none(x: Any) -> Any:
    """Recursively turn numpy scalars/arrays into Python objects and NaN/inf into None."""
    if isinstance(x, dict):
        return {str(k): nan_to_none(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [nan_to_none(v) for v in x]
    if isinstance(x, np.ndarray):
        return nan_to_none(x.tolist())
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if hasattr(x, "to_dict") and callable(x.to_dict):  # pandas DataFrame
        try:
            return nan_to_none(x.to_dict(orient="records"))
        except TypeError:
            return nan_to_none(x.to_dict())
    return x


def safe_mean(values, weights=None) -> float:
    v = np.asarray(values, dtype=float)
    ok = np.isfinite(v)
    if weights is None:
        return float(v[ok].mean()) if ok.any() else float("nan")
    w = np.asarray(weights, dtype=float)
    ok &= np.isfinite(w) & (w > 0)
    if not ok.any():
        return float("nan")
    return float(np.average(v[ok], weights=w[ok]))
