"""CIHMLC-style heat-map panels (as the authors' reference code draws them): maps arrive in [0, 1] (each
method divides by its maximum: see ``hcview.explain.all_labels``), everything <= ``threshold`` (default 0.5) is
zeroed, colormap ``hot_r`` segmented into 5 bins with its colour bar, overlay at ``alpha`` (default 0.7), title
"label: MC mean +- sd".

Pure numpy / matplotlib (Agg, object API: no pyplot state, safe from several threads).
"""
from __future__ import annotations

import io

import numpy as np

DEFAULT_THRESHOLD = 0.5
DEFAULT_ALPHA = 0.7
CMAP = "hot_r"
BINS = 5


def normalise(cam: np.ndarray, threshold: float = DEFAULT_THRESHOLD) -> np.ndarray:
    """A map in [0, 1] (already divided by its max) -> clipped to [0, 1], values <= threshold set to 0. No
    min-max and no second division: the clip acts on the method's own max-normalised values."""
    c = np.clip(np.asarray(cam, dtype=np.float32), 0, 1)
    c[c <= threshold] = 0.0
    return c


def _cmap():
    import matplotlib

    return matplotlib.colormaps[CMAP].resampled(BINS)


def _resize(a: np.ndarray, shape) -> np.ndarray:
    if a.shape == tuple(shape):
        return a
    import cv2

    return cv2.resize(a.astype(np.float32), (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR)


def overlay_rgb(image: np.ndarray, cam: np.ndarray, threshold: float = DEFAULT_THRESHOLD,
                alpha: float = DEFAULT_ALPHA) -> np.ndarray:
    """Grey image (H, W) in [0, 1] + map -> uint8 RGB (H, W, 3). Zeroed (<= threshold) pixels show the image."""
    img = np.clip(np.asarray(image, dtype=np.float32), 0, 1)
    if img.ndim == 3:
        img = img.mean(-1)
    c = normalise(_resize(np.asarray(cam, dtype=np.float32), img.shape), threshold)
    base = np.repeat(img[..., None], 3, -1)
    colour = _cmap()(c)[..., :3].astype(np.float32)
    a = np.where(c > 0, float(alpha), 0.0)[..., None]
    out = base * (1 - a) + colour * a
    return (np.clip(out, 0, 1) * 255).round().astype(np.uint8)


def panel_title(label: str, p: float | None = None, sd: float | None = None) -> str:
    if p is None:
        return label
    return f"{label}: {p:.2f} ± {sd:.2f}" if sd is not None else f"{label}: {p:.2f}"


def render_panel(image: np.ndarray, cam: np.ndarray, title: str, threshold: float = DEFAULT_THRESHOLD,
                 alpha: float = DEFAULT_ALPHA, note: str | None = None, dpi: int = 100) -> bytes:
    """One panel (overlay + 5-bin ``hot_r`` colour bar + title) as PNG bytes."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import BoundaryNorm
    from matplotlib.figure import Figure

    rgb = overlay_rgb(image, cam, threshold, alpha)
    fig = Figure(figsize=(4.2, 3.6), dpi=dpi)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(111)
    ax.imshow(rgb)
    ax.set_axis_off()
    ax.set_title(title, fontsize=10)
    if note:
        ax.text(0.01, 0.01, note, transform=ax.transAxes, fontsize=7, color="white",
                bbox=dict(facecolor="black", alpha=0.5, pad=1, linewidth=0))
    bounds = np.linspace(0, 1, BINS + 1)
    sm = ScalarMappable(norm=BoundaryNorm(bounds, BINS), cmap=_cmap())
    cb = fig.colorbar(sm, ax=ax, fraction=0.046, pad=0.04, ticks=bounds)
    cb.ax.tick_params(labelsize=7)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    return buf.getvalue()


def png_to_rgb(data: bytes) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
