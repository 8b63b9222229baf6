"""Per-label operating points of a sigmoid output, chosen on the validation split: Youden's J (default) or the
highest threshold that reaches a target sensitivity; and the confusion figures at any threshold."""
from __future__ import annotations

import numpy as np


def compute_operating_point(y_true, score, threshold: float) -> dict:
    """Sensitivity, specificity, PPV, NPV and the 2x2 counts at ``threshold`` (positive = score >= threshold)."""
    y = np.asarray(y_true).astype(float)
    s = np.asarray(score, dtype=float)
    k = np.isfinite(y) & (y >= 0) & np.isfinite(s)
    y, s = y[k] > 0.5, s[k] >= threshold
    tp, fp = int((y & s).sum()), int((~y & s).sum())
    fn, tn = int((y & ~s).sum()), int((~y & ~s).sum())

    def ratio(a, b):
        return a / (a + b) if a + b else float("nan")

    return {"threshold": float(threshold), "sensitivity": ratio(tp, fn), "specificity": ratio(tn, fp),
            "ppv": ratio(tp, fp), "npv": ratio(tn, fn), "tp": tp, "fp": fp, "fn": fn, "tn": tn}


def choose_threshold(y_true, score, rule: str = "youden", target_sensitivity: float | None = None) -> dict:
    """The operating point by ``rule``: ``youden`` maximises sensitivity + specificity - 1; ``sensitivity`` is
    the highest threshold whose sensitivity reaches ``target_sensitivity``. A label without both classes in the
    data keeps 0.5 and says so."""
    from sklearn.metrics import roc_curve

    y = np.asarray(y_true).astype(float)
    s = np.asarray(score, dtype=float)
    k = np.isfinite(y) & (y >= 0) & np.isfinite(s)
    y, s = (y[k] > 0.5).astype(int), s[k]
    if len(np.unique(y)) < 2:
        return {**compute_operating_point(y, s, 0.5), "rule": "0.5 (validation split lacks a class)", "n_pos": int(y.sum())}
    fpr, tpr, thr = roc_curve(y, s)
    thr = np.clip(thr, 0.0, 1.0)
    if rule == "sensitivity":
        ok = np.flatnonzero(tpr >= float(target_sensitivity))
        i = int(ok[0]) if len(ok) else len(thr) - 1
        name = f"sensitivity >= {target_sensitivity:g}"
    else:
        i = int(np.argmax(tpr - fpr))
        name = "youden"
    return {**compute_operating_point(y, s, float(thr[i])), "rule": name, "n_pos": int(y.sum())}
