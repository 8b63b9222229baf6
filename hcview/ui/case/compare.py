"""The Compare-models tab: several models on the same case, side by side, each with its out-of-distribution,
synthetic-training, untrained and uncertain flags and its findings."""
from __future__ import annotations

import streamlit as st

from hcview.text import escape_markdown as md
from hcview.ui.common import show_error

from . import compute
from . import state as S
from .findings import key_findings

BADGES = (("ood", "out of distribution", "red"), ("untrained", "untrained", "red"),
          ("synthetic_model", "synthetic training", "violet"), ("modality_mismatch", "modality mismatch", "red"),
          ("uncertain", "uncertain", "orange"), ("inconsistent", "hierarchy violation", "orange"))


def render_compare(item: dict, choices: dict[str, str], model_id: str, mc: int, record_for) -> None:
    """``choices``: label -> model id; ``record_for(pred)``: the clinical record the model takes for this case."""
    ids = list(choices.values())
    names = {v: k for k, v in choices.items()}
    S.keep("case_compare", [model_id])
    if not all(m in ids for m in st.session_state.get("case_compare", [])):
        st.session_state["case_compare"] = [m for m in st.session_state["case_compare"] if m in ids] or [model_id]
    picked = st.multiselect("Models to compare on this case", ids, format_func=names.get, key="case_compare",
                            max_selections=4, help="Each runs once per case and model version; results are cached.")
    S.remember("case_compare")
    if not picked:
        st.info("Pick one or more models.")
        return
    cols = st.columns(len(picked), gap="medium")
    for col, mid in zip(cols, picked):
        with col:
            try:
                pred = compute.predictor(mid)
                rec = record_for(pred)
                res = compute.result(item, pred, mc, rec)
            except Exception as e:  # a bad checkpoint or file: one line in this column only
                show_error(e)
                continue
            j = res.to_json()
            S.set_status(item["id"], mid, S.status_of_result(j), S.top_finding(j))
            st.markdown(f"##### {md(pred.spec.name)}")
            st.caption(f"{md(pred.spec.modality)} · version {res.version or '–'} · "
                       f"{(res.sha256 or 'untrained')[:12]}")
            flags = j["flags"]
            raised = [(t, c) for f, t, c in BADGES if flags.get(f)] or [("no flags", "green")]
            st.markdown(" ".join(f":{c}-badge[{t}]" for t, c in raised))
            if flags.get("ood"):
                st.caption(f"OOD score {j['ood_score']:.0f} > threshold {j['ood_threshold']:.0f}: outputs not "
                           "meaningful for this image.")
            st.markdown("\n".join(f"- {line}" for line in key_findings(j, res)))
            if item.get("truth"):
                st.caption(f"Ground truth: {md(item['truth'])}")

