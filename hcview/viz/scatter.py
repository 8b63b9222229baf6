"""Class support vs class accuracy scatter with Pearson r."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import plotly.graph_objects as go

from hcview.metrics.stats import pearson


def support_accuracy_scatter(support, accuracy, labels: Sequence[str] | None = None, groups=None,
                             title: str = "Support vs accuracy", log_x: bool = False) -> go.Figure:
    """One point per class; title carries Pearson r and p. ``groups`` (e.g. anatomy per class)
    colours the points, one trace per group."""
    s = np.asarray(support, dtype=float)
    a = np.asarray([np.nan if v is None else v for v in accuracy], dtype=float)
    names = list(labels) if labels is not None else [str(i) for i in range(len(s))]
    r = pearson(s, a)
    fig = go.Figure()
    gl = list(groups) if groups is not None else ["classes"] * len(s)
    for g in dict.fromkeys(gl):
        idx = [i for i, x in enumerate(gl) if x == g]
        fig.add_trace(go.Scatter(x=s[idx], y=a[idx], mode="markers", name=str(g), text=[names[i] for i in idx],
                                 hovertemplate="%{text}<br>support %{x:.0f}<br>accuracy %{y:.3f}<extra></extra>",
                                 marker={"size": 9}))
    ok = np.isfinite(s) & np.isfinite(a)
    if np.isfinite(r["r"]) and ok.sum() >= 2:
        k, b = np.polyfit(s[ok], a[ok], 1)
        xs = np.linspace(s[ok].min(), s[ok].max(), 20)
        fig.add_trace(go.Scatter(x=xs, y=k * xs + b, mode="lines", name="least squares",
                                 line={"dash": "dash", "color": "grey"}, hoverinfo="skip"))
        rt = f"Pearson r = {r['r']:.2f} (p = {r['p_value']:.3g}, n = {r['n']})"
    else:
        rt = f"Pearson r n/a ({r['reason']})"
    fig.update_layout(title=f"{title}: {rt}", xaxis={"title": "support (cases)",
                                                     "type": "log" if log_x else "linear"},
                      yaxis={"title": "accuracy", "range": [0, 1.05]})
    return fig


def head_support_scatter(kind: str, head: dict, label_space=None, head_name: str = "") -> go.Figure:
    """Support vs accuracy per class (softmax head) or positives vs AUROC per label (sigmoid head) of a
    ``compute_report`` result, Pearson r in the title."""
    from hcview.viz.tables import head_per_class_table, per_label_table

    if kind == "softmax":
        df = head_per_class_table(head, label_space, head_name)
        groups = df["anatomy"].tolist() if "anatomy" in df and df["anatomy"].nunique() > 1 else None
        return support_accuracy_scatter(df["support"], df["accuracy"], df["class"].tolist(), groups=groups,
                                        title="Support vs accuracy")
    df = per_label_table(head)
    fig = support_accuracy_scatter(df["positives"], df["AUROC"], df["label"].tolist(), title="Positives vs AUROC")
    fig.update_yaxes(title="AUROC")
    fig.update_xaxes(title="positive cases")
    return fig
