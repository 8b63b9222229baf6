"""hcview: streamlit run app.py"""
import streamlit as st

st.set_page_config(page_title="hcview", page_icon="🩻", layout="wide")

from hcview.ui.common import sidebar  # noqa: E402
from hcview.ui.jobs_widgets import recover_jobs_once  # noqa: E402

recover_jobs_once()  # jobs whose process died while the app was down become "interrupted"

PAGES = [
    st.Page("pages/0_Overview.py", title="Overview", icon="🏠", default=True),
    st.Page("pages/2_Case_review.py", title="Case review", icon="🩻"),
    st.Page("pages/1_Models.py", title="Models", icon="🧠"),
    st.Page("pages/3_Training.py", title="Training", icon="🏋️"),
    st.Page("pages/4_Evaluation.py", title="Evaluation", icon="📈"),
    st.Page("pages/5_Risk.py", title="Risk stratification", icon="📊"),
]

nav = st.navigation(PAGES)
sidebar()
nav.run()
