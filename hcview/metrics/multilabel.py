"""Multi-label (sigmoid head) metrics: AUROC / AUPRC per label."""
from __future__ import annotations

from typing import Sequence

import numpy as np
from scipy.stats import rankdata
from sklearn.metrics import precision_recall_curve, roc_curve

from hcview.metrics._util import safe_mean


def _label_names(n: int, labels) -> list[str]:
    return list(labels) if labels is not None else [str(i) for i in range(n)]


def _as_2d(y_true, y_score):
    t = np.asarray(y_true, dtype=float)
    s = np.asarray(y_score, dtype=float)
    if t.ndim == 1:
        t = t[:, None]
    if s.ndim == 1:
        s = s[:, None]
    if t.shape != s.shape:
        raise ValueError(f"y_true {t.shape} and y_score {s.shape} differ in shape")
    return t, s


def _valid(t_col, s_col):
    """Rows with a usable target (0/1) and a finite score; -1/NaN targets are missing."""
    return np.isfinite(t_col) & (t_col >= 0) & np.isfinite(s_col)


def _auroc_ap(t: np.ndarray, s: np.ndarray) -> tuple[float, float]:
    """AUROC (Mann-Whitney U with mid-ranks) and average precision of boolean truths ``t`` (both classes
    present). Equal to scikit-learn's ``roc_auc_score`` / ``average_precision_score``, ties included, and
    fast enough to bootstrap."""
    pos = int(t.sum())
    neg = t.size - pos
    auroc = (rankdata(s)[t].sum() - pos * (pos + 1) / 2.0) / (pos * neg)
    order = np.argsort(-s, kind="mergesort")
    ss, tt = s[order], t[order]
    last = np.r_[np.flatnonzero(np.diff(ss)), tt.size - 1]  # last case of each distinct score = one threshold
    tps = np.cumsum(tt)[last]
    precision = tps / (last + 1)
    recall = tps / pos
    return float(auroc), float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def compute_label_auc(y_true_col, y_score_col) -> dict:
    """AUROC and AUPRC of one label; NaN with a ``reason`` when they are undefined."""
    t = np.asarray(y_true_col, dtype=float)
    s = np.asarray(y_score_col, dtype=float)
    ok = _valid(t, s)
    t, s = t[ok] > 0.5, s[ok]
    pos = int(t.sum())
    row = {"auroc": float("nan"), "auprc": float("nan"), "support": pos, "n": int(t.size),
           "prevalence": float(pos / t.size) if t.size else float("nan"), "reason": None}
    if t.size == 0:
        row["reason"] = "no cases with a known label"
    elif pos == 0:
        row["reason"] = "only negative cases"
    elif pos == t.size:
        row["reason"] = "only positive cases"
    else:
        row["auroc"], row["auprc"] = _auroc_ap(t, s)
    return row


def compute_multilabel_auc(y_true, y_score, labels: Sequence[str] | None = None) -> dict:
    """Per-label AUROC/AUPRC plus mean and support-weighted means (over labels where defined).

    ``y_true`` is (N, L) with 0/1 and NaN or -1 for unknown; ``y_score`` (N, L) scores.
    Returns ``{"per_label": {label: {...}}, "mean_auroc", "weighted_auroc", "mean_auprc",
    "weighted_auprc", "n_labels", "n_labels_defined", "n_cases"}``.
    """
    t, s = _as_2d(y_true, y_score)
    names = _label_names(t.shape[1], labels)
    per = {name: compute_label_auc(t[:, j], s[:, j]) for j, name in enumerate(names)}
    au = [per[n]["auroc"] for n in names]
    ap = [per[n]["auprc"] for n in names]
    sup = [per[n]["support"] for n in names]
    return {
        "per_label": per,
        "mean_auroc": safe_mean(au),
        "weighted_auroc": safe_mean(au, sup),
        "mean_auprc": safe_mean(ap),
        "weighted_auprc": safe_mean(ap, sup),
        "n_labels": len(names),
        "n_labels_defined": int(np.isfinite(au).sum()),
        "n_cases": int(t.shape[0]),
    }


def compute_mean_auroc(y_true, y_score) -> float:
    """Mean AUROC over labels where it is defined (handy as a bootstrap statistic)."""
    return compute_multilabel_auc(y_true, y_score)["mean_auroc"]


def _two_class_columns(y_true, y_score, labels):
    """Yield (label, binary truth, score) for every label that has both classes among its valid rows."""
    t, s = _as_2d(y_true, y_score)
    for j, name in enumerate(_label_names(t.shape[1], labels)):
        ok = _valid(t[:, j], s[:, j])
        tt, ss = (t[ok, j] > 0.5).astype(int), s[ok, j]
        if tt.size and tt.min() != tt.max():
            yield name, tt, ss


def compute_roc_curves(y_true, y_score, labels: Sequence[str] | None = None) -> dict:
    """label -> {fpr, tpr, auc} (labels with one class only are omitted)."""
    out = {}
    for name, tt, ss in _two_class_columns(y_true, y_score, labels):
        fpr, tpr, _ = roc_curve(tt, ss)
        out[name] = {"fpr": fpr, "tpr": tpr, "auc": _auroc_ap(tt > 0, ss)[0]}
    return out


def compute_pr_curves(y_true, y_score, labels: Sequence[str] | None = None) -> dict:
    """label -> {precision, recall, ap, prevalence} (labels with one class only are omitted)."""
    out = {}
    for name, tt, ss in _two_class_columns(y_true, y_score, labels):
        prec, rec, _ = precision_recall_curve(tt, ss)
        out[name] = {"precision": prec, "recall": rec, "ap": _auroc_ap(tt > 0, ss)[1],
                     "prevalence": float(tt.mean())}
    return out
