"""Failure-mode views: thumbnails and their captions, a thumbnail-grid figure (no streamlit here)."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots


def downsample(a, size: int = 160) -> np.ndarray:
    """Grey image -> float32 [0, 1] with its longer side at most ``size`` (block-mean / nearest)."""
    a = np.asarray(a, dtype=np.float32)
    if a.ndim == 3:
        a = a[..., :3].mean(-1) if a.shape[-1] in (3, 4) else a[0]
    h, w = a.shape
    step = max(1, int(np.ceil(max(h, w) / float(size))))
    if step > 1:
        hh, ww = (h // step) * step, (w // step) * step
        a = a[:hh, :ww].reshape(hh // step, step, ww // step, step).mean(axis=(1, 3))
    lo, hi = float(np.nanmin(a)) if a.size else 0.0, float(np.nanmax(a)) if a.size else 1.0
    if lo < 0.0 or hi > 1.0:
        a = (a - lo) / (hi - lo) if hi > lo else np.zeros_like(a)
    return np.clip(np.nan_to_num(a), 0.0, 1.0).astype(np.float32)


def case_caption(true: str, pred: str, prob: float | None, synthetic: bool = False, extra: str = "") -> str:
    """'true glioma → pred meningioma (p 0.93)' ('✓ glioma (p 0.41)' when right), plus ' · synthetic'."""
    p = "" if prob is None or not np.isfinite(prob) else f" (p {prob:.2f})"
    s = f"✓ {true}{p}" if str(true) == str(pred) else f"true {true} → pred {pred}{p}"
    if extra:
        s += f" · {extra}"
    if synthetic:
        s += " · synthetic"
    return s


def thumbnail_grid(images: Sequence, captions: Sequence[str], ncols: int = 5, size: int = 160) -> go.Figure:
    """Grey thumbnails in a grid of subplots titled with ``captions`` (None -> blank tile)."""
    n = max(1, len(images))
    ncols = max(1, min(ncols, n))
    nrows = int(np.ceil(n / ncols))
    titles = [str(c) for c in captions] + [""] * (nrows * ncols - len(captions))
    fig = make_subplots(rows=nrows, cols=ncols, subplot_titles=titles, horizontal_spacing=0.02,
                        vertical_spacing=0.08 if nrows > 1 else 0.0)
    for k, img in enumerate(images):
        r, c = divmod(k, ncols)
        if img is None:
            continue
        a = downsample(img, size)
        fig.add_trace(go.Heatmap(z=a, colorscale="gray", showscale=False, zmin=0, zmax=1, hoverinfo="skip"),
                      row=r + 1, col=c + 1)
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False, autorange="reversed", scaleanchor=None)
    fig.update_annotations(font_size=10)
    fig.update_layout(height=int(nrows * (size + 50)), margin={"l": 5, "r": 5, "t": 40, "b": 5})
    return fig
