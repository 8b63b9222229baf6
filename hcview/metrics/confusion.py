"""Confusion matrices in taxonomy order, collapsible disease -> category -> anatomy."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from hcview.metrics._util import encode_labels

CATEGORY_SEP = " / "


def taxonomy_order(label_space, labels: Sequence[str] | None = None) -> list[str]:
    """Disease labels in taxonomy order (``disease_order()``); non-taxonomy spaces keep ``labels``."""
    if label_space is not None and getattr(label_space, "kind", "") == "taxonomy3":
        return list(label_space.disease_order())
    return list(labels or [])


def compute_confusion_matrix(y_true, y_pred, labels: Sequence[str] | None = None,
                             order: Sequence[str] | None = None) -> tuple[np.ndarray, list[str]]:
    """Counts ``cm[i, j]`` = cases of true class ``order[i]`` predicted as ``order[j]``.

    ``y_true``/``y_pred`` hold indices into ``labels`` (``-1`` = missing, skipped) or names.
    ``order`` (default ``labels``) fixes the row/column order, e.g. ``disease_order()``.
    """
    t, labels = encode_labels(y_true, labels)
    p, _ = encode_labels(y_pred, labels)
    k = len(labels)
    keep = (t >= 0) & (t < k) & (p >= 0) & (p < k)
    cm = np.zeros((k, k), dtype=np.int64)
    np.add.at(cm, (t[keep], p[keep]), 1)
    if order is None:
        return cm, list(labels)
    order = list(order)
    missing = [o for o in order if o not in labels]
    if missing or len(order) != k:
        raise ValueError(f"order does not match the labels (e.g. {missing[:3]})")
    perm = [list(labels).index(o) for o in order]
    return cm[np.ix_(perm, perm)], order


def normalize_rows(cm: np.ndarray) -> np.ndarray:
    """Row-normalised matrix (each row sums to 1; empty rows stay 0)."""
    cm = np.asarray(cm, dtype=float)
    rs = cm.sum(axis=1, keepdims=True)
    return np.divide(cm, rs, out=np.zeros_like(cm), where=rs > 0)


def group_of(label_space, disease: str, level: str) -> str:
    a, c = label_space.parent_of(disease)
    if level == "anatomy":
        return a
    if level == "category":
        return f"{a}{CATEGORY_SEP}{c}"
    raise ValueError(f"unknown level {level!r} (use 'category' or 'anatomy')")


def group_order(label_space, level: str) -> list[str]:
    """Groups at ``level`` in taxonomy order: anatomies, or 'anatomy / category' pairs that exist."""
    seen: list[str] = []
    for d in label_space.disease_order():
        g = group_of(label_space, d, level)
        if g not in seen:
            seen.append(g)
    return seen


def collapse_confusion(cm, diseases: Sequence[str], label_space, level: str = "category"
                       ) -> tuple[np.ndarray, list[str]]:
    """Sum a disease-level CM into (anatomy, category) groups or anatomies.

    ``diseases`` names the rows/columns of ``cm``. Returns ``(cm_groups, group_labels)``;
    category groups are labelled ``"anatomy / category"``.
    """
    cm = np.asarray(cm)
    groups = group_order(label_space, level)
    gi = {g: i for i, g in enumerate(groups)}
    m = np.zeros((len(diseases), len(groups)), dtype=cm.dtype)  # disease -> group indicator
    for i, d in enumerate(diseases):
        m[i, gi[group_of(label_space, d, level)]] = 1
    return m.T @ cm @ m, groups


def compute_hierarchical_confusion(y_true, y_pred, label_space) -> dict:
    """Disease CM in taxonomy order plus its category- and anatomy-level collapses.

    ``y_true``/``y_pred`` are disease indices (head order) or names.
    """
    labels = list(label_space.head("disease").labels)
    cm, order = compute_confusion_matrix(y_true, y_pred, labels, order=label_space.disease_order())
    out = {"disease": {"labels": order, "matrix": cm}}
    for level in ("category", "anatomy"):
        c, g = collapse_confusion(cm, order, label_space, level)
        out[level] = {"labels": g, "matrix": c}
    return out


def cell_indices(y_true, y_pred, true_label, pred_label, labels: Sequence[str] | None = None,
                 label_space=None, level: str = "disease") -> np.ndarray:
    """Indices of the cases behind CM cell (true_label, pred_label); labels by name or index.

    With a ``taxonomy3`` label space and ``level`` 'category' or 'anatomy', ``y_true``/``y_pred`` are
    disease labels and the cell is one of the collapsed matrix (``collapse_confusion`` names).
    Cases with a missing truth (-1) are in no cell.
    """
    t, labels = encode_labels(y_true, labels)
    p, _ = encode_labels(y_pred, labels)
    if level != "disease" and label_space is not None and getattr(label_space, "kind", "") == "taxonomy3":
        groups = np.array([group_of(label_space, lab, level) for lab in labels] + [""], dtype=object)
        k = len(labels)
        t, p = np.where((t >= 0) & (t < k), t, k), np.where((p >= 0) & (p < k), p, k)  # k -> "" (no group)
        return np.flatnonzero((groups[t] == true_label) & (groups[p] == pred_label))
    ti = labels.index(true_label) if isinstance(true_label, str) else int(true_label)
    pi = labels.index(pred_label) if isinstance(pred_label, str) else int(pred_label)
    return np.flatnonzero((t == ti) & (p == pi))


def ranked_confusions(cm, labels: Sequence[str], top: int | None = None, min_count: int = 1) -> pd.DataFrame:
    """Off-diagonal cells ranked by count: true, pred, count, row_pct, text ('a -> b: 12')."""
    cm = np.asarray(cm)
    rs = cm.sum(axis=1)
    rows = []
    for i in range(cm.shape[0]):
        for j in range(cm.shape[1]):
            if i != j and cm[i, j] >= min_count:
                rows.append({"true": labels[i], "pred": labels[j], "count": int(cm[i, j]),
                             "row_pct": float(100.0 * cm[i, j] / rs[i]) if rs[i] else float("nan")})
    df = pd.DataFrame(rows, columns=["true", "pred", "count", "row_pct"])
    if len(df):
        df = df.sort_values(["count", "row_pct"], ascending=False, kind="mergesort").reset_index(drop=True)
    df["text"] = [f"{a} -> {b}: {n}" for a, b, n in zip(df["true"], df["pred"], df["count"])]
    return df.head(top) if top else df
