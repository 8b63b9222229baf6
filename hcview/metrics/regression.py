"""Regression metrics (MSE, MAE) overall and per size bin, masked for missing targets."""
from __future__ import annotations

from typing import Sequence

import numpy as np

DEFAULT_SIZE_BINS_MM = (10.0, 20.0, 30.0)


def size_bin_labels(edges: Sequence[float]) -> list[str]:
    e = [float(x) for x in edges]
    fmt = (lambda v: f"{v:g}")
    return [f"<{fmt(e[0])}"] + [f"{fmt(a)}-{fmt(b)}" for a, b in zip(e[:-1], e[1:])] + [f">{fmt(e[-1])}"]


def _mse_mae(t, p):
    if t.size == 0:
        return float("nan"), float("nan"), 0
    d = p - t
    return float(np.mean(d ** 2)), float(np.mean(np.abs(d))), int(t.size)


def compute_regression(y_true, y_pred, targets: Sequence[str] | None = None, mask=None,
                       size_mm=None, size_bins: Sequence[float] = DEFAULT_SIZE_BINS_MM) -> dict:
    """MSE / MAE per target and over all targets.

    ``y_true``/``y_pred`` are (N,) or (N, T). A target is missing where ``y_true`` is NaN or
    ``mask`` (same shape, or (N,)) is False. With ``size_mm`` (N,) the metrics are also given per
    size bin (``<10, 10-20, 20-30, >30`` mm by default), binned on the true size.
    """
    t = np.asarray(y_true, dtype=float)
    p = np.asarray(y_pred, dtype=float)
    if t.ndim == 1:
        t, p = t[:, None], p[:, None]
    if t.shape != p.shape:
        raise ValueError(f"y_true {t.shape} and y_pred {p.shape} differ in shape")
    names = list(targets) if targets is not None else [str(i) for i in range(t.shape[1])]
    valid = np.isfinite(t) & np.isfinite(p)
    if mask is not None:
        m = np.asarray(mask, dtype=bool)
        valid &= m[:, None] if m.ndim == 1 else m

    def block(rows):
        out = {}
        for j, name in enumerate(names):
            ok = valid[:, j] & rows
            mse, mae, n = _mse_mae(t[ok, j], p[ok, j])
            out[name] = {"mse": mse, "mae": mae, "n": n}
        ok = valid & rows[:, None]
        mse, mae, n = _mse_mae(t[ok], p[ok])
        return out, {"mse": mse, "mae": mae, "n": n}

    per_target, overall = block(np.ones(t.shape[0], dtype=bool))
    res = {"per_target": per_target, "overall": overall}
    if size_mm is not None:
        s = np.asarray(size_mm, dtype=float)
        edges = list(size_bins)
        names_b = size_bin_labels(edges)
        b = np.digitize(s, edges, right=False)  # <e0 -> 0, [e0,e1) -> 1, ..., >=e_last -> len
        bins = {}
        for k, lab in enumerate(names_b):
            rows = np.isfinite(s) & (b == k)
            per_t, ov = block(rows)
            bins[lab] = {"n_cases": int(rows.sum()), "overall": ov, "per_target": per_t}
        res["size_bins"] = bins
    return res
