"""Plotly figures for one case (case-review page): MC-dropout intervals, HC-Net tree, CIHMLC tree,
Res-MTNet nodule marker. Pure builders: a result in, a figure out."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go


def mc_bands(rows: list[dict], title: str = "", threshold: float | None = 0.5, max_rows: int = 25) -> go.Figure:
    """Horizontal error bars: MC mean with the 95% interval per output; uncertain rows in orange."""
    rows = sorted(rows, key=lambda r: -(r["mc_mean"] if r.get("mc_mean") is not None else r["prob"]))[:max_rows]
    rows = rows[::-1]
    names = [r["label"] for r in rows]
    mean = [r["mc_mean"] if r.get("mc_mean") is not None else r["prob"] for r in rows]
    lo = [m - (r["ci_low"] if r.get("ci_low") is not None else m) for m, r in zip(mean, rows)]
    hi = [(r["ci_high"] if r.get("ci_high") is not None else m) - m for m, r in zip(mean, rows)]
    colours = ["#e67e22" if r.get("uncertain") else "#2c7fb8" for r in rows]
    fig = go.Figure(go.Scatter(x=mean, y=names, mode="markers", marker=dict(color=colours, size=9),
                               error_x=dict(type="data", symmetric=False, array=hi, arrayminus=lo, thickness=1.5),
                               hovertemplate="%{y}: %{x:.3f}<extra></extra>"))
    if threshold is not None:
        fig.add_vline(x=threshold, line_dash="dot", line_color="grey")
    fig.update_layout(title=title, xaxis=dict(range=[0, 1], title="probability (MC mean, 95% interval)"),
                      height=max(220, 24 * len(rows) + 90), margin=dict(l=10, r=10, t=40, b=40))
    return fig


def hierarchy_tree(detail: dict, probs: dict, labels: dict) -> go.Figure:
    """HC-Net anatomy -> category -> disease as a sunburst; predicted path in the hover."""
    ids, parents, vals, text = [], [], [], []
    pa = dict(zip(labels["anatomy"], probs["anatomy"]))
    pc = dict(zip(labels["category"], probs["category"]))
    pd_ = dict(zip(labels["disease"], probs["disease"]))
    for a, cats in detail["tree"].items():
        ids.append(a), parents.append(""), vals.append(float(pa.get(a, 0))), text.append(f"{a} {pa.get(a, 0):.2f}")
        for c, dis in cats.items():
            ids.append(f"{a}/{c}"), parents.append(a), vals.append(float(pc.get(c, 0)))
            text.append(f"{c} {pc.get(c, 0):.2f}")
            for d in dis:
                ids.append(f"{a}/{c}/{d}"), parents.append(f"{a}/{c}"), vals.append(float(pd_.get(d, 0)))
                text.append(f"{d} {pd_.get(d, 0):.2f}")
    fig = go.Figure(go.Sunburst(ids=ids, labels=[i.rsplit("/", 1)[-1] for i in ids], parents=parents,
                                values=[max(v, 1e-3) for v in vals], text=text,
                                textinfo="text", branchvalues="remainder", hovertemplate="%{text}<extra></extra>"))
    fig.update_layout(height=380, margin=dict(l=0, r=0, t=10, b=0))
    return fig


def edge_tree(detail: dict) -> go.Figure:
    """CIHMLC parent -> child edges: p(parent) vs p(child); inconsistent edges (child > .5, parent < .5) red."""
    e = detail["edges"]
    fig = go.Figure(go.Scatter(
        x=[x["p_parent"] for x in e], y=[x["p_child"] for x in e], mode="markers",
        marker=dict(size=10, color=["#d62728" if x["inconsistent"] else "#2c7fb8" for x in e]),
        text=[f"{x['parent']} → {x['child']}" for x in e], hovertemplate="%{text}<br>parent %{x:.2f} child %{y:.2f}<extra></extra>"))
    fig.add_shape(type="rect", x0=0, x1=0.5, y0=0.5, y1=1, fillcolor="rgba(214,39,40,0.08)", line_width=0)
    fig.update_layout(xaxis=dict(range=[0, 1], title="p(parent)"), yaxis=dict(range=[0, 1], title="p(child)"),
                      height=340, margin=dict(l=10, r=10, t=10, b=40))
    return fig


def nodule_marker(image: np.ndarray, reg: dict) -> go.Figure:
    """The input image with the predicted nodule centre and size circle (Res-MTNet)."""
    img = (np.clip(image, 0, 1) * 255).astype(np.uint8)
    fig = go.Figure(go.Heatmap(z=img[::-1] if False else img, colorscale="gray", showscale=False))
    r = reg["size_px"] / 2
    fig.add_shape(type="circle", x0=reg["x_px"] - r, x1=reg["x_px"] + r, y0=reg["y_px"] - r, y1=reg["y_px"] + r,
                  line=dict(color="#e67e22", width=2))
    fig.update_yaxes(autorange="reversed", scaleanchor="x", visible=False)
    fig.update_xaxes(visible=False)
    fig.update_layout(height=420, margin=dict(l=0, r=0, t=10, b=0))
    return fig


def label_tree_table(detail: dict, outputs: list[dict]):
    """The CIHMLC parent -> child hierarchy as an indented, depth-first table (a DAG: a child with two
    parents, e.g. Pneumonia under Fluid Accumulation and Consolidation, is listed under each).

    Columns: label (indented), p, MC mean +- sd, 95% interval, and a mark where the child is positive
    (> 0.5) while its parent is negative (< 0.5). Labels outside the tree (No Finding, Uncertain) follow.
    """
    import pandas as pd

    by_label = {o["label"]: o for o in outputs}
    children: dict[str, list[str]] = {}
    violated = set()
    for e in detail.get("edges", []):
        children.setdefault(e["parent"], []).append(e["child"])
        if e.get("inconsistent"):
            violated.add((e["parent"], e["child"]))
    rows, seen = [], set()

    def visit(label: str, depth: int, parent: str | None):
        o = by_label.get(label, {})
        seen.add(label)
        flag = "child > 0.5 but parent < 0.5" if parent and (parent, label) in violated else ""
        rows.append({"label": "\u2003" * depth + ("└ " if depth else "") + label, "p": o.get("prob"),
                     "MC mean": o.get("mc_mean"), "sd": o.get("mc_std"),
                     "95% interval": (f"{o['ci_low']:.2f}-{o['ci_high']:.2f}" if o.get("ci_low") is not None else ""),
                     "uncertain": bool(o.get("uncertain")), "inconsistent": flag})
        for c in children.get(label, []):
            visit(c, depth + 1, label)

    for root in detail.get("roots", []):
        visit(root, 0, None)
    for o in outputs:
        if o["label"] not in seen:
            visit(o["label"], 0, None)
    return pd.DataFrame(rows)
