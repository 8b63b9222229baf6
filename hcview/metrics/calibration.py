"""Calibration: ECE with equal-width bins, reliability-diagram data, Brier score.

Two modes, picked from the shape of ``prob``:

- 1-D ``prob`` (binary / one sigmoid label): confidence = predicted probability of the positive
  class, "accuracy" = observed fraction of positives in the bin (a calibration curve).
- 2-D ``prob`` (softmax, N x K): confidence = top-class probability, accuracy = fraction of
  cases whose top class is the true class (top-label calibration, Guo et al. 2017).
"""
from __future__ import annotations

import numpy as np


def _conf_correct(y_true, prob):
    p = np.asarray(prob, dtype=float)
    y = np.asarray(y_true, dtype=float)
    if p.ndim == 1:
        ok = np.isfinite(p) & np.isfinite(y) & (y >= 0)
        return p[ok], (y[ok] > 0.5).astype(float)
    ok = np.isfinite(y) & (y >= 0) & np.all(np.isfinite(p), axis=1)
    p, y = p[ok], y[ok].astype(int)
    return p.max(axis=1), (p.argmax(axis=1) == y).astype(float)


def bin_index(conf, n_bins: int) -> np.ndarray:
    """Equal-width bins over [0, 1]: bin b holds (b/n, (b+1)/n]; 0 falls in the first bin."""
    conf = np.clip(np.asarray(conf, dtype=float), 0.0, 1.0)
    return np.clip(np.ceil(np.round(conf * n_bins, 9)).astype(int) - 1, 0, n_bins - 1)


def compute_reliability(y_true, prob, n_bins: int = 10) -> dict:
    """Per-bin ``confidence`` (mean), ``accuracy`` (mean), ``count``, plus ``edges`` and ``ece``.

    Empty bins have NaN confidence/accuracy and count 0.
    """
    conf, corr = _conf_correct(y_true, prob)
    b = bin_index(conf, n_bins)
    count = np.bincount(b, minlength=n_bins).astype(int)
    s_conf = np.bincount(b, weights=conf, minlength=n_bins)
    s_corr = np.bincount(b, weights=corr, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mconf = np.where(count > 0, s_conf / np.maximum(count, 1), np.nan)
        macc = np.where(count > 0, s_corr / np.maximum(count, 1), np.nan)
    n = int(count.sum())
    gaps = np.where(count > 0, np.abs(macc - mconf), 0.0)
    ece = float(np.sum(count * gaps) / n) if n else float("nan")
    mce = float(np.max(gaps[count > 0])) if n else float("nan")
    return {"edges": np.linspace(0, 1, n_bins + 1), "confidence": mconf, "accuracy": macc,
            "count": count, "ece": ece, "mce": mce, "n": n,
            "mode": "binary" if np.asarray(prob).ndim == 1 else "top-label"}


def compute_ece(y_true, prob, n_bins: int = 10) -> float:
    """Expected calibration error with ``n_bins`` equal-width bins (see module doc for modes)."""
    return compute_reliability(y_true, prob, n_bins)["ece"]


def compute_brier(y_true, prob) -> float:
    """Brier score. Binary (1-D prob): mean (p - y)^2. Multi-class (N x K): mean over cases of
    sum_k (p_k - onehot_k)^2 (Brier's original definition, range [0, 2])."""
    p = np.asarray(prob, dtype=float)
    y = np.asarray(y_true, dtype=float)
    if p.ndim == 1:
        ok = np.isfinite(p) & np.isfinite(y) & (y >= 0)
        if not ok.any():
            return float("nan")
        return float(np.mean((p[ok] - (y[ok] > 0.5)) ** 2))
    ok = np.isfinite(y) & (y >= 0)
    p, y = p[ok], y[ok].astype(int)
    if not len(y):
        return float("nan")
    onehot = np.zeros_like(p)
    onehot[np.arange(len(y)), y] = 1.0
    return float(np.mean(np.sum((p - onehot) ** 2, axis=1)))


def compute_multilabel_calibration(y_true, prob, labels=None, n_bins: int = 10) -> dict:
    """Per-label ECE and Brier for a sigmoid head, plus their means over labels."""
    t = np.asarray(y_true, dtype=float)
    p = np.asarray(prob, dtype=float)
    names = list(labels) if labels is not None else [str(i) for i in range(t.shape[1])]
    per = {}
    for j, name in enumerate(names):
        per[name] = {"ece": compute_ece(t[:, j], p[:, j], n_bins), "brier": compute_brier(t[:, j], p[:, j])}
    eces = np.array([v["ece"] for v in per.values()], dtype=float)
    briers = np.array([v["brier"] for v in per.values()], dtype=float)
    return {"per_label": per,
            "mean_ece": float(np.nanmean(eces)) if np.isfinite(eces).any() else float("nan"),
            "mean_brier": float(np.nanmean(briers)) if np.isfinite(briers).any() else float("nan"),
            "n_bins": n_bins}
