"""hcview: streamlit run app.py"""
import streamlit as st

st.set_page_config(page_title="hcview", page_icon="🩻", layout="wide")

from hcview.ui.common import sidebar  # noqa: E402
from hcview.ui.jobs_widgets import recover_jobs_once  # noqa: E402

recover_jobs_once()  # jobs whose process died while the app was down become "interrupted"

# Material icons: they come with Streamlit's own font, so they render on machines without an emoji font.
# Explicit url_paths: Streamlit still routes a fresh visit to a legacy pages/ file name
# (e.g. /Case_review) straight to that file, bypassing this script; these paths never collide.
PAGES = [
    st.Page("pages/0_Overview.py", title="Overview", icon=":material/home:", default=True),
    st.Page("pages/2_Case_review.py", url_path="review", title="Case review", icon=":material/radiology:"),
    st.Page("pages/1_Models.py", url_path="models", title="Models", icon=":material/neurology:"),
    st.Page("pages/3_Training.py", url_path="training", title="Training", icon=":material/model_training:"),
    st.Page("pages/4_Evaluation.py", url_path="evaluation", title="Evaluation", icon=":material/monitoring:"),
    st.Page("pages/5_Risk.py", url_path="risk", title="Risk stratification", icon=":material/stacked_bar_chart:"),
]

nav = st.navigation(PAGES)
sidebar()
nav.run()
