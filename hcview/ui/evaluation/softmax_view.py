"""A single-label (softmax) head of a stored evaluation: confusion matrix, per-class metrics, curves,
calibration, failure modes and the cases behind a confusion-matrix cell."""
from __future__ import annotations

import streamlit as st

from hcview.metrics import cell_cases, failure_frames, ranked_confusions
from hcview.ui.evaluation.cases import render_case_list
from hcview.ui.evaluation.heads import choose_labels
from hcview.ui.evaluation.stored import LEVELS
from hcview.viz.calibration import head_reliability
from hcview.viz.confusion import add_cell_picker, confusion_heatmap, stored_confusion
from hcview.viz.curves import one_vs_rest, pr_curves, roc_curves
from hcview.viz.scatter import head_support_scatter
from hcview.viz.tables import head_per_class_table


def selected_cell(event) -> tuple[str, str] | None:
    """(true, pred) of the first point in a plotly selection event on a CM heatmap."""
    try:
        pts = event["selection"]["points"] if isinstance(event, dict) else event.selection.points
    except (AttributeError, KeyError, TypeError):
        return None
    for p in pts or []:
        x, y = p.get("x"), p.get("y")
        if x is not None and y is not None:
            return str(y), str(x)
    return None


def render_softmax(head: dict, head_name: str, label_space, labels: list[str], arrays, ctx: dict) -> None:
    st.subheader("Confusion matrix")
    levels = [lv for lv in LEVELS if lv == "disease" or lv in (head.get("confusion_matrix_collapsed") or {})]
    c1, c2 = st.columns([3, 1])
    level = c1.radio("Level", levels, horizontal=True, key="ev_level") if len(levels) > 1 else "disease"
    norm = c2.toggle("Row-normalise", key="ev_norm", value=False)
    cm, cm_labels = stored_confusion(head, level)
    taxo = label_space if (level == "disease" and head_name == "disease") else None
    fig = confusion_heatmap(cm, cm_labels, taxo, normalize=norm,
                            title=f"{head_name if level == 'disease' else level} · rows = true, columns = predicted")
    fig = add_cell_picker(fig, cm, cm_labels)
    event = st.plotly_chart(fig, width="stretch", key=f"ev_cm_{head_name}_{level}", on_select="rerun",
                            selection_mode="points")
    st.caption("Rows are true classes in taxonomy order, columns predictions; solid lines separate anatomies, "
               "dotted ones categories. Drag a box to zoom in (double-click resets); click a cell to list its "
               "cases right below.")
    conf = ranked_confusions(cm, cm_labels, top=20)
    render_cell_cases(head_name, label_space, labels, arrays, ctx, conf, cm_labels, level, selected_cell(event))

    st.subheader("Per-class metrics")
    df = head_per_class_table(head, label_space, head_name)
    st.dataframe(df, hide_index=True, width="stretch", height="content", key="ev_per_class",
                 column_config={"class": st.column_config.TextColumn(width="large"),
                                **{c: st.column_config.NumberColumn(c, format="%.3f")
                                   for c in ("precision", "recall", "f1", "accuracy") if c in df}})
    st.caption("One row per class in taxonomy order; click a column header to sort (e.g. by recall to find "
               "the weakest classes).")

    if arrays is not None:
        y, s = arrays
        st.subheader("ROC and precision-recall (one-vs-rest)")
        yt, ys, labs = one_vs_rest("softmax", y, s, labels, choose_labels(labels, "ev_curve_labels"))
        a, b = st.columns(2)
        a.plotly_chart(roc_curves(yt, ys, labs, title="ROC (one class vs the rest)"), width="stretch", key="ev_roc")
        b.plotly_chart(pr_curves(yt, ys, labs, title="Precision-recall (one vs rest)"), width="stretch", key="ev_pr")
        st.caption("Each class scored against all others with its softmax probability; AUC / AP in the legend.")
    a, b = st.columns(2)
    a.plotly_chart(head_reliability("softmax", head, *(arrays or (None, None))), width="stretch", key="ev_rel")
    a.caption("Observed accuracy per confidence bin against the diagonal; the bars underneath count cases.")
    b.plotly_chart(head_support_scatter("softmax", head, label_space, head_name), width="stretch", key="ev_sup")
    b.caption("Does a class do better because it has more training-like cases? One point per class.")

    render_failures(labels, arrays, ctx, conf, level)


def render_cell_cases(head_name, label_space, labels, arrays, ctx, conf, cm_labels, level, picked) -> None:
    """The cases behind one cell, right under the matrix: the clicked cell, else the most frequent confusion."""
    with st.container(border=True):
        st.markdown("**Cases behind a confusion-matrix cell**")
        if arrays is None:
            st.info("The stored evaluation has no per-case predictions, so cases cannot be listed.")
            return
        y, s = arrays
        c1, c2 = st.columns(2)
        default_true, default_pred = (conf["true"].iloc[0], conf["pred"].iloc[0]) if len(conf) else (cm_labels[0],) * 2
        if picked and picked[0] in cm_labels and picked[1] in cm_labels:
            default_true, default_pred = picked
        t = c1.selectbox("True", cm_labels, index=cm_labels.index(default_true), key=f"ev_cell_true_{level}_{picked}")
        p = c2.selectbox("Predicted", cm_labels, index=cm_labels.index(default_pred),
                         key=f"ev_cell_pred_{level}_{picked}")
        cases = cell_cases(y, s, labels, t, p, label_space if head_name == "disease" else None, level)
        st.caption(f"{len(cases)} case(s) with true {t} predicted as {p}"
                   + (f"; showing the first {min(len(cases), 30)}, most confident first" if len(cases) else "."))
        if len(cases):
            render_case_list(cases.head(30), ctx)


def render_failures(labels, arrays, ctx, conf, level) -> None:
    st.subheader("Failure modes")
    st.markdown("**Most frequent confusions**")
    if len(conf):
        st.dataframe(conf[["text", "count", "row_pct"]].rename(columns={"text": "true -> predicted",
                                                                         "row_pct": "% of true class"}),
                     hide_index=True, width="stretch", height="content", key="ev_confusions",
                     column_config={"true -> predicted": st.column_config.TextColumn(width="large"),
                                    "% of true class": st.column_config.NumberColumn(format="%.1f")})
    else:
        st.success("No off-diagonal cells: every case is on the diagonal.")
    st.caption(f"Off-diagonal cells at the {level} level, ranked by count.")
    if arrays is None:
        st.info("The stored evaluation has no per-case predictions, so cases cannot be listed.")
        return
    y, s = arrays
    k = st.slider("Cases per list", 5, 30, 10, 5, key="ev_k")
    err, unc = failure_frames("softmax", y, s, labels, k=k)
    st.markdown("**Most confident errors**")
    render_case_list(err, ctx)
    st.caption("Wrong predictions with the highest top-class probability: label noise or systematic mistakes.")
    st.markdown("**Most uncertain correct cases**")
    render_case_list(unc, ctx)
    st.caption("Right predictions with the highest entropy: correct, but only just.")
