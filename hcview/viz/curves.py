"""ROC and precision-recall curves, one trace per label, AUC in the legend."""
from __future__ import annotations

from typing import Sequence

import plotly.graph_objects as go

from hcview.metrics.multilabel import compute_pr_curves, compute_roc_curves


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
                      yaxis={"title": "true positive rate", "range": [0, 1.02]}, legend={"font": {"size": 10}})
    return fig


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
                      yaxis={"title": "precision", "range": [0, 1.02]}, legend={"font": {"size": 10}})
    return fig
