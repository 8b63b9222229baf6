"""Inference and explanations for the Case review page, cached process-wide by (case hash, model sha256,
settings), so a rerun for a display change (window, colour map, threshold, alpha) or a return to a case never
runs a model again. The first computation of a key shows a progress bar (MC dropout, Grad-CAM, LRP).

- decoded images: by (case, frame); display windows by (case, window), from the cached values (``rewindow``);
- predictions: by (case, model id, variant, model sha256, MC passes, record);
- Grad-CAM of every output at once (one backbone pass): by (case, model, sha256, record);
- LRP: by (case, model, sha256, record, output).

The caches hold results shared between sessions; nothing here mutates them.
"""
from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict

import streamlit as st

VARIANT = "demo"


class LRU:
    """A small thread-safe least-recently-used cache."""

    def __init__(self, size: int):
        self.size, self.data, self.lock = size, OrderedDict(), threading.Lock()

    def get(self, key):
        with self.lock:
            if key in self.data:
                self.data.move_to_end(key)
                return self.data[key]
        return None

    def put(self, key, value):
        with self.lock:
            self.data[key] = value
            self.data.move_to_end(key)
            while len(self.data) > self.size:
                self.data.popitem(last=False)
        return value


IMAGES, WINDOWS, RESULTS, CAMS, LRPS = LRU(24), LRU(24), LRU(128), LRU(128), LRU(256)


def record_key(record: dict | None) -> str:
    if not record:
        return ""
    return hashlib.sha256(json.dumps(record, sort_keys=True, default=str).encode()).hexdigest()[:16]


def predictor(model_id: str):
    from hcview.ui.loaders import predictor as shared

    return shared(model_id, VARIANT)


def model_key(pred) -> tuple:
    return (pred.model_id, pred.variant, (pred.card or {}).get("sha256") or "untrained")


# ---- images --------------------------------------------------------------------------------------------------------
def loaded(item: dict):
    """The item's decoded image (header window; the model input never depends on the display window)."""
    from hcview.data.io import load_image

    key = (item["id"], item["frame"])
    hit = IMAGES.get(key)
    if hit is None:
        hit = IMAGES.put(key, load_image(item["src"], name=item["file_name"], frame=item["frame"]))
    return hit


def window_spec(preset: str, center: float | None = None, width: float | None = None) -> str | None:
    if preset == "custom" and center is not None and width:
        return f"{center:g},{width:g}"
    return None if preset in (None, "", "header", "custom") else preset


def displayed(item: dict, window: str | None):
    """The image as displayed through ``window`` (None: the header window): a LoadedImage whose ``array`` is the
    display grey and whose model input is unchanged."""
    from hcview.data.io import rewindow

    base = loaded(item)
    if base.kind != "dicom" or not window:
        return base
    key = (item["id"], item["frame"], window)
    hit = WINDOWS.get(key)
    if hit is None:
        hit = WINDOWS.put(key, rewindow(base, window))
    return hit


# ---- predictions -------------------------------------------------------------------------------------------------
def cached_result(item: dict, pred, mc: int, record: dict | None):
    return RESULTS.get((item["id"], *model_key(pred), int(mc), record_key(record)))


def result(item: dict, pred, mc: int, record: dict | None, progress=True):
    """The prediction for the item (MC dropout ``mc`` passes), computed once per key."""
    key = (item["id"], *model_key(pred), int(mc), record_key(record))
    hit = RESULTS.get(key)
    if hit is not None:
        return hit
    bar = st.progress(0.1, text=f"Running {pred.spec.name}" + (f" with {mc} MC-dropout passes…" if mc else "…")) \
        if progress else None
    try:
        res = pred.predict(loaded(item), record=record, mc=int(mc))
    finally:
        if bar is not None:
            bar.empty()
    return RESULTS.put(key, res)


# ---- explanations --------------------------------------------------------------------------------------------------
def gradcams(item: dict, pred, res, record: dict | None, progress=False) -> dict:
    """Grad-CAM of every classification output, (head, index) -> map dict, from ONE backbone pass."""
    key = (item["id"], *model_key(pred), record_key(record))
    hit = CAMS.get(key)
    if hit is None:
        bar = st.progress(0.1, text="Grad-CAM for every output (one backbone pass)…") if progress else None
        try:
            maps = pred.explain(res, ("gradcam",), "ranked")
        finally:
            if bar is not None:
                bar.empty()
        hit = CAMS.put(key, {(m["head"], m["index"]): m for m in maps})
    return hit


def cached_lrp(item: dict, pred, record: dict | None, target: tuple[str, int]):
    return LRPS.get((item["id"], *model_key(pred), record_key(record), tuple(target)))


def lrp(item: dict, pred, res, record: dict | None, target: tuple[str, int], progress=True) -> dict:
    """LRP for one output (head, index), computed once per key (seconds on a CPU: a progress bar says so)."""
    key = (item["id"], *model_key(pred), record_key(record), tuple(target))
    hit = LRPS.get(key)
    if hit is not None:
        return hit
    label = pred.label_space.head(target[0]).labels[target[1]]
    bar = st.progress(0.2, text=f"LRP for {label} (relevance through every layer, a few seconds on a CPU)…") \
        if progress else None
    try:
        m = pred.explain(res, ("lrp",), [tuple(target)])[0]
    finally:
        if bar is not None:
            bar.empty()
    return LRPS.put(key, m)


def lrp_uncached(pred, res, target) -> dict:
    """For work off the page's thread (report downloads): no progress bar, same cache."""
    return pred.explain(res, ("lrp",), [tuple(target)])[0]


VIEWS = LRU(64)


def view(item: dict, disp, window: str | None, max_side: int) -> "np.ndarray":  # noqa: F821
    """The displayed grey image downsampled to ``max_side`` (uint8), cached: what the page sends to the browser."""
    import numpy as np

    from hcview.viz.case import to_display

    key = (item["id"], item["frame"], window, max_side)
    hit = VIEWS.get(key)
    if hit is None:
        hit = VIEWS.put(key, (to_display(disp.array, max_side) * 255).round().astype(np.uint8))
    return hit
