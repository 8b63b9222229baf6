"""Single-label (softmax head) classification metrics."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
from sklearn.metrics import precision_recall_fscore_support

from hcview.metrics._util import encode_labels


def _clean(y_true, y_pred, labels):
    t, labels = encode_labels(y_true, labels)
    p, _ = encode_labels(y_pred, labels)
    if t.shape != p.shape:
        raise ValueError(f"y_true and y_pred differ in length ({t.shape[0]} vs {p.shape[0]})")
    keep = t >= 0  # -1 = missing target
    return t[keep], p[keep], labels


def compute_recalls(y_true, y_pred, labels: Sequence[str] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per-class recall and support (recall is NaN where support is 0)."""
    t, p, labels = _clean(y_true, y_pred, labels)
    k = len(labels)
    support = np.bincount(t, minlength=k)[:k]
    hits = np.bincount(t[t == p], minlength=k)[:k]
    with np.errstate(invalid="ignore", divide="ignore"):
        rec = np.where(support > 0, hits / np.maximum(support, 1), np.nan)
    return rec, support


def compute_gmean(y_true, y_pred, labels: Sequence[str] | None = None) -> float:
    """Geometric mean of per-class recalls over classes present in ``y_true``.

    For two classes this is ``sqrt(sensitivity * specificity)``.
    """
    rec, support = compute_recalls(y_true, y_pred, labels)
    r = rec[support > 0]
    if r.size == 0:
        return float("nan")
    if np.any(r == 0):
        return 0.0
    return float(np.exp(np.mean(np.log(r))))


def compute_balanced_accuracy(y_true, y_pred, labels: Sequence[str] | None = None) -> float:
    """Mean per-class recall over classes present in ``y_true`` (sklearn's definition)."""
    rec, support = compute_recalls(y_true, y_pred, labels)
    r = rec[support > 0]
    return float(r.mean()) if r.size else float("nan")


def compute_accuracy(y_true, y_pred, labels: Sequence[str] | None = None) -> float:
    t, p, _ = _clean(y_true, y_pred, labels)
    return float(np.mean(t == p)) if t.size else float("nan")


def compute_per_class_table(y_true, y_pred, labels: Sequence[str] | None = None,
                            label_space=None) -> pd.DataFrame:
    """One row per class: precision, recall, F1, support, accuracy (= per-class recall).

    With a ``taxonomy3`` label space, ``anatomy`` and ``category`` columns are added.
    """
    t, p, labels = _clean(y_true, y_pred, labels)
    k = len(labels)
    prec, rec, f1, sup = precision_recall_fscore_support(
        t, p, labels=list(range(k)), zero_division=0)
    pred_count = np.bincount(p[(p >= 0) & (p < k)], minlength=k)[:k]
    df = pd.DataFrame({
        "class": list(labels),
        "precision": prec.astype(float),
        "recall": np.where(sup > 0, rec, np.nan).astype(float),
        "f1": f1.astype(float),
        "support": sup.astype(int),
        "predicted": pred_count.astype(int),
    })
    df["accuracy"] = df["recall"]
    if label_space is not None and getattr(label_space, "kind", "") == "taxonomy3":
        parents = {d: (a, c) for d, a, c in label_space.tree}
        df.insert(1, "anatomy", [parents.get(c, ("", ""))[0] for c in labels])
        df.insert(2, "category", [parents.get(c, ("", ""))[1] for c in labels])
    return df


def compute_classification(y_true, y_pred, labels: Sequence[str] | None = None) -> dict:
    """Accuracy, macro/weighted precision-recall-F1, balanced accuracy, G-mean and per-class rows.

    ``y_true``/``y_pred`` hold class indices (``-1`` in ``y_true`` = missing, skipped) or names.
    """
    t, p, labels = _clean(y_true, y_pred, labels)
    k = len(labels)
    out: dict = {"n": int(t.size), "n_classes": k}
    if t.size == 0:
        out.update({m: float("nan") for m in (
            "accuracy", "balanced_accuracy", "g_mean", "precision_macro", "recall_macro", "f1_macro",
            "precision_weighted", "recall_weighted", "f1_weighted")})
        out["per_class"] = []
        return out
    out["accuracy"] = float(np.mean(t == p))
    out["balanced_accuracy"] = compute_balanced_accuracy(t, p, labels)
    out["g_mean"] = compute_gmean(t, p, labels)
    present = [i for i in range(k) if np.any(t == i)]
    for avg in ("macro", "weighted"):
        # macro over classes present in y_true (absent classes would add meaningless zeros)
        pr, rc, f, _ = precision_recall_fscore_support(t, p, labels=present, average=avg, zero_division=0)
        out[f"precision_{avg}"] = float(pr)
        out[f"recall_{avg}"] = float(rc)
        out[f"f1_{avg}"] = float(f)
    out["per_class"] = compute_per_class_table(t, p, labels).to_dict(orient="records")
    return out
