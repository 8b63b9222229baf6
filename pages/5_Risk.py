"""Risk stratification: MedFusionNet's two-stage method on tabular records, evaluated on a held-out split."""
import pandas as pd
import streamlit as st

from hcview.ui.common import show_error

st.title("Risk stratification")
st.caption("MedFusionNet's two-stage method: univariate threshold search per feature (stage 1), then a decision tree "
           "over the top-N features (stage 2), giving low / medium / high risk. Research software: not for "
           "clinical diagnosis.")


@st.cache_data(show_spinner="Fitting...", max_entries=16)
def _fit(data: bytes, name: str, outcome: str, params: tuple):
    from hcview.risk import read_records, stratify

    df = read_records(data, name=name)
    return stratify(df, outcome, **dict(params))


def _load_bytes():
    from hcview.risk import BUNDLED_PROVENANCE, bundled_records_path

    src = st.radio("Records", ["Bundled UCI cervical table", "Upload a CSV"], horizontal=True)
    if src.startswith("Bundled"):
        path = bundled_records_path()
        st.caption(f"Provenance: {BUNDLED_PROVENANCE}")
        if not path.exists():
            st.error(f"The bundled table is missing: {path}")
            return None, None
        return path.read_bytes(), path.name
    up = st.file_uploader("Records CSV ('?' or blank = missing)", type=["csv"], key="records")
    if up is None:
        st.info("Upload a CSV with 0/1 outcome columns (e.g. Biopsy) and numeric feature columns.")
        return None, None
    return up.getvalue(), up.name


data, name = _load_bytes()
if data is None:
    st.stop()

try:
    from hcview.risk import OUTCOMES, read_records

    df = read_records(data, name=name)
except Exception as e:
    show_error(e)
    st.stop()

present = [o for o in OUTCOMES if o in df.columns]
choices = present or list(df.columns)
c1, c2, c3, c4 = st.columns(4)
outcome = c1.selectbox("Outcome", choices, index=choices.index("Biopsy") if "Biopsy" in choices else 0)
top_n = c2.number_input("Top-N features", 1, 30, 5)
max_depth = c3.number_input("Tree max depth", 1, 8, 3)
min_split = c4.number_input("Min samples per split", 2, 200, 20)
with st.expander("More parameters"):
    d1, d2, d3, d4 = st.columns(4)
    seed = d1.number_input("Seed", 0, 10_000, 0)
    test_size = d2.slider("Test fraction", 0.1, 0.5, 0.25, 0.05)
    bins = d3.number_input("Quantile bins (0 = off)", 0, 50, 10)
    cuts_mode = d4.selectbox("Risk cut points", ["prevalence", "tertiles", "fixed 0.2 / 0.5"])
    allow = st.checkbox("Allow the other outcome columns as features (off = leakage guard: Hinselmann, Schiller, "
                        "Cytology and Biopsy are screening/diagnostic results, so using them is circular)")
cuts = (0.2, 0.5) if cuts_mode.startswith("fixed") else cuts_mode
params = (("top_n", int(top_n)), ("max_depth", int(max_depth)), ("min_samples_split", int(min_split)),
          ("seed", int(seed)), ("test_size", float(test_size)), ("bins", int(bins) or None), ("cuts", cuts),
          ("allow_outcome_features", bool(allow)))

try:
    res = _fit(data, name, outcome, params)
except Exception as e:
    show_error(e)
    st.stop()

from hcview.viz.risk import risk_distribution_figure, scored_distribution_figure, stage1_auc_figure  # noqa: E402

m = res.test_metrics
st.subheader(f"Held-out test metrics: {res.outcome}")
st.caption(f"{m['n']} test rows ({m['positives']} positive), seeded stratified split; every fitted step "
           f"(imputation, bins, thresholds, tree) saw only the {len(res.train_index)} training rows.")
cols = st.columns(6)
for col, (label, key) in zip(cols, [("AUROC", "auroc"), ("F1", "f1"), ("Accuracy", "accuracy"), ("G-mean", "gmean"),
                                    ("Sensitivity", "sensitivity"), ("Specificity", "specificity")]):
    v = m[key]
    t = res.train_metrics[key]
    col.metric(label, "n/a" if v is None else f"{v:.3f}", help=f"training split: {'n/a' if t is None else f'{t:.3f}'}")
st.info("The authors' notebook evaluated on its training set and typed in its comparison numbers. These numbers "
        "come from held-out rows; the training-split values (hover each metric) show how optimistic that is. "
        f"With {m['positives']} positive test rows, expect wide uncertainty.", icon="ℹ️")

st.subheader("Stage 1: univariate thresholds (training split)")
table = pd.DataFrame(res.stage1)[["rank", "feature", "selected", "rule", "threshold", "direction", "auc", "f1",
                                  "sensitivity", "specificity", "stump_threshold", "tmin", "tmax", "dt"]]
st.dataframe(table, hide_index=True, use_container_width=True)
st.plotly_chart(stage1_auc_figure(res), use_container_width=True)
if res.excluded:
    st.caption("Not used as features: " + "; ".join(f"{k} ({v})" for k, v in res.excluded.items()))

st.subheader("Stage 2: decision tree over the selected features")
st.code(res.tree_rules, language="text")
st.dataframe(pd.DataFrame(res.leaves), hide_index=True, use_container_width=True)
st.caption(f"Risk probability = training positive rate of the leaf. Cut points ({res.cuts['mode']}): "
           f"low if p <= {res.cuts['c1']:.3f}, high if p >= {res.cuts['c2']:.3f}, medium otherwise.")
st.plotly_chart(risk_distribution_figure(res, "test"), use_container_width=True)

st.subheader("Score patients")
sc = st.file_uploader("Records to score (CSV with the selected feature columns)", type=["csv"], key="score")
if sc is not None:
    try:
        from hcview.risk import assign_risk

        scored = assign_risk(res, read_records(sc.getvalue(), name=sc.name))
        st.plotly_chart(scored_distribution_figure(scored, res.outcome), use_container_width=True)
        st.dataframe(scored, use_container_width=True)
        st.download_button("Download scores (CSV)", scored.to_csv().encode(), "risk_scores.csv", "text/csv")
    except Exception as e:
        show_error(e)
