"""Plotly figures for the risk-stratification results (no streamlit here; results are duck-typed so viz does not
import hcview.risk)."""
from __future__ import annotations

import plotly.graph_objects as go

from hcview.text import mean_ci_text

LEVEL_COLOURS = {"low": "#4c9f70", "medium": "#e0a526", "high": "#c8453c"}
MODEL_LABELS = {"two_stage": "two-stage (MedFusionNet)", "logistic": "logistic regression",
                "random_forest": "random forest", "tree": "decision tree (depth 3)"}
MODEL_COLOURS = {"two_stage": "#c8453c", "logistic": "#3b6fb6", "random_forest": "#4c9f70", "tree": "#8a6bb8"}


def cv_roc_figure(result) -> go.Figure:
    """Mean cross-validated ROC curve of the two-stage model and each baseline (same folds): TPR averaged over the
    folds at fixed FPR; the two-stage model's band spans the 2.5-97.5 % of its folds."""
    cv = result.cv
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", line=dict(dash="dot", color="#999"),
                             name="chance", hoverinfo="skip"))
    two = cv.roc.get("two_stage")
    if two:
        fig.add_trace(go.Scatter(x=two["fpr"] + two["fpr"][::-1], y=two["tpr_high"] + two["tpr_low"][::-1],
                                 fill="toself", fillcolor="rgba(200,69,60,0.12)", line=dict(width=0),
                                 hoverinfo="skip", name="two-stage, 95% of folds", showlegend=True))
    for name, r in cv.roc.items():
        auc = cv.summary[name]["auroc"]
        fig.add_trace(go.Scatter(x=r["fpr"], y=r["tpr_mean"], mode="lines",
                                 line=dict(color=MODEL_COLOURS.get(name, "#555"),
                                           width=3 if name == "two_stage" else 2),
                                 name=f"{MODEL_LABELS.get(name, name)}: AUROC {mean_ci_text(auc)}"))
    fig.update_layout(title=f"{result.outcome}: cross-validated ROC ({cv.repeats} repeats x {cv.folds} folds, "
                            "mean curve)",
                      xaxis_title="1 - specificity", yaxis_title="sensitivity", height=460,
                      xaxis_range=[0, 1], yaxis_range=[0, 1.02], margin=dict(t=50, b=40),
                      legend=dict(yanchor="bottom", y=0.02, xanchor="right", x=0.99))
    return fig


def level_figure(result) -> go.Figure:
    """Out-of-fold rows per risk level (CV repeat 1) with the observed outcome rate of each level (all folds)."""
    lv = result.levels()
    levels = list(lv["counts"])
    counts = [lv["counts"][k] for k in levels]
    rates = [lv["positive_rate"][k] for k in levels]
    text = [f"{c} rows<br>{'n/a' if r is None else f'{100 * r:.1f}% positive'}" for c, r in zip(counts, rates)]
    fig = go.Figure(go.Bar(x=levels, y=counts, text=text, textposition="auto",
                           marker_color=[LEVEL_COLOURS.get(k, "#888") for k in levels]))
    fig.update_layout(title=f"{result.outcome}: risk levels out of fold ({sum(counts)} rows) and observed rate",
                      xaxis_title="risk level", yaxis_title="patients", height=340, margin=dict(t=50, b=40))
    return fig


def scored_distribution_figure(scored, outcome: str) -> go.Figure:
    """Bar chart of risk levels over a scored records frame (``assign_risk`` output)."""
    vc = scored["risk_level"].value_counts()
    levels = ["low", "medium", "high"]
    ys = [int(vc.get(k, 0)) for k in levels]
    fig = go.Figure(go.Bar(x=levels, y=ys, text=ys, marker_color=[LEVEL_COLOURS[k] for k in levels]))
    fig.update_layout(title=f"{outcome}: risk levels of the scored records ({len(scored)})",
                      xaxis_title="risk level", yaxis_title="patients", height=320, margin=dict(t=50, b=40))
    return fig


def stage1_auc_figure(result, top: int = 15) -> go.Figure:
    """Horizontal bars of each feature's best univariate-threshold AUC (rows of the model in use); selected coloured."""
    rows = result.stage1[:top][::-1]
    fig = go.Figure(go.Bar(
        x=[r["auc"] for r in rows], y=[r["feature"] for r in rows], orientation="h",
        marker_color=["#3b6fb6" if r["selected"] else "#b8c4d6" for r in rows],
        hovertext=[f"{r['rule']}  F1 {r['f1']:.3f}" for r in rows]))
    fig.add_vline(x=0.5, line_dash="dot", line_color="#888")
    fig.update_layout(title=f"{result.outcome}: stage-1 threshold AUC (blue = selected)",
                      xaxis_title="AUC of the best threshold rule", xaxis_range=[0.45, 1.0],
                      height=max(300, 22 * len(rows) + 90), margin=dict(t=50, l=10))
    return fig
