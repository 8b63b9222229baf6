import pandas as pd
import streamlit as st

from hcview.ui.common import cached_catalog, show_error
from hcview.ui.model_cards import model_card_view
from hcview.ui.versions_widgets import versions_panel

st.title("Models")
st.caption("The registry: four papers, each in a paper-exact and a CPU-sized demo variant.")
rows = cached_catalog()
table = pd.DataFrame([{
    "model": r["id"], "variant": r["variant"], "trained": r["trained"], "params (M)": round(r["params"] / 1e6, 2),
    "input": r["input_size"], "outputs": " · ".join(f"{k} {v}" for k, v in r["outputs"].items()),
    "default data": r["default_data"],
} for r in rows])
st.dataframe(table, hide_index=True, width="stretch", height="content", column_config={
    "model": st.column_config.TextColumn(width=100, help="registry id (python -m hcview ... --model ID)"),
    "variant": st.column_config.TextColumn(width=62),
    "trained": st.column_config.CheckboxColumn(width=62),
    "params (M)": st.column_config.NumberColumn(width=82, format="%.2f"),
    "input": st.column_config.NumberColumn(width=52, help="square input side in pixels"),
    "outputs": st.column_config.TextColumn(width=300, help="heads and their sizes (from the label space)"),
    "default data": st.column_config.TextColumn(width=120),
})

ids = list(dict.fromkeys(r["id"] for r in rows))
c1, c2 = st.columns(2)
model_id = c1.selectbox("Model card", ids, format_func=lambda i: next(r["name"] for r in rows if r["id"] == i))
variant = c2.radio("Variant", ["demo", "paper"], horizontal=True)
try:
    with st.expander("Versions: compare, promote, roll back", expanded=False):
        versions_panel(model_id, variant, key="models")
    model_card_view(model_id, variant)
except Exception as e:  # one line for the user
    show_error(e)
