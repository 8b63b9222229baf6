"""Res-MTNet's Case-review panel: the predicted nodule centre and size on the image."""
from __future__ import annotations

import streamlit as st

from hcview.viz import case as vc


def render(ctx) -> None:
    r = ctx.summary["regression"]
    if not r.get("nodule_predicted"):
        st.markdown(f"**No nodule predicted** (state: {ctx.summary['prediction'].get('state')}): no marker is drawn.")
        return
    st.markdown(f"Nodule: x {r['x_px']:.0f}px, y {r['y_px']:.0f}px, size {r['size_mm']:.1f} mm "
                f"({r['size_px']:.0f}px; spacing from {r['spacing_source']})")
    st.plotly_chart(vc.nodule_marker(ctx.image, r), width="stretch")
