"""Res-MTNet's Case-review panel: each head's answer, and the predicted nodule centre and size on the image only
when a nodule is predicted."""
from __future__ import annotations

import streamlit as st

from hcview.text import escape_markdown as md
from hcview.viz import case as vc

from . import findings_table


def render(ctx) -> None:
    j = ctx.summary
    r = j["regression"]
    pred = j.get("prediction", {})
    st.markdown(" · ".join(f"**{md(k)}:** {md(v)}" for k, v in pred.items()))
    left, right = st.columns([2, 3])
    with left:
        if not r.get("nodule_predicted"):
            st.markdown(f"**No nodule predicted** (state: {md(pred.get('state'))}): no marker is drawn.")
        else:
            spacing = "pixel spacing from the file" if r.get("spacing_source") == "image" else \
                "pixel spacing assumed: the file gives none"
            st.markdown(f"**Nodule** at x {r['x_px']:.0f}, y {r['y_px']:.0f} px; size {r['size_mm']:.1f} mm "
                        f"({r['size_px']:.0f} px, {spacing}).")
            st.plotly_chart(vc.nodule_marker(ctx.image, r), width="stretch", key=f"{ctx.key}_marker",
                            config={"displayModeBar": False})
    with right:
        findings_table(j, key=ctx.key, compact=True)
