"""ROC and precision-recall curves, one trace per label, AUC in the legend."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import plotly.graph_objects as go

from hcview.metrics.multilabel import compute_pr_curves, compute_roc_curves


def _style(fig: go.Figure, n: int) -> go.Figure:
    """Up to 10 curves: plotly's palette; more: 24 distinct colours (no two labels share one), a legible legend and
    a plot tall enough that the legend never scrolls."""
    if n > 10:
        import plotly.express as px

        palette = px.colors.qualitative.Dark24
        k = 0
        for tr in fig.data:
            if tr.name != "chance":
                tr.line.color = palette[k % len(palette)]
                k += 1
    fig.update_layout(legend={"font": {"size": 12}}, height=max(450, 24 * (n + 1) + 140))
    return fig


def roc_curves(y_true, y_score, labels: Sequence[str] | None = None, title: str = "ROC curves",
               chance: bool = True) -> go.Figure:
    """One line per label with a defined AUROC (legend 'label (AUC 0.912)'), plus a chance line."""
    curves = compute_roc_curves(y_true, y_score, labels)
    fig = go.Figure()
    for name, c in curves.items():
        fig.add_trace(go.Scatter(x=c["fpr"], y=c["tpr"], mode="lines", name=f"{name} (AUC {c['auc']:.3f})",
                                 hovertemplate=f"{name}<br>FPR %{{x:.3f}}<br>TPR %{{y:.3f}}<extra></extra>"))
    if chance:
        fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="chance",
                                 line={"dash": "dash", "color": "grey"}, hoverinfo="skip"))
    fig.update_layout(title=title, xaxis={"title": "false positive rate", "range": [0, 1]},
                      yaxis={"title": "true positive rate", "range": [0, 1.02]})
    return _style(fig, len(curves))


def pr_curves(y_true, y_score, labels: Sequence[str] | None = None, title: str = "Precision-recall curves"
              ) -> go.Figure:
    """One line per label (legend 'label (AP 0.734)')."""
    curves = compute_pr_curves(y_true, y_score, labels)
    fig = go.Figure()
    for name, c in curves.items():
        fig.add_trace(go.Scatter(x=c["recall"], y=c["precision"], mode="lines",
                                 name=f"{name} (AP {c['ap']:.3f})",
                                 hovertemplate=f"{name}<br>recall %{{x:.3f}}<br>precision %{{y:.3f}}<extra></extra>"))
    fig.update_layout(title=title, xaxis={"title": "recall", "range": [0, 1]},
                      yaxis={"title": "precision", "range": [0, 1.02]})
    return _style(fig, len(curves))


def one_vs_rest(kind: str, y, s, labels: Sequence[str], chosen: Sequence[str] | None = None):
    """(y_true (N, L), scores (N, L), labels) for ROC/PR curves of one head: a softmax head one class
    against the rest (cases with a known class), a sigmoid head as it is; ``chosen`` keeps some labels."""
    labels = list(labels)
    if kind == "softmax":
        keep = y >= 0
        yt = np.zeros((int(keep.sum()), len(labels)))
        yt[np.arange(yt.shape[0]), y[keep]] = 1.0
        ys = s[keep]
    else:
        yt, ys = y, s
    if chosen:
        idx = [labels.index(c) for c in chosen if c in labels]
        return yt[:, idx], ys[:, idx], [labels[i] for i in idx]
    return yt, ys, labels
