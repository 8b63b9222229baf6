"""Per-class metrics table: a DataFrame ready for ``st.dataframe`` (sortable) and figures."""
from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd
import plotly.graph_objects as go

from hcview.metrics.classification import compute_per_class_table

NUMERIC = ("precision", "recall", "f1", "accuracy")


def _num(v) -> float:
    return float("nan") if v is None else float(v)


def _fmt3(v) -> str:
    return "–" if v is None or not np.isfinite(v) else f"{v:.3f}"


def per_class_table(y_true=None, y_pred=None, labels=None, label_space=None, rows=None,
                    order=None) -> pd.DataFrame:
    """Per-class DataFrame (class, [anatomy, category], precision, recall, f1, support, predicted,
    accuracy), from predictions or from ``rows`` (e.g. ``compute_classification(...)["per_class"]``).

    ``order`` (e.g. ``label_space.disease_order()``) reorders the rows; for taxonomy3 the default
    is taxonomy order.
    """
    if rows is not None:
        df = pd.DataFrame(list(rows))
        if label_space is not None and getattr(label_space, "kind", "") == "taxonomy3" and "anatomy" not in df:
            parents = {d: (a, c) for d, a, c in label_space.tree}
            df.insert(1, "anatomy", [parents.get(c, ("", ""))[0] for c in df["class"]])
            df.insert(2, "category", [parents.get(c, ("", ""))[1] for c in df["class"]])
    else:
        df = compute_per_class_table(y_true, y_pred, labels, label_space)
    if order is None and label_space is not None and getattr(label_space, "kind", "") == "taxonomy3":
        order = label_space.disease_order()
    if order is not None and set(order) == set(df["class"]):
        df = df.set_index("class").loc[list(order)].reset_index()
    for c in NUMERIC:
        if c in df:
            df[c] = pd.to_numeric(df[c], errors="coerce").astype(float)
    return df.reset_index(drop=True)


def per_class_table_figure(df: pd.DataFrame, sort_by: str | None = None, ascending: bool = True,
                           title: str = "Per-class metrics") -> go.Figure:
    """A plotly Table of ``df`` (optionally sorted by a column); numbers shown with 3 decimals."""
    if sort_by:
        df = df.sort_values(sort_by, ascending=ascending, kind="mergesort")
    cells = []
    for c in df.columns:
        col = df[c]
        if col.dtype.kind == "f":
            cells.append(["-" if not np.isfinite(v) else f"{v:.3f}" for v in col])
        else:
            cells.append([str(v) for v in col])
    fig = go.Figure(go.Table(header={"values": [str(c) for c in df.columns], "align": "left",
                                     "fill_color": "#dde6f0"},
                             cells={"values": cells, "align": "left"}))
    fig.update_layout(title=title, height=min(1200, 80 + 24 * (len(df) + 1)), margin={"l": 5, "r": 5, "t": 40, "b": 5})
    return fig


def per_class_bar_chart(df: pd.DataFrame, metric: str = "accuracy") -> alt.Chart:
    """Altair bar chart of one per-class metric, bars in the table's row order, tooltips on hover."""
    tooltip = [c for c in ("class", "anatomy", "category", metric, "support") if c in df]
    color = "anatomy:N" if "anatomy" in df else alt.value("#4c78a8")
    return (alt.Chart(df).mark_bar()
            .encode(x=alt.X("class:N", sort=list(df["class"]), title=None),
                    y=alt.Y(f"{metric}:Q", scale=alt.Scale(domain=[0, 1])), color=color, tooltip=tooltip)
            .properties(title=f"Per-class {metric}"))


# ---------------------------------------------------------------------------------------------------
# tables of a stored report (hcview.metrics.compute_report, one head)
# ---------------------------------------------------------------------------------------------------
def head_per_class_table(head: dict, label_space=None, head_name: str = "") -> pd.DataFrame:
    """Softmax head: per-class rows of the report, in taxonomy order for a taxonomy's disease head."""
    order = None
    if head_name == "disease" and getattr(label_space, "kind", "") == "taxonomy3":
        order = label_space.disease_order()
    return per_class_table(rows=head.get("per_class") or [], label_space=label_space if order else None, order=order)


def per_label_table(head: dict) -> pd.DataFrame:
    """Sigmoid head: one row per label (AUROC, AUPRC, positives, n, prevalence, ECE, Brier, note)."""
    cal = (head.get("calibration") or {}).get("per_label") or {}
    rows = []
    for lab, r in (head.get("per_label") or {}).items():
        rows.append({"label": lab, "AUROC": _num(r.get("auroc")), "AUPRC": _num(r.get("auprc")),
                     "positives": r.get("support"), "n": r.get("n"), "prevalence": _num(r.get("prevalence")),
                     "ECE": _num((cal.get(lab) or {}).get("ece")), "Brier": _num((cal.get(lab) or {}).get("brier")),
                     "note": r.get("reason") or ""})
    return pd.DataFrame(rows)


def regression_tables(head: dict) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """Regression head: (per-target MSE/MAE, per true-size-bin MSE/MAE or None)."""
    per = pd.DataFrame([{"target": t, "MSE": _num(v.get("mse")), "MAE": _num(v.get("mae")), "n": v.get("n")}
                        for t, v in (head.get("per_target") or {}).items()])
    bins = head.get("size_bins")
    if not bins:
        return per, None
    rows = []
    for b, v in bins.items():
        r = {"size bin (mm)": b, "cases": v.get("n_cases"), "MSE": _num((v.get("overall") or {}).get("mse")),
             "MAE": _num((v.get("overall") or {}).get("mae"))}
        for t, tv in (v.get("per_target") or {}).items():
            r[f"MAE {t}"] = _num(tv.get("mae"))
        rows.append(r)
    return per, pd.DataFrame(rows)


# ---------------------------------------------------------------------------------------------------
# prediction files scored by hcview.metrics.external.compare_predictions
# ---------------------------------------------------------------------------------------------------
def comparison_tables(result: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(per label: label, AUROC and AUPRC per file, positives; summary: one row per file)."""
    names = result["model_order"]
    rows = []
    for lab in result["common_labels"]:
        per = result["labels"][lab]
        row = {"label": lab}
        for n in names:
            row[f"AUROC · {n}"] = _num(per[n].get("auroc"))
        for n in names:
            row[f"AUPRC · {n}"] = _num(per[n].get("auprc"))
        sup = [per[n].get("support") for n in names]
        if len(set(sup)) == 1:
            row["positives"] = sup[0]
        else:  # files scored on different cases
            for n, v in zip(names, sup):
                row[f"positives · {n}"] = v
        rows.append(row)
    fr = result.get("friedman") or {}
    srows = []
    for n in names:
        s = result["summary"][n]
        r = {"file": n, "mean AUROC": _num(s.get("mean_auroc")), "weighted AUROC": _num(s.get("weighted_auroc")),
             "mean AUPRC": _num(s.get("mean_auprc")), "weighted AUPRC": _num(s.get("weighted_auprc")),
             "labels scored": s.get("n_labels_defined"), "cases": s.get("n_cases")}
        if "mean_ece" in s:
            r["mean ECE"] = _num(s.get("mean_ece"))
            r["mean Brier"] = _num(s.get("mean_brier"))
        ci = s.get("mean_auroc_ci")
        if ci:
            r["mean AUROC 95% CI"] = f"[{_fmt3(ci.get('low'))}, {_fmt3(ci.get('high'))}]"
        if fr.get("mean_ranks"):
            r["mean rank (1 = best)"] = _num(fr["mean_ranks"].get(n))
        srows.append(r)
    return pd.DataFrame(rows), pd.DataFrame(srows)
