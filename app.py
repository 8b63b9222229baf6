"""hcview: streamlit run app.py"""
import streamlit as st

st.set_page_config(page_title="hcview", page_icon="🩻", layout="wide")

from hcview.ui.common import sidebar  # noqa: E402
from hcview.ui.jobs_widgets import recover_jobs_once  # noqa: E402

recover_jobs_once()  # jobs whose process died while the app was down become "interrupted"

# Material icons: they come with Streamlit's own font, so they render on machines without an emoji font.
# The page scripts live in views/, not pages/: with a folder named pages/ next to this file Streamlit runs the first
# script run of a server in its legacy multipage mode, and the first visitor who opens a page by its own URL
# (/training) gets a "Page not found" dialog. tests/e2e/test_pages_smoke.py checks that first visit.
PAGES = [
    st.Page("views/0_Overview.py", title="Overview", icon=":material/home:", default=True),
    st.Page("views/2_Case_review.py", url_path="review", title="Case review", icon=":material/radiology:"),
    st.Page("views/1_Models.py", url_path="models", title="Models", icon=":material/neurology:"),
    st.Page("views/3_Training.py", url_path="training", title="Training", icon=":material/model_training:"),
    st.Page("views/4_Evaluation.py", url_path="evaluation", title="Evaluation", icon=":material/monitoring:"),
    st.Page("views/5_Risk.py", url_path="risk", title="Risk stratification", icon=":material/stacked_bar_chart:"),
]

nav = st.navigation(PAGES)
sidebar()
nav.run()
