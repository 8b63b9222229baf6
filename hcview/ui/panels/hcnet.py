"""HC-Net's Case-review panel: the predicted path anatomy -> category -> disease and the taxonomy sunburst."""
from __future__ import annotations

import streamlit as st

from hcview.viz import case as vc


def render(ctx) -> None:
    j = ctx.summary
    p = j["prediction"]
    st.markdown(f"**{p['anatomy']} → {p['category']} → {p['disease']}**  "
                f"({'heads agree' if j['heads_agree'] else 'heads DISAGREE with the taxonomy'})")
    st.plotly_chart(vc.hierarchy_tree(j, {k: v.tolist() for k, v in ctx.result.probs.items()},
                                      {h.name: h.labels for h in ctx.predictor.label_space.heads}), width="stretch")
