"""Per-paper Case-review panels. Each paper's spec names its panel as ``"module:function"``; the page calls
:func:`render_panel`, which imports it here, so the library itself stays free of streamlit and pages hold no
per-paper branches. A panel is ``render(ctx)`` with ``ctx`` a :class:`PanelContext`; it draws the model's result in
its own structure at the full width of the page. :func:`findings_table` is the shared indented tree."""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any

import streamlit as st


@dataclass
class PanelContext:
    result: Any          # hcview.infer.results.CaseResult
    summary: dict        # result.to_json()
    image: Any           # the displayed image (H, W) in [0, 1]
    predictor: Any       # hcview.infer.predictor.Predictor
    record_info: dict = field(default_factory=dict)  # clinical record used: source, columns found / missing
    key: str = "panel"   # prefix for widget / element keys


def render_panel(spec, ctx: PanelContext) -> None:
    if not spec.panel:
        findings_table(ctx.summary, key=ctx.key)
        return
    module, func = spec.panel.split(":")
    getattr(importlib.import_module(module), func)(ctx)


def findings_table(summary: dict, max_children: int | None = None, height: int | str | None = None,
                   key: str = "findings", compact: bool = False) -> None:
    """The findings as an indented tree with probability bars (``hcview.viz.case.findings_table``); ``compact``
    (for a half-width column) leaves out the interval and threshold columns."""
    from hcview.viz import case as vc

    df = vc.findings_table(summary, max_children)
    cfg = {"finding": st.column_config.TextColumn("finding", width=230),
           "call": st.column_config.TextColumn("call", width=75,
                                               help="sigmoid outputs: positive when the MC mean (else p) reaches the "
                                                    "label's operating threshold; softmax: the predicted class"),
           "p": st.column_config.ProgressColumn("p", min_value=0.0, max_value=1.0, format="%.2f", width=95),
           "MC mean ± sd": st.column_config.TextColumn("MC mean ± sd", width=110),
           "95% interval": st.column_config.TextColumn("95% interval", width=100),
           "threshold": st.column_config.TextColumn("threshold", width=80,
                                                    help="the label's operating point, chosen on validation data; "
                                                         "shown with as many decimals as it takes to tell it from "
                                                         "the MC mean"),
           "review": st.column_config.TextColumn("review", width="large")}
    if compact:
        df = df.drop(columns=["95% interval", "threshold"])
        cfg["finding"] = st.column_config.TextColumn("finding", width=190)
    if (df["review"] == "").all():
        df = df.drop(columns=["review"])
    if "threshold" in df and (df["threshold"] == "").all():
        df = df.drop(columns=["threshold"])
    if not (df["MC mean ± sd"] != "").any():
        df = df.drop(columns=[c for c in ("MC mean ± sd", "95% interval") if c in df])
    st.dataframe(df, hide_index=True, width="stretch", column_config=cfg, key=f"{key}_findings",
                 height=height or min(36 + 35 * len(df), 36 + 35 * 30))
