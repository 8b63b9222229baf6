"""A multi-label (sigmoid) head of a stored evaluation: per-label metrics, curves, calibration, failure
modes and the cases behind a label's 2x2 confusion cell."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from hcview.metrics.operating import compute_operating_point
from hcview.metrics import LABEL_CELLS, default_label_cell, failure_frames, label_cell_cases, label_cell_counts
from hcview.ui.evaluation.cases import render_case_list
from hcview.ui.evaluation.heads import choose_labels
from hcview.viz.calibration import head_reliability
from hcview.viz.curves import one_vs_rest, pr_curves, roc_curves
from hcview.viz.scatter import head_support_scatter
from hcview.viz.tables import per_label_table


def render_operating_point(y, s, labels: list[str], ops: dict) -> None:
    """Move one label's decision threshold and watch sensitivity, specificity, PPV and NPV on these cases."""
    st.subheader("Operating point")
    c1, c2 = st.columns([2, 3])
    lab = c1.selectbox("Label", labels, key="ev_op_label")
    j = labels.index(lab)
    chosen = ops.get(lab)
    default = float(chosen["threshold"]) if chosen else 0.5
    thr = c1.slider("Decision threshold", 0.0, 1.0, round(default, 3), 0.005, key=f"ev_op_thr_{lab}", format="%.3f")
    rows = []
    for name, t in (("this threshold", thr), ("validation operating point", default), ("0.5", 0.5)):
        m = compute_operating_point(y[:, j], s[:, j], t)
        rows.append({"": name, "threshold": t, "sensitivity": m["sensitivity"], "specificity": m["specificity"],
                     "PPV": m["ppv"], "NPV": m["npv"], "TP": m["tp"], "FP": m["fp"], "FN": m["fn"], "TN": m["tn"]})
    c2.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch",
                 column_config={c: st.column_config.NumberColumn(format="%.3f")
                                for c in ("threshold", "sensitivity", "specificity", "PPV", "NPV")})
    c2.caption((f"The model's operating point for {lab} ({chosen['rule']}) was chosen on the validation split: "
                f"sensitivity {chosen['sensitivity']:.2f}, specificity {chosen['specificity']:.2f} there. "
                if chosen else "No operating point stored for this label: 0.5. ") +
               "The figures above are on the cases of this evaluation.")


def render_sigmoid(head: dict, labels: list[str], arrays, ctx: dict, ops: dict | None = None) -> None:
    st.subheader("Per-label metrics")
    df = per_label_table(head)
    st.dataframe(df, hide_index=True, width="stretch", height="content", key="ev_per_label",
                 column_config={"label": st.column_config.TextColumn(width="medium"),
                                "note": st.column_config.TextColumn(width="large"),
                                **{c: st.column_config.NumberColumn(c, format="%.3f")
                                   for c in ("AUROC", "AUPRC", "prevalence", "ECE", "Brier")}})
    st.caption("One row per label in label-space order; click a column header to sort (e.g. by AUROC).")
    if arrays is None:
        st.plotly_chart(head_support_scatter("sigmoid", head), width="stretch", key="ev_sup")
        return
    y, s = arrays
    st.subheader("ROC and precision-recall")
    yt, ys, labs = one_vs_rest("sigmoid", y, s, labels, choose_labels(labels, "ev_curve_labels", what="Labels"))
    a, b = st.columns(2)
    a.plotly_chart(roc_curves(yt, ys, labs), width="stretch", key="ev_roc")
    b.plotly_chart(pr_curves(yt, ys, labs), width="stretch", key="ev_pr")
    st.caption("One curve per label with both classes present; AUC / AP in the legend.")
    a, b = st.columns(2)
    lab = a.selectbox("Reliability of label", labels, key="ev_rel_label")
    a.plotly_chart(head_reliability("sigmoid", head, y, s, labels, lab), width="stretch", key="ev_rel")
    a.caption("Observed positive rate per predicted-probability bin against the diagonal.")
    b.plotly_chart(head_support_scatter("sigmoid", head), width="stretch", key="ev_sup")
    b.caption("Do labels with more positives get a better AUROC? One point per label.")
    render_operating_point(y, s, labels, ops or {})

    st.subheader("Failure modes")
    k = st.slider("Cases per list", 5, 30, 10, 5, key="ev_k")
    err, unc = failure_frames("sigmoid", y, s, labels, k=k)
    st.markdown("**Most confident errors** (label decisions at p = 0.5)")
    render_case_list(err, ctx)
    st.caption("Label decisions furthest from 0.5 on the wrong side.")
    st.markdown("**Most uncertain correct decisions**")
    render_case_list(unc, ctx)
    st.caption("Right decisions whose probability is closest to 0.5.")

    st.markdown("**Cases behind a label's confusion cell** (decision at p = 0.5)")
    c1, c2 = st.columns(2)
    first_label, _ = default_label_cell(y, s, labels)  # the label with the most wrong decisions
    lab = c1.selectbox("Label", labels, index=labels.index(first_label), key="ev_cell_label")
    counts = label_cell_counts(y, s, labels, lab)
    _, first_cell = default_label_cell(y, s, labels, lab)  # its larger error cell: never an empty list first
    cell = c2.radio("Cell", LABEL_CELLS, index=LABEL_CELLS.index(first_cell), horizontal=True,
                    key=f"ev_cell_kind_{lab}", format_func=lambda c: f"{c} ({counts[c]})")
    render_case_list(label_cell_cases(y, s, labels, lab, cell).head(k), ctx)
    st.caption("Errors are listed most confident first; correct cases most certain first.")
