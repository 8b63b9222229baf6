"""Failure-mode finders: confident errors, uncertain correct cases."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from hcview.metrics.confusion import cell_indices, ranked_confusions  # noqa: F401 (re-export)


def prediction_entropy(prob) -> np.ndarray:
    p = np.clip(np.asarray(prob, dtype=float), 1e-12, 1.0)
    return -np.sum(p * np.log(p), axis=1)


def prediction_margin(prob) -> np.ndarray:
    """Top-1 minus top-2 probability (small = uncertain)."""
    p = np.sort(np.asarray(prob, dtype=float), axis=1)
    return p[:, -1] - (p[:, -2] if p.shape[1] > 1 else 0.0)


def _frame(y_true, prob, labels, idx):
    p = np.asarray(prob, dtype=float)
    t = np.asarray(y_true).astype(int)
    names = list(labels) if labels is not None else [str(i) for i in range(p.shape[1])]
    pred = p.argmax(axis=1)
    return pd.DataFrame({
        "index": idx.astype(int),
        "true": [names[t[i]] for i in idx],
        "pred": [names[pred[i]] for i in idx],
        "confidence": p[idx].max(axis=1) if len(idx) else np.array([]),
        "p_true": p[idx, t[idx]] if len(idx) else np.array([]),
        "entropy": prediction_entropy(p[idx]) if len(idx) else np.array([]),
        "margin": prediction_margin(p[idx]) if len(idx) else np.array([]),
    })


def most_confident_errors(y_true, prob, labels: Sequence[str] | None = None, k: int = 10) -> pd.DataFrame:
    """Wrong predictions with the highest top-class probability, most confident first."""
    p = np.asarray(prob, dtype=float)
    t = np.asarray(y_true).astype(int)
    wrong = np.flatnonzero((t >= 0) & (p.argmax(axis=1) != t))
    order = wrong[np.argsort(-p[wrong].max(axis=1), kind="stable")][:k]
    return _frame(t, p, labels, order)


def most_uncertain_correct(y_true, prob, labels: Sequence[str] | None = None, k: int = 10,
                           by: str = "entropy") -> pd.DataFrame:
    """Correct predictions ranked by uncertainty: highest entropy or smallest margin first."""
    p = np.asarray(prob, dtype=float)
    t = np.asarray(y_true).astype(int)
    right = np.flatnonzero((t >= 0) & (p.argmax(axis=1) == t))
    if by == "entropy":
        key = -prediction_entropy(p[right]) if len(right) else np.array([])
    elif by == "margin":
        key = prediction_margin(p[right]) if len(right) else np.array([])
    else:
        raise ValueError("by must be 'entropy' or 'margin'")
    order = right[np.argsort(key, kind="stable")][:k]
    return _frame(t, p, labels, order)
