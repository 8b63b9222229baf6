"""Failure-mode views: thumbnails and their captions (no streamlit here)."""
from __future__ import annotations

import numpy as np


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
