import streamlit as st

from hcview.ui.common import SYNTHETIC_BANNER, cached_catalog
from hcview.ui.jobs_widgets import bootstrap_button

st.title("hcview")
st.markdown(
    "Review what medical-imaging models say about a case, and why: hierarchical outputs, "
    "MC-dropout uncertainty, Grad-CAM and LRP heatmaps, per-class failure modes. "
    "Four published models are implemented, each with its own model card."
)
rows = cached_catalog()
cols = st.columns(4)
for col, mid in zip(cols, dict.fromkeys(r["id"] for r in rows)):
    demo = next(r for r in rows if r["id"] == mid and r["variant"] == "demo")
    with col:
        st.subheader(demo["name"])
        st.caption(demo["modality"])
        if demo["trained"]:
            st.success(f"demo model trained (version {demo['version']})", icon="✅")
            if demo["synthetic"]:
                st.error(SYNTHETIC_BANNER, icon="🧪")
            tm = demo.get("test_metrics") or {}
            shown = {k[5:].replace("_", " "): v for k, v in tm.items()
                     if k.startswith("test_") and isinstance(v, (int, float))}
            for k, v in list(shown.items())[:3]:
                st.metric(f"test {k}", f"{v:.3f}")
            if tm.get("n_cases"):
                st.caption(f"held-out test split, n = {int(tm['n_cases'])}")
        else:
            st.info("not trained yet", icon="⏳")

st.divider()
missing = [r for r in rows if r["variant"] == "demo" and not r["trained"]]
with st.expander("Demo models: train on the bundled sample pack", expanded=bool(missing)):
    st.caption("Trains the CPU-sized demo variant of each model as a background job (about 6-7 minutes in all on "
               "a 2-core CPU). Each model becomes usable on the other pages as soon as its own job finishes; "
               "follow them on the Training page.")
    bootstrap_button()
