"""Case review: one scan through one model: hierarchical output, MC-dropout bands, Grad-CAM / LRP."""
import streamlit as st

from hcview.errors import HcviewError
from hcview.ui.common import cached_catalog, show_error
from hcview.ui.loaders import bundled_samples, predictor, validity_note
from hcview.ui.panels import PanelContext, render_panel
from hcview.ui.common import SYNTHETIC_BANNER

st.title("Case review")
st.caption("Research software: not for clinical diagnosis.")

rows = [r for r in cached_catalog() if r["variant"] == "demo"]
show_untrained = st.sidebar.checkbox("Show untrained models", value=not any(r["trained"] for r in rows))
choices = {f"{r['name']}{'' if r['trained'] else ' (UNTRAINED)'}": r["id"] for r in rows if r["trained"] or show_untrained}
if not choices:
    st.warning("No trained models yet. Train the demo models (Overview page) or tick 'Show untrained models'.")
    st.stop()

c1, c2 = st.columns([2, 1])
with c1:
    up = st.file_uploader("Scan (DICOM, PNG, JPEG)", type=None)
    samples = bundled_samples()
    pick = st.selectbox("…or a bundled sample", ["(none)"] + list(samples), disabled=up is not None)
with c2:
    model_label = st.selectbox("Model", list(choices))
    model_id = choices[model_label]
    window = st.selectbox("DICOM window", ["header", "lung", "mediastinum", "bone", "brain"])
    mc = st.slider("MC-dropout passes", 0, 30, 10)

record = None
try:
    pred = predictor(model_id, "demo")
except Exception as e:  # a tampered or unreadable checkpoint: one line, no traceback
    show_error(e)
    st.stop()
if "meta" in pred.spec.inputs:
    rec_file = st.file_uploader("Records CSV (optional: age / sex / view columns)", type=["csv"])
    if rec_file is not None:
        row = st.number_input("Row", min_value=0, value=0, step=1)
        try:
            from hcview.infer.predictor import read_record  # noqa: E402

            record = read_record((rec_file.getvalue(), rec_file.name), int(row))
        except HcviewError as e:
            show_error(e)

if up is None and pick == "(none)":
    st.info("Upload a scan or pick a bundled sample.")
    st.stop()

try:
    src, name = (up.getvalue(), up.name) if up is not None else (samples[pick], pick)
    loaded = pred.load(src, name=name, window=None if window == "header" else window)
    res = pred.predict(loaded, record=record, mc=mc)
except HcviewError as e:
    show_error(e)
    st.stop()
except Exception as e:  # never a traceback for the user
    show_error(e)
    st.stop()

j = res.to_json()
flags = j["flags"]
if flags["ood"]:
    st.error(f"This image does not look like the data this model was trained on (score {j['ood_score']:.0f}, "
             f"threshold {j['ood_threshold']:.0f}): its outputs are not meaningful.", icon="🛑")
if flags["synthetic_model"]:
    st.error(SYNTHETIC_BANNER, icon="🧪")
if flags["untrained"]:
    st.error("UNTRAINED model: random weights, outputs are meaningless.", icon="⚠️")
if flags.get("modality_mismatch"):
    st.error(res.modality_mismatch, icon="🚫")
if flags["synthetic_input"]:
    st.warning("Synthetic input (phantom).", icon="🧪")
if flags["uncertain"]:
    st.warning("Uncertain - review: an MC-dropout interval straddles its decision, or entropy is high.", icon="🔎")
if flags["inconsistent"]:
    st.warning("Hierarchy inconsistency: " + ("; ".join(j.get("inconsistencies", [])) or "predicted disease is not under the predicted anatomy/category."))

left, right = st.columns([1, 1])
with left:
    st.image(loaded.array, caption=f"{loaded.name} ({loaded.kind}, {loaded.array.shape[1]}×{loaded.array.shape[0]})",
             clamp=True, width="stretch")
    if loaded.kind == "dicom":
        with st.expander("DICOM attributes (de-identified)"):
            st.json({k: v for k, v in loaded.meta.items() if not isinstance(v, (bytes, bytearray))})
            if loaded.deid_removed:
                st.caption("Removed by de-identification: " + ", ".join(map(str, loaded.deid_removed)))
with right:
    render_panel(pred.spec, PanelContext(res, j, loaded.array, pred))

from hcview.viz import case as vc  # noqa: E402

for head in dict.fromkeys(o["level"] for o in j["outputs"]):
    st.plotly_chart(vc.mc_bands([o for o in j["outputs"] if o["level"] == head], title=head,
                                threshold=0.5 if pred.label_space.head(head).kind == "sigmoid" else None),
                    width="stretch")

st.subheader("Explanations")
e1, e2, e3, e4 = st.columns(4)
method = e1.selectbox("Method", ["gradcam", "gradcam++", "eigencam", "lrp"])
labels = [f"{h}:{pred.label_space.head(h).labels[i]}" for h, i in pred.targets_for(res, "ranked")]
target = e2.selectbox("Target", labels, help="Defaults to the top prediction of the most specific level.")
thr = e3.slider("Threshold", 0.0, 0.95, 0.5, 0.05)
alpha = e4.slider("Alpha", 0.0, 1.0, 0.7, 0.05)
try:
    from hcview.explain.render import panel_title, render_panel

    maps = pred.explain(res, (method,), target)
    m = maps[0]
    sd = res.sd_of(m["head"], m["index"])
    png = render_panel(loaded.array, m["map"], panel_title(m["label"], res.mean_of(m["head"], m["index"]), sd),
                       thr, alpha, "approximate LRP" if m["approximate"] else None)
    st.image(png)
    if method == "lrp":
        st.caption(f"Relevance conservation: sum / logit = {m['conservation']:.2f}. Rules: {m['rules']}"
                   + (" — APPROXIMATE for this architecture." if m["approximate"] else ""))
except HcviewError as e:
    show_error(e)
st.info(validity_note(model_id, "demo"), icon="📏")
for n in j["notices"]:
    st.caption(n)
