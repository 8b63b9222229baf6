"""CIHMLC's Case-review panel: the full 21-label parent -> child tree at full width, each label with its own
operating threshold and call, MC bands, and every hierarchy violation (a child positive while its parent is
negative, each at its own threshold) listed first."""
from __future__ import annotations

import streamlit as st

from hcview.text import escape_markdown as md

from . import findings_table


def render(ctx) -> None:
    j = ctx.summary
    bad = j.get("inconsistencies") or []
    pos = [o["label"] for o in j["outputs"] if o.get("positive")]
    st.markdown("**Positive at their operating points:** " + (", ".join(md(x) for x in pos) if pos else "none"))
    if bad:
        st.warning(f"{len(bad)} hierarchy violation{'s' if len(bad) != 1 else ''} (child positive, parent negative):  \n"
                   + "  \n".join("• " + md(b) for b in bad), icon=":material/account_tree:")
    findings_table(j, key=ctx.key)
    st.caption("Parent → child tree (a child with two parents is listed under each). Calls use the MC mean when MC "
               "dropout ran, against the label's own operating threshold.")
