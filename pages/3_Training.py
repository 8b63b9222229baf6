import streamlit as st

from hcview.ui.common import cached_catalog
from hcview.ui.jobs_widgets import bootstrap_button, jobs_panel, launch_form
from hcview.ui.versions_widgets import versions_panel

st.title("Training")
st.caption("Train a model as a background job, watch its progress, cancel it. A finished job adds its best "
           "checkpoint as a new model version; the version every page uses changes only when you promote one "
           "below. Paper variants need a real dataset; demo variants train on the bundled sample pack on a CPU.")

rows = cached_catalog()
ids = list(dict.fromkeys(r["id"] for r in rows))
defaults = {(r["id"], r["variant"]): r["default_data"] for r in rows}

st.subheader("Demo bootstrap")
bootstrap_button()

st.subheader("New job")
launch_form(ids, defaults)

st.subheader("Jobs")
jobs_panel(refresh_s=3.0)

st.subheader("Model versions")
v1, v2 = st.columns([2, 1])
vmodel = v1.selectbox("Model", ids, key="tr_versions_model")
vvariant = v2.radio("Variant", ["demo", "paper"], horizontal=True, key="tr_versions_variant")
versions_panel(vmodel, vvariant, key="training")
