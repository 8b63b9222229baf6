"""Plotly figures for the risk-stratification results (no streamlit here)."""
from __future__ import annotations

import plotly.graph_objects as go

LEVEL_COLOURS = {"low": "#4c9f70", "medium": "#e0a526", "high": "#c8453c"}


def risk_distribution_figure(result, split: str = "test") -> go.Figure:
    """Bar chart of how many rows of a split fall in each risk level."""
    counts = result.risk_counts[split]
    levels = list(counts)
    fig = go.Figure(go.Bar(x=levels, y=[counts[k] for k in levels], text=[counts[k] for k in levels],
                           marker_color=[LEVEL_COLOURS.get(k, "#888") for k in levels]))
    fig.update_layout(title=f"{result.outcome}: risk levels, {split} split ({sum(counts.values())} rows)",
                      xaxis_title="risk level", yaxis_title="patients", height=320, margin=dict(t=50, b=40))
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
    """Horizontal bars of each feature's best univariate-threshold AUC (training split); selected ones coloured."""
    rows = result.stage1[:top][::-1]
    fig = go.Figure(go.Bar(
        x=[r["auc"] for r in rows], y=[r["feature"] for r in rows], orientation="h",
        marker_color=["#3b6fb6" if r["selected"] else "#b8c4d6" for r in rows],
        hovertext=[f"{r['rule']}  F1 {r['f1']:.3f}" for r in rows]))
    fig.add_vline(x=0.5, line_dash="dot", line_color="#888")
    fig.update_layout(title=f"{result.outcome}: stage-1 threshold AUC (training split; blue = selected)",
                      xaxis_title="AUC of the best threshold rule", xaxis_range=[0.45, 1.0],
                      height=max(300, 22 * len(rows) + 90), margin=dict(t=50, l=10))
    return fig
