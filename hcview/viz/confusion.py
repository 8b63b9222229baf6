"""Confusion-matrix heatmaps ordered by the taxonomy, with anatomy / category separators."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import plotly.graph_objects as go

from hcview.metrics.confusion import CATEGORY_SEP, collapse_confusion, normalize_rows


def _groups(labels: Sequence[str], label_space, level: str) -> list[tuple[str, int, int]]:
    """Contiguous runs (group name, start, end-exclusive) of ``labels`` at ``level``."""
    runs: list[tuple[str, int, int]] = []
    for i, lab in enumerate(labels):
        try:
            a, c = label_space.parent_of(lab)
        except KeyError:
            return []
        g = a if level == "anatomy" else f"{a}{CATEGORY_SEP}{c}"
        if runs and runs[-1][0] == g:
            runs[-1] = (g, runs[-1][1], i + 1)
        else:
            runs.append((g, i, i + 1))
    return runs


def confusion_heatmap(cm, labels: Sequence[str], label_space=None, normalize: bool = False,
                      title: str = "Confusion matrix", show_text: bool | None = None,
                      colorscale: str = "Blues") -> go.Figure:
    """Heatmap of ``cm`` (rows = true, columns = predicted) in the given label order.

    ``normalize=True`` colours by row percentage. Hover shows true, predicted, count and row %.
    With a ``taxonomy3`` label space and disease labels, anatomy boundaries are drawn as solid
    lines and category boundaries as dotted lines, with group names above the matrix.
    Cells are squares of ``cell_px(n)`` pixels, large enough for their counts up to 45 x 45 (the paper's
    40 diseases); cell text is shown up to that size unless ``show_text`` says otherwise. Box-zoom enlarges
    a block (double-click resets).
    """
    cm = np.asarray(cm)
    labels = [str(x) for x in labels]
    n = len(labels)
    if cm.shape != (n, n):
        raise ValueError(f"cm shape {cm.shape} does not match {n} labels")
    row_pct = 100.0 * normalize_rows(cm)
    z = row_pct if normalize else cm
    custom = np.dstack([cm, row_pct])
    hover = ("true: %{y}<br>pred: %{x}<br>count: %{customdata[0]:d}<br>row: %{customdata[1]:.1f}%"
             "<extra></extra>")
    if show_text is None:
        show_text = n <= 45
    text = None
    if show_text:
        text = [[(f"{row_pct[i, j]:.0f}%" if normalize else f"{int(cm[i, j])}") if cm[i, j] else ""
                 for j in range(n)] for i in range(n)]
    fig = go.Figure(go.Heatmap(
        z=z, x=labels, y=labels, customdata=custom, hovertemplate=hover, colorscale=colorscale,
        text=text, texttemplate="%{text}" if show_text else None, textfont={"size": 12 if n <= 15 else 9},
        xgap=1 if n <= 60 else 0,
        ygap=1 if n <= 60 else 0, colorbar={"title": "row %" if normalize else "count"},
        zmin=0, zmax=100 if normalize else None))
    tick = 11 if n <= 20 else (10 if n <= 45 else 7)
    labels_px = 60 if n <= 8 else int(6 * max(len(x) for x in labels)) + 20  # rotated x tick labels
    size = int(min(1800, max(420, cell_px(n) * n + 110 + labels_px)))
    fig.update_layout(
        title=title, width=size + 160, height=size, margin={"l": 10, "r": 10, "t": 110, "b": 10}, dragmode="zoom",
        xaxis={"title": "predicted", "type": "category", "categoryorder": "array", "categoryarray": labels,
               "tickangle": -60 if n > 8 else 0, "tickfont": {"size": tick}, "side": "bottom",
               "constrain": "domain"},
        yaxis={"title": "true", "type": "category", "categoryorder": "array", "categoryarray": labels,
               "autorange": "reversed", "tickfont": {"size": tick}, "scaleanchor": "x", "constrain": "domain"},
    )
    if label_space is not None and getattr(label_space, "kind", "") == "taxonomy3":
        _add_group_marks(fig, labels, label_space)
    return fig


def cell_px(n: int) -> int:
    """Side of one confusion-matrix cell in pixels (before any zoom)."""
    return 48 if n <= 8 else (36 if n <= 15 else (28 if n <= 45 else 16))


def _add_group_marks(fig: go.Figure, labels: Sequence[str], label_space) -> None:
    n = len(labels)
    for level, dash, width in (("category", "dot", 1), ("anatomy", "solid", 2)):
        runs = _groups(labels, label_space, level)
        if len(runs) <= 1 and level == "category":
            continue
        for _, start, _end in runs[1:]:
            pos = start - 0.5
            for kw in ({"x0": pos, "x1": pos, "y0": -0.5, "y1": n - 0.5},
                       {"y0": pos, "y1": pos, "x0": -0.5, "x1": n - 0.5}):
                fig.add_shape(type="line", xref="x", yref="y", line={"color": "black", "width": width,
                                                                       "dash": dash}, **kw)
        for g, start, end in runs:
            mid = (start + end - 1) / 2.0
            short = g.split(CATEGORY_SEP)[-1] if level == "category" else g
            fig.add_annotation(x=mid, y=1.0 if level == "category" else 1.045, xref="x", yref="paper",
                               text=short, showarrow=False, yanchor="bottom",
                               font={"size": 9 if level == "category" else 11})


def hierarchical_confusion_figures(cm, diseases: Sequence[str], label_space, normalize: bool = False
                                   ) -> dict[str, go.Figure]:
    """Figures for the disease CM and its category- and anatomy-level collapses."""
    out = {"disease": confusion_heatmap(cm, diseases, label_space, normalize, title="Disease")}
    for level in ("category", "anatomy"):
        c, g = collapse_confusion(cm, diseases, label_space, level)
        out[level] = confusion_heatmap(c, g, None, normalize, title=level.capitalize())
    return out


def add_cell_picker(fig: go.Figure, cm, labels: Sequence[str]) -> go.Figure:
    """Overlay one invisible square marker per CM cell so a click selects (true, pred).

    Streamlit reports plotly selections for scatter points, not for heatmap cells; the markers
    carry the same hover text as the heatmap.
    """
    cm = np.asarray(cm)
    n = len(labels)
    pct = 100.0 * normalize_rows(cm)
    ii, jj = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    ii, jj = ii.ravel(), jj.ravel()
    fig.add_trace(go.Scatter(
        x=[labels[j] for j in jj], y=[labels[i] for i in ii], mode="markers", showlegend=False, name="cells",
        marker={"symbol": "square", "size": int(0.9 * cell_px(n)), "opacity": 0.0},
        customdata=np.stack([cm[ii, jj], pct[ii, jj]], axis=1),
        hovertemplate="true: %{y}<br>pred: %{x}<br>count: %{customdata[0]:d}<br>row: %{customdata[1]:.1f}%"
                      "<extra>click to list the cases</extra>"))
    fig.update_layout(clickmode="event+select")  # a click selects a cell; a drag still zooms
    return fig


def stored_confusion(head: dict, level: str = "disease") -> tuple[np.ndarray, list[str]]:
    """The confusion matrix of a softmax head of a ``compute_report`` result; for the disease head of a
    taxonomy its ``category`` / ``anatomy`` collapse."""
    if level != "disease" and level in (head.get("confusion_matrix_collapsed") or {}):
        c = head["confusion_matrix_collapsed"][level]
    else:
        c = head["confusion_matrix"]
    return np.asarray(c["matrix"], dtype=np.int64), list(c["labels"])
