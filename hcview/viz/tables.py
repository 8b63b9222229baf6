"""Per-class metrics table: a DataFrame ready for ``st.dataframe`` (sortable) and figures."""
from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd
import plotly.graph_objects as go

from hcview.metrics.classification import compute_per_class_table

NUMERIC = ("precision", "recall", "f1", "accuracy")


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
