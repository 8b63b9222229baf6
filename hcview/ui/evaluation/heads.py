"""What every head view shares: the summary metric row and the label chooser."""
from __future__ import annotations

import math

import streamlit as st


def fmt(v, nd: int = 3) -> str:
    """A number with ``nd`` decimals; '–' for a missing or non-finite one."""
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "–"
    return f"{v:.{nd}f}"


def ci_text(ci: dict | None) -> str | None:
    if not ci or ci.get("low") is None or not math.isfinite(ci["low"]):
        return None
    return f"95% CI {ci['low']:.3f}–{ci['high']:.3f}"


def summary_items(head: dict, cis: dict | None = None) -> list[tuple[str, str, str | None]]:
    """(label, value, CI/help text) triples for one head of a ``compute_report`` result."""
    cis = dict(cis or {})
    kind = head.get("kind")
    items: list[tuple[str, str, str | None]] = []
    if kind == "softmax":
        if head.get("accuracy_ci") and "accuracy" not in cis:
            cis["accuracy"] = head["accuracy_ci"]
        for key, label in (("accuracy", "Accuracy"), ("balanced_accuracy", "Balanced accuracy"),
                           ("f1_macro", "Macro F1"), ("f1_weighted", "Weighted F1"), ("g_mean", "G-mean")):
            items.append((label, fmt(head.get(key)), ci_text(cis.get(key))))
        cal = head.get("calibration") or {}
        items.append(("ECE", fmt(cal.get("ece")), "expected calibration error (10 bins, top label)"))
        items.append(("Brier", fmt(cal.get("brier")), "multi-class Brier score (0 = perfect, max 2)"))
    elif kind == "sigmoid":
        if head.get("mean_auroc_ci") and "mean_auroc" not in cis:
            cis["mean_auroc"] = head["mean_auroc_ci"]
        for key, label in (("mean_auroc", "Mean AUROC"), ("weighted_auroc", "Weighted AUROC"),
                           ("mean_auprc", "Mean AUPRC"), ("weighted_auprc", "Weighted AUPRC")):
            items.append((label, fmt(head.get(key)), ci_text(cis.get(key))))
        cal = head.get("calibration") or {}
        items.append(("Mean ECE", fmt(cal.get("mean_ece")), "per-label ECE averaged over labels"))
        items.append(("Mean Brier", fmt(cal.get("mean_brier")), "per-label Brier averaged over labels"))
        items.append(("Exact match", fmt(head.get("exact_match")),
                      f"all labels right at p ≥ {head.get('threshold', 0.5)}"))
    elif kind == "regression":
        ov = head.get("overall") or {}
        items.append(("MSE", fmt(ov.get("mse"), 4), f"over all targets, {ov.get('n', 0)} values (normalised units)"))
        items.append(("MAE", fmt(ov.get("mae"), 4), "mean absolute error, normalised units"))
    return items


def render_metric_row(items: list[tuple[str, str, str | None]], per_row: int = 4) -> None:
    for start in range(0, len(items), per_row):
        cols = st.columns(per_row)
        for col, (label, value, help_) in zip(cols, items[start:start + per_row]):
            col.metric(label, value, help=help_)
            if help_ and help_.startswith("95% CI"):
                col.caption(help_)


def choose_labels(labels: list[str], key: str, limit: int = 10, what: str = "Classes") -> list[str]:
    """All labels when there are few, else a multiselect of the first ``limit``."""
    if len(labels) <= limit:
        return list(labels)
    return st.multiselect(f"{what} to draw", labels, default=labels[:limit], key=key)
