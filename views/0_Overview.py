import streamlit as st

from hcview.ui.common import SYNTHETIC_BANNER, cached_catalog, headline_metrics
from hcview.ui.jobs_widgets import bootstrap_button

st.title("hcview")
st.markdown(
    "Review what medical-imaging models say about a case, and why: hierarchical outputs, "
    "MC-dropout uncertainty, Grad-CAM and LRP heatmaps, per-class failure modes. "
    "Four published models are implemented, each with its own model card."
)
rows = cached_catalog()
headline = headline_metrics(rows, n=2)
demo = [r for r in rows if r["variant"] == "demo"]
# Cards of one height, and inside them blocks of fixed height in the same order, so the four line up whatever
# each one holds (a two-line modality, a synthetic-data warning).
for col, r in zip(st.columns(len(demo)), demo):
    with col, st.container(border=True, height=448):
        with st.container(height=88, border=False, gap="small"):
            st.markdown(f"**{r['name']}**")
            st.caption(r["modality"])
        if not r["trained"]:
            st.badge("not trained yet", color="gray", icon=":material/hourglass_empty:")
            continue
        st.badge(f"demo model · version {r['version']}", color="green", icon=":material/check_circle:")
        items = headline.get(r["id"], [])
        if items:
            label, value = items[0]
            st.metric(f"test {label}", f"{value:.3f}")
            with st.container(height=26, border=False):
                for lab, val in items[1:]:
                    st.markdown(f"{lab} **{val:.3f}**")
        tm = r.get("test_metrics") or {}
        if tm.get("n_cases"):
            st.caption(f"held-out test split, n = {int(tm['n_cases'])}")
        if r["synthetic"]:
            st.markdown(f":red[:material/science: {SYNTHETIC_BANNER}]")

st.caption("Figures are the demo checkpoints' own test-split results (from their model cards). Demo models are small "
           "and trained on a CPU: see each model card on the Models page.")
st.divider()
missing = [r for r in demo if not r["trained"]]
with st.expander("Demo models: train on the bundled sample pack", expanded=bool(missing)):
    st.caption("Trains the CPU-sized demo variant of each model as a background job (about 6-7 minutes in all on "
               "a 2-core CPU). Each model becomes usable on the other pages as soon as its own job finishes; "
               "follow them on the Training page.")
    bootstrap_button(key="overview_bootstrap")
