"""Figures, tables and images for one case (Case review page and case reports). Pure builders: a result's JSON
summary (``CaseResult.to_json()``) or arrays in, a figure / rows / uint8 image out. No streamlit.

- :func:`findings_rows`: every model's output as one indented tree (HC-Net anatomy -> category -> disease,
  CIHMLC parent -> child with per-label operating points and violations, other models grouped by head).
- :func:`mc_bands`: MC-dropout mean and 95% interval per output, each row with its own decision threshold.
- :func:`hierarchy_tree`: HC-Net's taxonomy as a sunburst.
- :func:`overlay`, :func:`colorbar_strip`, :func:`to_display`: heat maps over the image with a choice of colour
  map (perceptually uniform by default; CIHMLC's 5-step ``hot_r`` as the "paper" style), fast enough to redraw on
  every slider change (numpy lookup tables, no matplotlib figure).
- :func:`nodule_marker`: Res-MTNet's predicted nodule centre and size on the image.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
import plotly.graph_objects as go

from hcview.text import decimals_apart

# ---------------------------------------------------------------------------------------------------------------
# heat-map colour maps and overlays
# name -> (matplotlib colour map, number of steps); "paper" is the CIHMLC authors' rendering
CMAPS: dict[str, tuple[str, int]] = {"viridis": ("viridis", 256), "inferno": ("inferno", 256),
                                     "paper": ("hot_r", 5)}
CMAP_LABELS = {"viridis": "viridis (default)", "inferno": "inferno", "paper": "paper style (hot_r, 5 steps)"}
DEFAULT_CMAP = "viridis"
# the dark end of inferno is black, invisible on dark anatomy: only the part from this point on is used
_LOW_CUT = {"inferno": 0.2}


@lru_cache(maxsize=16)
def colormap_lut(name: str = DEFAULT_CMAP) -> np.ndarray:
    """(256, 3) uint8 lookup table: map value v in [0, 1] -> colour ``lut[round(v * 255)]``."""
    import matplotlib

    if name not in CMAPS:
        raise ValueError(f"unknown colour map {name!r}; use one of {', '.join(CMAPS)}")
    cmap_name, steps = CMAPS[name]
    cmap = matplotlib.colormaps[cmap_name]
    if steps < 256:
        cmap = cmap.resampled(steps)
    lo = _LOW_CUT.get(name, 0.0)
    rgb = cmap(lo + (1 - lo) * np.linspace(0, 1, 256))[:, :3]
    return (rgb * 255).round().astype(np.uint8)


def to_display(image: np.ndarray, max_side: int | None = None) -> np.ndarray:
    """Grey (H, W) (or RGB, averaged) in [0, 1], area-downsampled so its longer side is at most ``max_side``."""
    img = np.asarray(image, dtype=np.float32)
    if img.ndim == 3:
        img = img[..., :3].mean(-1)
    if max_side and max(img.shape) > max_side:
        import cv2

        s = max_side / max(img.shape)
        img = cv2.resize(img, (max(1, round(img.shape[1] * s)), max(1, round(img.shape[0] * s))),
                         interpolation=cv2.INTER_AREA)
    return np.clip(img, 0, 1)


def overlay(image: np.ndarray, cam: np.ndarray | None, threshold: float = 0.5, alpha: float = 0.5,
            cmap: str = DEFAULT_CMAP, max_side: int | None = None) -> np.ndarray:
    """Grey image (float in [0, 1], or uint8) + heat map in [0, 1] -> uint8 RGB. Map values <= ``threshold`` are
    not drawn (the image shows through); the others get ``colormap(value)`` blended at ``alpha``. ``cam=None``
    gives the image alone. uint8 arithmetic throughout: a few milliseconds for a 640-pixel image."""
    import cv2

    img = np.asarray(image)
    if img.dtype != np.uint8 or img.ndim == 3 or (max_side and max(img.shape[:2]) > max_side):
        img = (to_display(img if img.dtype != np.uint8 else img / 255.0, max_side) * 255).round().astype(np.uint8)
    base = cv2.cvtColor(np.ascontiguousarray(img), cv2.COLOR_GRAY2RGB)
    if cam is None:
        return base
    c = np.asarray(cam, dtype=np.float32)
    if c.shape != img.shape:
        c = cv2.resize(c, (img.shape[1], img.shape[0]), interpolation=cv2.INTER_LINEAR)
    np.clip(c, 0, 1, out=c)
    c8 = (c * 255 + 0.5).astype(np.uint8)
    colour = cv2.LUT(cv2.merge([c8, c8, c8]), colormap_lut(cmap).reshape(256, 1, 3))
    blend = cv2.addWeighted(base, 1.0 - float(alpha), colour, float(alpha), 0.0)
    return np.where((c > threshold)[..., None], blend, base)


def colorbar_strip(cmap: str = DEFAULT_CMAP, threshold: float = 0.5, width: int = 320, height: int = 14) -> np.ndarray:
    """A horizontal colour bar from 0 to 1 (uint8 RGB); the part at or below ``threshold`` (not drawn on the image)
    is shown as grey hatching."""
    v = np.linspace(0, 1, width)
    row = colormap_lut(cmap)[(v * 255).round().astype(int)]
    bar = np.repeat(row[None], height, 0).copy()
    hidden = v <= threshold
    yy, xx = np.mgrid[0:height, 0:width]
    hatch = ((xx + yy) // 3) % 2 == 0
    grey = np.where(hatch, 200, 235).astype(np.uint8)[..., None].repeat(3, -1)
    bar[:, hidden] = grey[:, hidden]
    return bar


# ---------------------------------------------------------------------------------------------------------------
# findings as one indented tree
def _val(o: dict) -> float | None:
    if not o:
        return None
    return o["mc_mean"] if o.get("mc_mean") is not None else o.get("prob")


def _row(o: dict, depth: int, label: str, level: str, **extra) -> dict:
    return {"depth": depth, "label": label, "level": level, "p": o.get("prob"), "mc_mean": o.get("mc_mean"),
            "sd": o.get("mc_std"), "ci_low": o.get("ci_low"), "ci_high": o.get("ci_high"),
            "threshold": o.get("threshold"), "positive": o.get("positive"), "uncertain": bool(o.get("uncertain")),
            "on_path": False, "violation": "", **extra}


def findings_rows(summary: dict, max_children: int | None = None) -> list[dict]:
    """The outputs of one case as a depth-first tree of rows: ``depth, label, level, p, mc_mean, sd, ci_low,
    ci_high, threshold, positive, uncertain, on_path, violation``.

    HC-Net (``tree`` in the summary): anatomy -> category -> disease, children by probability, the predicted path
    marked ``on_path``. CIHMLC (``edges``): parent -> child (a child with two parents is listed under each), a child
    positive at its own operating point under a parent negative at its own marked in ``violation``; labels outside
    the tree follow. Others: one group row per head, its labels by probability (softmax: the top one
    ``on_path``). ``max_children`` caps the children listed per node (a "... N more" row says how many are left)."""
    outputs = [{**o, "level": o.get("level") or o.get("head") or "labels"} for o in summary.get("outputs", [])]
    by = {(o["level"], o["label"]): o for o in outputs}
    rows: list[dict] = []

    def capped(items):
        if max_children is None or len(items) <= max_children:
            return items, 0
        return items[:max_children], len(items) - max_children

    if "tree" in summary:  # HC-Net
        pred = summary.get("prediction", {})
        for a, cats in summary["tree"].items():
            oa = by.get(("anatomy", a), {})
            rows.append(_row(oa, 0, a, "anatomy", on_path=pred.get("anatomy") == a))
            for c in sorted(cats, key=lambda c: -(by.get(("category", c), {}).get("prob") or 0)):
                oc = by.get(("category", c), {})
                rows.append(_row(oc, 1, c, "category", on_path=pred.get("category") == c and pred.get("anatomy") == a))
                ds = sorted(cats[c], key=lambda d: -(by.get(("disease", d), {}).get("prob") or 0))
                ds, more = capped(ds)
                for d in ds:
                    rows.append(_row(by.get(("disease", d), {}), 2, d, "disease",
                                     on_path=pred.get("disease") == d and pred.get("category") == c))
                if more:
                    rows.append(_row({}, 2, f"... {more} more", "disease"))
        return rows

    if "edges" in summary:  # CIHMLC
        level = outputs[0]["level"] if outputs else "labels"
        children: dict[str, list[str]] = {}
        violated = {}
        for e in summary["edges"]:
            children.setdefault(e["parent"], []).append(e["child"])
            if e.get("inconsistent"):
                violated[(e["parent"], e["child"])] = f"violation: parent {e['parent']} is negative"
        seen = set()

        def visit(label: str, depth: int, parent: str | None):
            o = by.get((level, label), {})
            seen.add(label)
            rows.append(_row(o, depth, label, level, on_path=bool(o.get("positive")),
                             violation=violated.get((parent, label), "") if parent else ""))
            for ch in children.get(label, []):
                visit(ch, depth + 1, label)

        for root in summary.get("roots", []):
            visit(root, 0, None)
        for o in outputs:
            if o["label"] not in seen:
                visit(o["label"], 0, None)
        return rows

    levels = list(dict.fromkeys(o["level"] for o in outputs))
    for lev in levels:
        group = [o for o in outputs if o["level"] == lev]
        softmax = all(o.get("threshold") is None for o in group)
        # softmax: by p, so the prediction (the argmax of p) comes first; sigmoid: by the value decisions use
        group.sort(key=lambda o: -((o.get("prob") if softmax else _val(o)) or 0))
        if len(levels) > 1:
            rows.append({**_row({}, 0, lev, lev), "group": True})
        depth = 1 if len(levels) > 1 else 0
        top = (summary.get("prediction") or {}).get(lev) or (group[0]["label"] if group else None)
        group, more = capped(group)
        for o in group:
            rows.append(_row(o, depth, o["label"], lev, on_path=(o["label"] == top) if softmax else bool(o.get("positive"))))
        if more:
            rows.append(_row({}, depth, f"... {more} more", lev))
    return rows


def findings_table(summary: dict, max_children: int | None = None):
    """:func:`findings_rows` as a DataFrame for display: ``finding`` (indented), ``call``, ``p``, ``MC mean ± sd``,
    ``95% interval``, ``threshold``, ``review`` (uncertain / violation)."""
    import pandas as pd

    out = []
    for r in findings_rows(summary, max_children):
        if r.get("group"):
            out.append({"finding": r["label"].upper(), "call": "", "p": None, "MC mean ± sd": "",
                        "95% interval": "", "threshold": None, "review": ""})
            continue
        call = ""
        if r["positive"] is not None:
            call = "positive" if r["positive"] else "negative"
        elif r["on_path"]:
            call = "predicted"
        review = "; ".join(x for x in ("uncertain" if r["uncertain"] else "", r["violation"]) if x)
        called = r["mc_mean"] if r["mc_mean"] is not None else r["p"]  # what the call compares with the threshold
        dp = decimals_apart(called, r["threshold"]) if called is not None and r["threshold"] is not None else 2
        out.append({"finding": "\u2003" * r["depth"] + ("└ " if r["depth"] else "") + r["label"], "call": call,
                    "p": r["p"],
                    "MC mean ± sd": ((f"{r['mc_mean']:.{dp}f}" + (f" ± {r['sd']:.2f}" if r["sd"] is not None else ""))
                                     if r["mc_mean"] is not None else ""),
                    "95% interval": (f"{r['ci_low']:.2f}–{r['ci_high']:.2f}"
                                     if r["ci_low"] is not None and r["ci_high"] is not None else ""),
                    "threshold": f"{r['threshold']:.{dp}f}" if r["threshold"] is not None else "",
                    "review": review})
    return pd.DataFrame(out)


def label_tree_table(detail: dict, outputs: list[dict]):
    """The CIHMLC parent -> child hierarchy as an indented, depth-first table (kept for callers that pass the
    detail and outputs apart): columns label, p, MC mean, sd, 95% interval, threshold, positive, uncertain,
    inconsistent (the violation text, '' when none)."""
    import pandas as pd

    rows = findings_rows({**detail, "outputs": outputs})
    return pd.DataFrame([{"label": "\u2003" * r["depth"] + ("└ " if r["depth"] else "") + r["label"], "p": r["p"],
                          "MC mean": r["mc_mean"], "sd": r["sd"],
                          "95% interval": (f"{r['ci_low']:.2f}-{r['ci_high']:.2f}" if r["ci_low"] is not None else ""),
                          "threshold": r["threshold"], "positive": r["positive"], "uncertain": r["uncertain"],
                          "inconsistent": r["violation"]} for r in rows])


# ---------------------------------------------------------------------------------------------------------------
# plotly figures
def mc_bands(rows: list[dict], title: str = "", threshold: float | None = 0.5, max_rows: int = 25) -> go.Figure:
    """Horizontal error bars: MC mean with the 95% interval per output; uncertain rows in orange. Each row's own
    decision threshold (``row['threshold']``, the label's operating point) is drawn as a grey tick; ``threshold``
    is used for rows without one (None: no tick)."""
    rows = sorted(rows, key=lambda r: -(_val(r) or 0))[:max_rows][::-1]
    names = [r["label"] for r in rows]
    mean = [_val(r) for r in rows]
    lo = [m - (r["ci_low"] if r.get("ci_low") is not None else m) for m, r in zip(mean, rows)]
    hi = [(r["ci_high"] if r.get("ci_high") is not None else m) - m for m, r in zip(mean, rows)]
    colours = ["#e67e22" if r.get("uncertain") else "#2c7fb8" for r in rows]
    fig = go.Figure(go.Scatter(x=mean, y=names, mode="markers", marker=dict(color=colours, size=9), name="MC mean",
                               error_x=dict(type="data", symmetric=False, array=hi, arrayminus=lo, thickness=1.5),
                               hovertemplate="%{y}: %{x:.3f}<extra></extra>"))
    thr = [(r.get("threshold") if r.get("threshold") is not None else threshold) for r in rows]
    if any(t is not None for t in thr):
        fig.add_trace(go.Scatter(x=[t for t in thr], y=names, mode="markers", name="decision threshold",
                                 marker=dict(symbol="line-ns-open", size=14, color="grey", line=dict(width=2)),
                                 hovertemplate="%{y}: threshold %{x:.2f}<extra></extra>"))
    fig.update_layout(title=title, xaxis=dict(range=[0, 1], title="probability (MC mean, 95% interval)"),
                      height=max(220, 24 * len(rows) + 100), margin=dict(l=10, r=10, t=40, b=40), showlegend=False)
    return fig


_SHRINK = 1 - 1e-6  # children of a "total" sunburst must not sum past their parent (rounding would hide it)


def hierarchy_tree(detail: dict, probs: dict, labels: dict) -> go.Figure:
    """HC-Net anatomy -> category -> disease as a sunburst: each ring's share is its probability within its parent;
    the predicted path in the hover."""
    ids, parents, vals, text = [], [], [], []
    pa = dict(zip(labels["anatomy"], probs["anatomy"]))
    pc = dict(zip(labels["category"], probs["category"]))
    pd_ = dict(zip(labels["disease"], probs["disease"]))
    for a, cats in detail["tree"].items():
        va = max(float(pa.get(a, 0)), 1e-3)
        ids.append(a), parents.append(""), vals.append(va), text.append(f"{a} {pa.get(a, 0):.2f}")
        csum = sum(max(float(pc.get(c, 0)), 1e-3) for c in cats) or 1.0
        for c, dis in cats.items():
            vc_ = va * _SHRINK * max(float(pc.get(c, 0)), 1e-3) / csum
            ids.append(f"{a}/{c}"), parents.append(a), vals.append(vc_), text.append(f"{c} {pc.get(c, 0):.2f}")
            dsum = sum(max(float(pd_.get(d, 0)), 1e-3) for d in dis) or 1.0
            for d in dis:
                ids.append(f"{a}/{c}/{d}"), parents.append(f"{a}/{c}")
                vals.append(vc_ * _SHRINK * max(float(pd_.get(d, 0)), 1e-3) / dsum), text.append(f"{d} {pd_.get(d, 0):.2f}")
    fig = go.Figure(go.Sunburst(ids=ids, labels=[i.rsplit("/", 1)[-1] for i in ids], parents=parents,
                                values=vals, text=text, textinfo="text", branchvalues="total",
                                hovertemplate="%{text}<extra></extra>", insidetextorientation="horizontal"))
    fig.update_layout(height=380, margin=dict(l=0, r=0, t=10, b=0))
    return fig


def nodule_marker(image: np.ndarray, reg: dict, max_side: int = 512) -> go.Figure:
    """The input image with the predicted nodule centre and size circle (Res-MTNet)."""
    img = to_display(image, max_side)
    s = img.shape[1] / max(1, np.asarray(image).shape[1])
    fig = go.Figure(go.Heatmap(z=(img * 255).astype(np.uint8), colorscale="gray", showscale=False, hoverinfo="skip"))
    x, y, r = reg["x_px"] * s, reg["y_px"] * s, reg["size_px"] * s / 2
    fig.add_shape(type="circle", x0=x - r, x1=x + r, y0=y - r, y1=y + r, line=dict(color="#e67e22", width=2))
    fig.add_trace(go.Scatter(x=[x], y=[y], mode="markers", marker=dict(symbol="cross-thin-open", size=12,
                                                                       color="#e67e22", line=dict(width=2)),
                             hoverinfo="skip", showlegend=False))
    fig.update_yaxes(autorange="reversed", scaleanchor="x", visible=False)
    fig.update_xaxes(visible=False)
    fig.update_layout(height=420, margin=dict(l=0, r=0, t=10, b=0))
    return fig
