"""Reader agreement per label, from the verdicts readers record on the Case review page (agree / disagree /
unsure per finding, ``hcview.report.feedback``): how often readers agree with each output's call."""
from __future__ import annotations

import streamlit as st

from hcview.text import escape_markdown as md


def _name(model_id: str) -> str:
    try:
        from hcview.models import get_spec

        return get_spec(model_id).name
    except Exception:  # a model no longer registered: its id
        return model_id


def render_reader_agreement() -> None:
    from hcview.report import feedback as FB

    try:
        rows = FB.all_rows()
    except Exception as e:  # an unreadable store: one line
        from hcview.ui.common import show_error

        show_error(e)
        return
    st.subheader("Reader agreement")
    if not rows:
        st.caption("No reader feedback yet. Readers record agree / disagree / unsure per finding on the Case review "
                   "page (Feedback & report tab).")
        return
    models = sorted({r["model"] for r in rows})
    c1, c2 = st.columns([2, 5], vertical_alignment="bottom")
    model = c1.selectbox("Model", models, key="ev_agree_model", format_func=_name)
    mine = [r for r in rows if r["model"] == model]
    df = FB.agreement(mine).drop(columns=["model"])
    n, cases, readers = len(mine), len({r["case_hash"] for r in mine}), len({r["reader"] for r in mine})
    c2.caption(f"{n} verdict{'s' if n != 1 else ''} on {cases} case{'s' if cases != 1 else ''} by {readers} "
               f"reader{'s' if readers != 1 else ''}, all versions of {md(_name(model))}. Agreement = agree / "
               "(agree + disagree); unsure is left out.")
    st.dataframe(df.sort_values(["verdicts", "label"], ascending=[False, True]), hide_index=True, width="stretch",
                 column_config={"agreement": st.column_config.ProgressColumn("agreement", min_value=0.0,
                                                                             max_value=1.0, format="%.2f")})
    st.download_button("Reader feedback (CSV)", data=lambda: FB.to_csv_text(mine), file_name=f"feedback_{model}.csv",
                       mime="text/csv", key="ev_agree_csv", icon=":material/download:", on_click="ignore")
