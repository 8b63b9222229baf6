"""HC-Net's Case-review panel: the predicted path anatomy -> category -> disease, the taxonomy sunburst and the
same tree as an indented table with probability bars."""
from __future__ import annotations

import streamlit as st

from hcview.text import escape_markdown as md
from hcview.viz import case as vc

from . import findings_table


def render(ctx) -> None:
    j = ctx.summary
    p = j["prediction"]
    agree = "the three heads agree with the taxonomy" if j["heads_agree"] else \
        "the heads DISAGREE with the taxonomy: the disease is not under the predicted category"
    st.markdown(f"**{md(p['anatomy'])} → {md(p['category'])} → {md(p['disease'])}** ({agree})")
    left, right = st.columns([2, 3])
    with left:
        st.plotly_chart(vc.hierarchy_tree(j, {k: v.tolist() for k, v in ctx.result.probs.items()},
                                          {h.name: list(h.labels) for h in ctx.predictor.label_space.heads}),
                        width="stretch", key=f"{ctx.key}_sunburst", config={"displayModeBar": False})
        st.caption("Each ring's share is the probability within its parent; hover for values.")
    with right:
        findings_table(j, max_children=8, key=ctx.key, compact=True)
