"""Reader agreement per label, from the verdicts readers record on the Case review page (agree / disagree /
unsure per finding, ``hcview.report.feedback``): how often readers agree with each output's call."""
from __future__ import annotations

import streamlit as st

from hcview.text import escape_markdown as md


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
    model = c1.selectbox("Model", models, key="ev_agree_model")
    mine = [r for r in rows if r["model"] == model]
    df = FB.agreement(mine).drop(columns=["model"])
    c2.caption(f"{len(mine)} verdicts on {len({r['case_hash'] for r in mine})} cases by "
               f"{len({r['reader'] for r in mine})} reader(s), all versions of {md(model)}. Agreement = agree / "
               "(agree + disagree); unsure is left out.")
    st.dataframe(df.sort_values(["verdicts", "label"], ascending=[False, True]), hide_index=True, width="stretch",
                 column_config={"agreement": st.column_config.ProgressColumn("agreement", min_value=0.0,
                                                                             max_value=1.0, format="%.2f")})
    st.download_button("Reader feedback (CSV)", data=lambda: FB.to_csv_text(mine), file_name=f"feedback_{model}.csv",
                       mime="text/csv", key="ev_agree_csv", icon=":material/download:", on_click="ignore")
