import streamlit as st

from hcview.ui.common import cached_catalog
from hcview.ui.jobs_widgets import bootstrap_button, jobs_panel, launch_form
from hcview.ui.versions_widgets import versions_panel

st.title("Training")
st.caption("Train a model as a background job, watch its progress, cancel it. A finished job adds its best "
           "checkpoint as a new model version; the version every page uses changes only when you promote one. "
           "Paper variants need a real dataset; demo variants train on the bundled sample pack on a CPU.")

st.subheader("New job")
launch_form()

st.subheader("Jobs")
jobs_panel(refresh_s=2.0)

st.subheader("Model versions")
rows = cached_catalog()
ids = list(dict.fromkeys(r["id"] for r in rows))
names = {r["id"]: r["name"] for r in rows}
v1, v2 = st.columns([2, 1])
vmodel = v1.selectbox("Model", ids, key="tr_versions_model", format_func=lambda i: names.get(i, i))
vvariant = v2.radio("Variant", ["demo", "paper"], horizontal=True, key="tr_versions_variant")
versions_panel(vmodel, vvariant, key="training")

st.subheader("Demo models")
bootstrap_button(key="training_bootstrap")
