"""Per-paper Case-review panels. Each paper's spec names its panel as ``"module:function"``; the page calls
:func:`render_panel`, which imports it here, so the library itself stays free of streamlit and pages hold no
per-paper branches. A panel is ``render(ctx)`` with ``ctx`` a :class:`PanelContext`."""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

import streamlit as st


@dataclass
class PanelContext:
    result: Any          # hcview.infer.results.CaseResult
    summary: dict        # result.to_json()
    image: Any           # the displayed image (H, W) in [0, 1]
    predictor: Any       # hcview.infer.predictor.Predictor


def render_panel(spec, ctx: PanelContext) -> None:
    if not spec.panel:
        st.caption("No result panel for this model: see the per-output bands below.")
        return
    module, func = spec.panel.split(":")
    getattr(importlib.import_module(module), func)(ctx)
