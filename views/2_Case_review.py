"""Case review: a worklist of scans through the chosen model: findings in the model's own structure, MC-dropout
bands, Grad-CAM and LRP side by side, other models on the same case, reader feedback and a report."""
import time

import streamlit as st

from hcview.text import escape_markdown as md
from hcview.ui.case import compute, state as S
from hcview.ui.case.compare import render_compare
from hcview.ui.case.display import window_controls
from hcview.ui.case.explain_view import render_explanations
from hcview.ui.case.feedback_view import render_feedback
from hcview.ui.case.findings import burned_in_warning, render_findings, render_flags
from hcview.ui.case.worklist import add_controls, record_for, render_worklist
from hcview.ui.common import cached_catalog, show_error

t0 = time.perf_counter()
st.title("Case review")
st.caption("Research software: not for clinical diagnosis.")

rows = [r for r in cached_catalog() if r["variant"] == "demo"]
S.keep("case_untrained", not any(r["trained"] for r in rows))
show_untrained = st.sidebar.checkbox("Show untrained models", key="case_untrained")
choices = {f"{r['name']}{'' if r['trained'] else ' (UNTRAINED)'}": r["id"]
           for r in rows if r["trained"] or show_untrained}
if not choices:
    st.warning("No trained models yet. Train the demo models (Overview page) or tick 'Show untrained models'.")
    st.stop()
labels = {v: k for k, v in choices.items()}

# ---- navigation: case, model, MC passes, window --------------------------------------------------------------------
items = S.worklist()
cur = S.current()
if cur is not None:
    st.session_state["case_pick"] = cur["id"]
S.keep("case_model", next(iter(choices.values())))
if st.session_state.get("case_model") not in labels:
    st.session_state["case_model"] = next(iter(choices.values()))
S.keep("case_mc", 10)
nav = st.columns([0.5, 4, 0.5, 2.4, 1.2, 1.6], vertical_alignment="bottom")
nav[0].button("", icon=":material/chevron_left:", key="case_prev", on_click=S.step, args=(-1,),
              disabled=len(items) < 2, help="previous case")
nav[1].selectbox(f"Case ({len(items)} in the worklist)", [it["id"] for it in items], key="case_pick",
                 format_func=lambda i: f"{S.index_of(i) + 1}. {items[S.index_of(i)]['name']}",
                 on_change=lambda: S.select(st.session_state["case_pick"]), disabled=not items,
                 placeholder="Add scans in the Worklist tab")
nav[2].button("", icon=":material/chevron_right:", key="case_next", on_click=S.step, args=(1,),
              disabled=len(items) < 2, help="next case")
model_id = nav[3].selectbox("Model", list(labels), format_func=labels.get, key="case_model")
mc = nav[4].number_input("MC passes", 0, 30, step=5, key="case_mc", help="MC-dropout passes (0 = off)")
window = window_controls(nav[5], cur)
S.remember("case_model", "case_mc", "case_untrained")

try:
    pred = compute.predictor(model_id)
except Exception as e:  # a tampered or unreadable checkpoint: one line, no traceback
    show_error(e)
    st.stop()

TABS = ["Worklist", "Findings", "Explanations", "Compare models", "Feedback & report"]
st.session_state.setdefault("case_tab", "Findings" if items else "Worklist")
top = st.container()  # flags and progress bars, above the tabs
tabs = dict(zip(TABS, st.tabs(TABS, key="case_tab", on_change="rerun")))

res = disp = summary = None
record, record_info = None, {}
if cur is not None and not tabs["Worklist"].open:
    with top:
        if cur["error"]:
            st.error(f"{md(cur['name'])} cannot be read: {md(cur['error'], limit=300)}", icon=":material/block:")
        else:
            try:
                record, record_info = record_for(cur, pred.spec.inputs)
                disp = compute.displayed(cur, window)
                res = compute.result(cur, pred, mc, record)
            except Exception as e:  # never a traceback for the user
                show_error(e)
                res = None
        if res is not None:
            summary = res.to_json()
            S.set_status(cur["id"], model_id, S.status_of_result(summary), S.top_finding(summary))
            burned_in_warning(disp)
            render_flags(summary, res)

with tabs["Worklist"]:
    if tabs["Worklist"].open:
        render_worklist(model_id, labels[model_id], mc, pred.spec.inputs)
if cur is None and not tabs["Worklist"].open:
    with top:
        add_controls()
        st.info("Add scans (several at once) or a bundled sample to start a worklist.")
elif res is not None:
    with tabs["Findings"]:
        if tabs["Findings"].open:
            render_findings(cur, disp, pred, res, summary, record_info, window)
    with tabs["Explanations"]:
        if tabs["Explanations"].open:
            try:
                render_explanations(cur, disp, pred, res, record, window)
            except Exception as e:
                show_error(e)
    with tabs["Compare models"]:
        if tabs["Compare models"].open:
            render_compare(cur, choices, model_id, mc, lambda p: record_for(cur, p.spec.inputs)[0])
    with tabs["Feedback & report"]:
        if tabs["Feedback & report"].open:
            render_feedback(cur, pred, res, summary, disp, record)

# server time of this run, for measuring (a hidden element: numbers only)
run = st.session_state["case_runs"] = st.session_state.get("case_runs", 0) + 1
ms = (time.perf_counter() - t0) * 1000
st.markdown(f"<span class='hc-timing' data-run='{run}' data-ms='{ms:.1f}' style='display:none'></span>",
            unsafe_allow_html=True)
