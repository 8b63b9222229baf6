"""Reliability diagram."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from hcview.metrics.calibration import compute_reliability


def reliability_diagram(y_true=None, prob=None, n_bins: int = 10, reliability: dict | None = None,
                        title: str = "Reliability diagram") -> go.Figure:
    """Bars of observed accuracy per confidence bin, the diagonal, and bin counts underneath.

    Pass ``y_true``/``prob`` (see ``compute_reliability`` for the binary vs top-label modes) or a
    precomputed ``reliability`` dict. The title carries the ECE.
    """
    rel = reliability if reliability is not None else compute_reliability(y_true, prob, n_bins)
    edges = np.asarray(rel["edges"], dtype=float)
    centers = (edges[:-1] + edges[1:]) / 2
    width = float(edges[1] - edges[0])
    acc = np.array([np.nan if v is None else v for v in rel["accuracy"]], dtype=float)
    conf = np.array([np.nan if v is None else v for v in rel["confidence"]], dtype=float)
    count = np.asarray(rel["count"], dtype=int)
    ece = rel.get("ece")
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.75, 0.25], vertical_spacing=0.05)
    fig.add_trace(go.Bar(x=centers, y=acc, width=width * 0.95, name="accuracy", marker_color="#4c78a8",
                         customdata=np.stack([conf, count], axis=1),
                         hovertemplate="bin %{x:.2f}<br>accuracy %{y:.3f}<br>confidence %{customdata[0]:.3f}"
                                       "<br>n %{customdata[1]:d}<extra></extra>"), row=1, col=1)
    fig.add_trace(go.Scatter(x=conf, y=acc, mode="markers", name="mean confidence",
                             marker={"color": "#e45756", "size": 7}), row=1, col=1)
    fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="perfect calibration",
                             line={"dash": "dash", "color": "grey"}, hoverinfo="skip"), row=1, col=1)
    fig.add_trace(go.Bar(x=centers, y=count, width=width * 0.95, name="count", marker_color="#9d9d9d"),
                  row=2, col=1)
    ece_txt = "n/a" if ece is None or not np.isfinite(ece) else f"{ece:.3f}"
    fig.update_layout(title=f"{title} (ECE {ece_txt}, {len(count)} bins)", bargap=0)
    fig.update_xaxes(range=[0, 1], row=1, col=1)
    fig.update_xaxes(range=[0, 1], title="confidence", row=2, col=1)
    fig.update_yaxes(range=[0, 1], title="accuracy", row=1, col=1)
    fig.update_yaxes(title="count", row=2, col=1)
    return fig


def head_reliability(kind: str, head: dict, y=None, s=None, labels=None, label: str | None = None) -> go.Figure:
    """Reliability diagram of one head of a ``compute_report`` result: softmax from the stored bins (top
    label; from ``y``/``s`` when the report has none), sigmoid for ``label`` from ``y``/``s``."""
    if kind == "softmax":
        rel = (head.get("calibration") or {}).get("reliability")
        if rel:
            return reliability_diagram(reliability=dict(rel, ece=head["calibration"].get("ece")),
                                       title="Reliability (top label)")
        return reliability_diagram(y[y >= 0], s[y >= 0], title="Reliability (top label)")
    j = list(labels).index(label)
    return reliability_diagram(y[:, j], s[:, j], title=f"Reliability · {label}")
