"""Out-of-distribution score on a model's pooled backbone features: class-conditional Mahalanobis distance with
a shared covariance (Lee et al., NeurIPS 2018). Pure numpy; fitted on the training split, thresholded at a stated
in-distribution false-alarm rate on the validation split.

- :func:`fit_mahalanobis` class means and the precision of the pooled within-class covariance (Ledoit-Wolf
  shrinkage, so it stays invertible when features outnumber cases);
- :func:`mahalanobis_score` the smallest squared distance to a class mean (higher = less familiar);
- :func:`threshold_at_false_alarm` the (1 - rate) quantile of in-distribution scores;
- :func:`compute_ood_separation` AUROC of in- vs out-of-distribution scores and the flagged rates.
"""
from __future__ import annotations

import numpy as np


def fit_mahalanobis(features: np.ndarray, classes: np.ndarray | None = None) -> dict:
    """``features`` (N, D); ``classes`` (N,) int labels (-100 / negative = unknown) or None for one class."""
    from sklearn.covariance import LedoitWolf

    x = np.asarray(features, dtype=np.float64)
    y = np.zeros(len(x), int) if classes is None else np.asarray(classes).astype(int)
    keep = y >= 0
    x, y = x[keep], y[keep]
    if len(x) < 2:
        raise ValueError("at least two training cases are needed to fit the OOD statistics")
    labels = np.unique(y)
    means = np.stack([x[y == c].mean(0) for c in labels])
    centred = x - means[np.searchsorted(labels, y)]
    lw = LedoitWolf(assume_centered=True).fit(centred)
    return {"means": means.astype(np.float32), "precision": lw.precision_.astype(np.float32),
            "classes": labels.astype(np.int64), "shrinkage": float(lw.shrinkage_), "n_fit": int(len(x))}


def mahalanobis_score(features: np.ndarray, means: np.ndarray, precision: np.ndarray) -> np.ndarray:
    """(N,) min over classes of (x - mu_c)^T P (x - mu_c)."""
    x = np.asarray(features, dtype=np.float64)
    mu = np.asarray(means, dtype=np.float64)
    p = np.asarray(precision, dtype=np.float64)
    d = x[:, None, :] - mu[None]                      # (N, C, D)
    return np.einsum("ncd,de,nce->nc", d, p, d).min(1)


def threshold_at_false_alarm(in_scores: np.ndarray, rate: float = 0.05) -> float:
    """The score above which ``rate`` of in-distribution cases fall (their false-alarm rate)."""
    s = np.asarray(in_scores, dtype=np.float64)
    return float(np.quantile(s, 1.0 - rate)) if len(s) else float("inf")


def compute_ood_separation(in_scores, out_scores, threshold: float) -> dict:
    """AUROC (out = positive) and the share of each set flagged at ``threshold``."""
    from sklearn.metrics import roc_auc_score

    a, b = np.asarray(in_scores, float), np.asarray(out_scores, float)
    auc = float(roc_auc_score(np.r_[np.zeros(len(a)), np.ones(len(b))], np.r_[a, b])) if len(a) and len(b) else float("nan")
    return {"auroc": auc, "in_flagged": float((a > threshold).mean()) if len(a) else float("nan"),
            "out_flagged": float((b > threshold).mean()) if len(b) else float("nan"), "n_in": int(len(a)),
            "n_out": int(len(b))}
