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


def label_decisions(y_true, prob, labels: Sequence[str], threshold: float = 0.5) -> pd.DataFrame:
    """Multi-label head: one row per known (case, label) decision at ``threshold``.

    Columns: row, label, true / pred ('yes' / 'no'), prob, wrong, distance (|p - threshold|).
    """
    y = np.asarray(y_true, dtype=float)
    p = np.asarray(prob, dtype=float)
    ok = np.isfinite(y) & (y >= 0) & np.isfinite(p)
    cols, rows = np.nonzero(ok.T)  # label by label, cases in order
    t, s = y[rows, cols] > 0.5, p[rows, cols]
    pred = s >= threshold
    return pd.DataFrame({"row": rows.astype(int), "label": [labels[j] for j in cols],
                         "true": np.where(t, "yes", "no"), "pred": np.where(pred, "yes", "no"), "prob": s,
                         "wrong": pred != t, "distance": np.abs(s - threshold)})


def failure_frames(kind: str, y_true, prob, labels: Sequence[str], k: int = 10, threshold: float = 0.5
                   ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(most confident errors, most uncertain correct) of one head; both have columns row, true, pred, prob.

    softmax: per case (prob = top-class probability). sigmoid: per (case, label) decision at
    ``threshold``, ranked by the distance of the probability from it (far = confident, near = uncertain);
    a ``label`` column says which.
    """
    labels = list(labels)
    if kind == "softmax":
        err = most_confident_errors(y_true, prob, labels, k=k)
        unc = most_uncertain_correct(y_true, prob, labels, k=k)
        for df in (err, unc):
            df["row"] = df["index"]
            df["prob"] = df["confidence"]
        return err, unc
    d = label_decisions(y_true, prob, labels, threshold)
    err = d[d["wrong"]].sort_values("distance", ascending=False, kind="mergesort").head(k)
    unc = d[~d["wrong"]].sort_values("distance", ascending=True, kind="mergesort").head(k)
    return err.reset_index(drop=True), unc.reset_index(drop=True)


def cell_cases(y_true, prob, labels: Sequence[str], true_label: str, pred_label: str, label_space=None,
               level: str = "disease") -> pd.DataFrame:
    """The cases behind confusion-matrix cell (true, pred) of a softmax head, most confident first.

    ``level`` 'category' / 'anatomy' selects a cell of the collapsed matrix (taxonomy3 disease head).
    Columns: row, true, pred (disease names), prob (top-class probability).
    """
    labels = list(labels)
    y = np.asarray(y_true).astype(int)
    p = np.asarray(prob, dtype=float)
    pred = p.argmax(axis=1) if len(p) else np.zeros(0, dtype=int)
    rows = cell_indices(y, pred, true_label, pred_label, labels, label_space, level)
    rows = rows[np.argsort(-p[rows].max(axis=1), kind="stable")] if len(rows) else rows
    return pd.DataFrame({"row": rows.astype(int), "true": [labels[i] for i in y[rows]],
                         "pred": [labels[i] for i in pred[rows]],
                         "prob": p[rows].max(axis=1) if len(rows) else np.zeros(0)})


LABEL_CELLS = ("false positives", "false negatives", "true positives", "true negatives")
_CELL_TRUTH_PRED = {"false positives": ("no", "yes"), "false negatives": ("yes", "no"),
                    "true positives": ("yes", "yes"), "true negatives": ("no", "no")}


def label_cell_cases(y_true, prob, labels: Sequence[str], label: str, cell: str, threshold: float = 0.5
                     ) -> pd.DataFrame:
    """The cases behind one cell (``LABEL_CELLS``) of a label's 2x2 confusion matrix (multi-label heads),
    most telling first: errors by how confident they were, correct cases by how sure.
    Columns: row, label, true, pred, prob."""
    j = list(labels).index(label)
    d = label_decisions(np.asarray(y_true, dtype=float)[:, [j]], np.asarray(prob, dtype=float)[:, [j]], [label],
                        threshold)
    want_true, want_pred = _CELL_TRUTH_PRED[cell]
    d = d[(d["true"] == want_true) & (d["pred"] == want_pred)]
    d = d.sort_values("prob", ascending=want_pred == "no", kind="stable")
    return d[["row", "label", "true", "pred", "prob"]].reset_index(drop=True)


def label_cell_counts(y_true, prob, labels: Sequence[str], label: str, threshold: float = 0.5) -> dict:
    """{cell: number of cases} of a label's 2x2 confusion matrix."""
    return {c: len(label_cell_cases(y_true, prob, labels, label, c, threshold)) for c in LABEL_CELLS}


def default_label_cell(y_true, prob, labels: Sequence[str], label: str | None = None, threshold: float = 0.5
                       ) -> tuple[str, str]:
    """A (label, cell) worth opening first: ``label`` (default: the label with the most wrong decisions,
    the first on a tie) and its larger error cell; without errors, its first non-empty cell."""
    labels = list(labels)
    d = label_decisions(y_true, prob, labels, threshold)
    if label is None:
        errors = d[d["wrong"]].groupby("label").size()
        label = max(labels, key=lambda lab: errors.get(lab, 0)) if len(errors) else labels[0]
    mine = d[d["label"] == label]
    counts = {c: int(((mine["true"] == t) & (mine["pred"] == p)).sum()) for c, (t, p) in _CELL_TRUTH_PRED.items()}
    fp, fn = counts["false positives"], counts["false negatives"]
    if fp or fn:
        return label, "false positives" if fp >= fn else "false negatives"
    return label, next((c for c in LABEL_CELLS if counts[c]), LABEL_CELLS[0])
