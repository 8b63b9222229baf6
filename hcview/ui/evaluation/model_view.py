"""One stored evaluation, head by head: the run's facts, the summary row, then the head's view."""
from __future__ import annotations

import streamlit as st

from hcview.ui.evaluation.heads import fmt, render_metric_row, summary_items
from hcview.ui.evaluation.sigmoid_view import render_sigmoid
from hcview.ui.evaluation.softmax_view import render_softmax
from hcview.ui.evaluation.stored import HEAD_KIND_TEXT, cached_bootstrap, cached_head_arrays
from hcview.viz.tables import regression_tables


def head_order(report: dict, label_space) -> list[str]:
    names = [h.name for h in label_space.heads if h.name in report["heads"]]
    return names + [h for h in report["heads"] if h not in names]


def render_run_facts(meta: dict, label_space, model_id: str, variant: str, data_spec: str, split: str) -> None:
    top = st.columns(4)
    top[0].metric("Cases", f"{meta.get('n_cases', '–')}")
    top[1].metric("Label space", str(meta.get("label_space", label_space.name)))
    cons = meta.get("consistency")
    if cons:
        top[2].metric("Hierarchy consistency", fmt(cons.get("rate")),
                      help="fraction of cases whose predictions agree with the taxonomy / parent-child edges")
    top[3].metric("Checkpoint", "untrained" if meta.get("untrained") else (f"version {meta.get('version') or 1}"
                                                                              if meta.get("checkpoint") else "–"),
                  help=meta.get("checkpoint") or None)
    bits = [f"{meta.get('model', model_id)}/{meta.get('variant', variant)} on {meta.get('data', data_spec)} "
            f"({meta.get('split', split)} split)"]
    if meta.get("evaluated_at"):
        bits.append(f"evaluated {meta['evaluated_at']}")
    if meta.get("seconds") is not None:
        bits.append(f"in {meta['seconds']} s")
    if meta.get("synthetic"):
        bits.append("synthetic images")
    st.caption(" · ".join(bits))
    if meta.get("untrained"):
        st.warning("This evaluation scored an UNTRAINED random model: the numbers below are chance level.",
                   icon="⚠️")


def render_evaluation(stored: dict, out_dir: str, sig: tuple, model_id: str, variant: str, data_spec: str,
                      split: str, label_space) -> None:
    from hcview.ui.common import show_error

    meta = stored["metrics"]
    heads = head_order(meta, label_space)
    if not heads:
        st.info("The stored evaluation has no heads to show.")
        return
    ctx = {"model_id": model_id, "variant": variant, "data_spec": data_spec, "split": split,
           "preds": stored["predictions"], "synthetic": bool(meta.get("synthetic"))}
    from hcview.ui.evaluation.stored import active_operating_points

    ctx["operating_points"] = active_operating_points(model_id, variant)
    render_run_facts(meta, label_space, model_id, variant, data_spec, split)
    default = "disease" if "disease" in heads else heads[0]
    head_name = st.radio("Head", heads, index=heads.index(default), horizontal=True, key="ev_head",
                         format_func=lambda h: f"{h} ({HEAD_KIND_TEXT.get(meta['heads'][h].get('kind'), '')})")
    head = meta["heads"][head_name]
    kind = head.get("kind")
    labels = list(label_space.head(head_name).labels) if head_name in label_space.head_sizes else []
    arrays = None
    if stored["predictions"] is not None and labels:
        try:
            arrays = cached_head_arrays(out_dir, sig, model_id, variant, head_name)
        except Exception as e:  # noqa: BLE001 (one line; the stored metrics still show)
            show_error(e)

    st.subheader(f"Summary · {head_name}")
    cis = None
    if arrays is not None and kind in ("softmax", "sigmoid"):
        if st.toggle("Bootstrap 95% CIs (200 resamples of the stored predictions)", key="ev_boot", value=True):
            with st.spinner("Bootstrapping…"):
                cis = cached_bootstrap(out_dir, sig, model_id, variant, head_name, 200)
    render_metric_row(summary_items(head, cis))
    if kind == "regression":
        per, bins = regression_tables(head)
        st.dataframe(per, hide_index=True, width="stretch", height="content")
        st.caption("MSE / MAE per regression target (normalised units), cases without a target masked.")
        if bins is not None:
            st.dataframe(bins, hide_index=True, width="stretch", height="content")
            st.caption("The same errors per true nodule-size bin (mm).")
    elif kind == "softmax":
        render_softmax(head, head_name, label_space, labels, arrays, ctx)
    elif kind == "sigmoid":
        render_sigmoid(head, labels, arrays, ctx, (ctx["operating_points"] or {}).get(head_name, {}))
