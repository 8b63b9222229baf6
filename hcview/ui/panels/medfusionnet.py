"""MedFusionNet's Case-review panel: which inputs (image, record, text) the prediction used."""
from __future__ import annotations

import streamlit as st


def render(ctx) -> None:
    j = ctx.summary
    st.caption("Inputs used: " + ", ".join(j["modalities"]))
    feats = j.get("record_features")
    if feats:
        st.caption("Record features present: " + ", ".join(f for f, ok in feats.items() if ok)
                   + ("; missing (masked): " + ", ".join(f for f, ok in feats.items() if not ok)
                      if not all(feats.values()) else ""))
