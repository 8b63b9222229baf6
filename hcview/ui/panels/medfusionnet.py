"""MedFusionNet's Case-review panel: which inputs (image, clinical record, report text) the prediction used, where
the record came from, and the 14 findings."""
from __future__ import annotations

import streamlit as st

from hcview.text import escape_markdown as md

from . import findings_table


def render(ctx) -> None:
    j = ctx.summary
    info = ctx.record_info or {}
    used = j.get("modalities") or ["image"]
    st.markdown("**Inputs used:** " + ", ".join(md(u) for u in used))
    if info.get("source"):
        st.caption(f"Record: {md(info['source'])}")
    feats = j.get("record_features")
    if feats:
        missing = [f for f, ok in feats.items() if not ok]
        st.caption("Record features present: " + (", ".join(md(f) for f, ok in feats.items() if ok) or "none")
                   + ("; missing, masked (not guessed): " + ", ".join(md(f) for f in missing) if missing else ""))
    elif "record" not in used:
        st.caption("No clinical record for this case: the image alone was used (missing inputs are masked).")
    pos = [o["label"] for o in j["outputs"] if o.get("positive")]
    st.markdown("**Positive at their operating points:** " + (", ".join(md(x) for x in pos) if pos else "none"))
    findings_table(j, key=ctx.key)
