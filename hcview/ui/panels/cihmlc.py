"""CIHMLC's Case-review panel: the full parent -> child tree with probabilities, MC bands and violations."""
from __future__ import annotations

import streamlit as st

from hcview.viz import case as vc


def render(ctx) -> None:
    j = ctx.summary
    st.markdown("**Parent → child tree**")
    st.dataframe(vc.label_tree_table(j, j["outputs"]), hide_index=True, width="stretch", height=420,
                 column_config={"p": st.column_config.ProgressColumn("p", min_value=0.0, max_value=1.0, format="%.2f"),
                                "MC mean": st.column_config.NumberColumn(format="%.2f"),
                                "sd": st.column_config.NumberColumn(format="%.2f")})
    st.plotly_chart(vc.edge_tree(j), width="stretch")
    st.caption("Each dot is a parent → child edge; the shaded corner is where the child is positive while its "
               "parent is negative (a hierarchy violation).")
