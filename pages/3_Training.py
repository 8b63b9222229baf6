import streamlit as st

from hcview.ui.common import cached_catalog
from hcview.ui.jobs_widgets import bootstrap_button, jobs_panel, launch_form

st.title("Training")
st.caption("Train a model as a background job, watch its progress, cancel it. Finished jobs register their "
           "best checkpoint (with its model card) so every page picks it up. Paper variants need a real dataset "
           "(--data ADAPTER:/path); demo variants train on the bundled sample pack on a CPU.")

rows = cached_catalog()
ids = list(dict.fromkeys(r["id"] for r in rows))
defaults = {(r["id"], r["variant"]): r["default_data"] for r in rows}

st.subheader("Demo bootstrap")
bootstrap_button()

st.subheader("New job")
launch_form(ids, defaults)

st.subheader("Jobs")
jobs_panel(refresh_s=3.0)
