"""Window / level for DICOM cases: display only (``hcview.data.io.rewindow`` re-renders from the cached modality-LUT
values; the model input never changes). CT gets the Hounsfield presets; every DICOM gets level and width sliders
over its own value range, starting from the header window."""
from __future__ import annotations

import re

import numpy as np
import streamlit as st

from . import compute
from . import state as S

RANGES = compute.LRU(32)
KEYS = ("case_wl", "case_wc", "case_ww")


def value_range(item: dict, loaded) -> tuple[float, float, float, float]:
    """(low, high, header centre, header width) of the image's modality-LUT values (0.1-99.9 percentiles)."""
    hit = RANGES.get(item["id"])
    if hit is None:
        raw = np.asarray(loaded.raw if loaded.raw is not None else loaded.array, dtype=np.float32)
        lo, hi = (float(x) for x in np.percentile(raw[:: max(1, raw.shape[0] // 256), :: max(1, raw.shape[1] // 256)],
                                                  [0.1, 99.9]))
        if hi <= lo:
            hi = lo + 1.0
        m = re.search(r"C=([-\d.e+]+), W=([-\d.e+]+)", str(loaded.meta.get("model_window") or ""))
        c, w = (float(m.group(1)), float(m.group(2))) if m else ((lo + hi) / 2, hi - lo)
        hit = RANGES.put(item["id"], (lo, hi, c, w))
    return hit


def window_controls(container, item: dict | None) -> str | None:
    """The W / L popover in ``container``; returns the window for ``compute.displayed`` (None: the header's)."""
    loaded = None
    if item is not None and not item.get("error") and item.get("kind") == "dicom":
        try:
            loaded = compute.loaded(item)
        except Exception:  # the page shows the error once, with the case
            loaded = None
    ss = st.session_state
    S.keep("case_wl", "header")
    with container.popover("W / L", icon=":material/contrast:", width="stretch", disabled=loaded is None,
                           help="DICOM window / level: changes the display only"):
        if loaded is None:
            return None
        ct = str(loaded.meta.get("modality") or "").upper() == "CT"
        presets = ["header"] + (["lung", "mediastinum", "bone", "brain"] if ct else []) + ["custom"]
        if ss.get("case_wl") not in presets:
            ss["case_wl"] = "header"
        st.selectbox("Window", presets, key="case_wl",
                     help="Hounsfield presets for CT; 'custom' sets level and width over this image's values")
        lo, hi, c0, w0 = value_range(item, loaded)
        span = hi - lo
        step = float(10 ** np.floor(np.log10(max(span, 1e-6) / 200)))
        for key, default, a, b in (("case_wc", c0, lo, hi), ("case_ww", w0, step, 2 * span)):
            v = ss.get(key, ss.get(f"_keep_{key}", default))
            ss[key] = float(min(max(v if isinstance(v, (int, float)) else default, a), b))
        if ss.get("_case_wl_item") != item["id"]:  # a new image starts from its own header window
            ss["case_wc"], ss["case_ww"] = float(min(max(c0, lo), hi)), float(min(max(w0, step), 2 * span))
            ss["_case_wl_item"] = item["id"]
        custom = ss["case_wl"] == "custom"
        st.slider("Level (centre)", float(lo), float(hi), step=step, key="case_wc", disabled=not custom)
        st.slider("Width", float(step), float(2 * span), step=step, key="case_ww", disabled=not custom)
        st.caption("Changes what you see only: the model always reads the header window.")
    S.remember(*KEYS)
    return compute.window_spec(ss["case_wl"], ss["case_wc"], ss["case_ww"])
