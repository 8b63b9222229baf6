"""Single-label (softmax head) classification metrics.

Every number comes from per-class counts (hits, support, predicted), so the report, the per-class
table and the bootstrap share one implementation (equal to scikit-learn's with ``zero_division=0``;
macro and weighted means are over the classes present in the truth).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from hcview.metrics._util import encode_labels

SUMMARY_KEYS = ("accuracy", "balanced_accuracy", "g_mean", "precision_macro", "recall_macro", "f1_macro",
                "precision_weighted", "recall_weighted", "f1_weighted")


def _clean(y_true, y_pred, labels):
    t, labels = encode_labels(y_true, labels)
    p, _ = encode_labels(y_pred, labels)
    if t.shape != p.shape:
        raise ValueError(f"y_true and y_pred differ in length ({t.shape[0]} vs {p.shape[0]})")
    keep = t >= 0  # -1 = missing target
    return t[keep], p[keep], labels


def _counts(t: np.ndarray, p: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per class: hits (true positives), support (true count), predicted count."""
    hits = np.bincount(t[t == p], minlength=k)[:k]
    support = np.bincount(t, minlength=k)[:k]
    pred = np.bincount(p[(p >= 0) & (p < k)], minlength=k)[:k]
    return hits, support, pred


def _rates(hits, support, pred) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-class precision, recall, F1 (0 where undefined, as scikit-learn's zero_division=0)."""
    hits, support, pred = (np.asarray(a, dtype=float) for a in (hits, support, pred))
    prec = np.divide(hits, pred, out=np.zeros_like(hits), where=pred > 0)
    rec = np.divide(hits, support, out=np.zeros_like(hits), where=support > 0)
    f1 = np.divide(2 * hits, support + pred, out=np.zeros_like(hits), where=(support + pred) > 0)
    return prec, rec, f1


def compute_classification_summary(y_true, y_pred, labels: Sequence[str] | None = None) -> dict:
    """Accuracy, balanced accuracy, G-mean and macro / weighted precision-recall-F1 (NaN without cases)."""
    t, p, labels = _clean(y_true, y_pred, labels)
    hits, support, pred = _counts(t, p, len(labels))
    present = support > 0
    if not present.any():
        return {k: float("nan") for k in SUMMARY_KEYS}
    prec, rec, f1 = (a[present] for a in _rates(hits, support, pred))
    w = support[present]
    return {"accuracy": float(np.mean(t == p)),
            "balanced_accuracy": float(rec.mean()),
            "g_mean": 0.0 if np.any(rec == 0) else float(np.exp(np.mean(np.log(rec)))),
            "precision_macro": float(prec.mean()), "recall_macro": float(rec.mean()), "f1_macro": float(f1.mean()),
            "precision_weighted": float(np.average(prec, weights=w)),
            "recall_weighted": float(np.average(rec, weights=w)), "f1_weighted": float(np.average(f1, weights=w))}


def compute_recalls(y_true, y_pred, labels: Sequence[str] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per-class recall and support (recall is NaN where support is 0)."""
    t, p, labels = _clean(y_true, y_pred, labels)
    hits, support, pred = _counts(t, p, len(labels))
    rec = _rates(hits, support, pred)[1]
    return np.where(support > 0, rec, np.nan), support


def compute_gmean(y_true, y_pred, labels: Sequence[str] | None = None) -> float:
    """Geometric mean of per-class recalls over classes present in ``y_true``.

    For two classes this is ``sqrt(sensitivity * specificity)``.
    """
    return compute_classification_summary(y_true, y_pred, labels)["g_mean"]


def compute_balanced_accuracy(y_true, y_pred, labels: Sequence[str] | None = None) -> float:
    """Mean per-class recall over classes present in ``y_true`` (sklearn's definition)."""
    return compute_classification_summary(y_true, y_pred, labels)["balanced_accuracy"]


def compute_accuracy(y_true, y_pred, labels: Sequence[str] | None = None) -> float:
    return compute_classification_summary(y_true, y_pred, labels)["accuracy"]


def compute_per_class_table(y_true, y_pred, labels: Sequence[str] | None = None,
                            label_space=None) -> pd.DataFrame:
    """One row per class: precision, recall, F1, support, accuracy (= per-class recall).

    With a ``taxonomy3`` label space, ``anatomy`` and ``category`` columns are added.
    """
    t, p, labels = _clean(y_true, y_pred, labels)
    hits, support, pred = _counts(t, p, len(labels))
    prec, rec, f1 = _rates(hits, support, pred)
    df = pd.DataFrame({
        "class": list(labels),
        "precision": prec,
        "recall": np.where(support > 0, rec, np.nan),
        "f1": f1,
        "support": support.astype(int),
        "predicted": pred.astype(int),
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
    out: dict = {"n": int(t.size), "n_classes": len(labels)}
    out.update(compute_classification_summary(t, p, labels))
    out["per_class"] = compute_per_class_table(t, p, labels).to_dict(orient="records") if t.size else []
    return out
