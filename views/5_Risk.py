"""Risk stratification: MedFusionNet's two-stage method on tabular records, cross-validated beside baselines."""
import hashlib

import streamlit as st

from hcview.ui.common import show_error

st.title("Risk stratification")
st.caption("MedFusionNet's two-stage method: univariate threshold search per feature (stage 1), then a decision tree "
           "over the top-N features (stage 2), giving low / medium / high risk. Evaluated by repeated stratified "
           "cross-validation, with every step refitted inside each training fold, next to logistic regression, a "
           "random forest and a plain tree in the same folds. Research software: not for clinical diagnosis.")


@st.cache_data(show_spinner=False, max_entries=16)
def _fit(data: bytes, name: str, outcome: str, params: tuple):
    from hcview.risk import read_records, stratify

    return stratify(read_records(data, name=name), outcome, **dict(params))


def _load_bytes():
    from hcview.risk import BUNDLED_PROVENANCE, bundled_records_path

    src = st.radio("Records", ["Bundled UCI cervical table", "Upload a CSV"], horizontal=True, key="risk_source")
    if src.startswith("Bundled"):
        path = bundled_records_path()
        st.caption(f"Provenance: {BUNDLED_PROVENANCE}")
        if not path.exists():
            st.error(f"The bundled table is missing: {path}")
            return None, None, None
        return path.read_bytes(), path.name, "bundled"
    up = st.file_uploader("Records CSV ('?' or blank = missing)", type=["csv"], key="risk_upload")
    if up is None:
        st.info("Upload a CSV with 0/1 outcome columns (e.g. Biopsy) and numeric feature columns.")
        return None, None, None
    data = up.getvalue()
    return data, up.name, "upload_" + hashlib.sha1(data).hexdigest()[:12]


data, name, sid = _load_bytes()
if data is None:
    st.stop()

try:
    from hcview.risk import OUTCOMES, read_records
    from hcview.risk.records import binary_columns

    df = read_records(data, name=name)
    present = [o for o in OUTCOMES if o in df.columns]
    choices = present or binary_columns(df)
except Exception as e:
    show_error(e)
    st.stop()
if not choices:
    st.error(f"{name}: no 0/1 outcome column found (expected any of {', '.join(OUTCOMES)} or another 0/1 column)")
    st.stop()

# widget state is keyed by data source (and, for the parameters, by outcome): switching either never shows
# results of another source or outcome
okey = f"risk_outcome_{sid}"
if st.session_state.get(okey) not in choices:
    st.session_state[okey] = "Biopsy" if "Biopsy" in choices else choices[0]
outcome = st.selectbox("Outcome", choices, key=okey)

k = f"risk_{sid}_{outcome}_"
for key, default in [("top_n", 8), ("folds", 5), ("repeats", 5), ("cuts", "tertiles"), ("calibration", "sigmoid"),
                     ("allow", False), ("baselines", True), ("seed", 0)]:
    st.session_state.setdefault(k + key, default)
with st.form(k + "form"):
    c1, c2, c3, c4 = st.columns(4)
    top_n = c1.number_input("Top-N features", 1, 30, key=k + "top_n")
    folds = c2.number_input("CV folds", 2, 10, key=k + "folds")
    repeats = c3.number_input("CV repeats", 1, 10, key=k + "repeats")
    seed = c4.number_input("Seed", 0, 10_000, key=k + "seed")
    d1, d2, d3 = st.columns(3)
    cuts = d1.selectbox("Risk cut points", ["tertiles", "fixed 0.05 / 0.15"], key=k + "cuts",
                        help="tertiles: between leaves, splitting each training fold's rows as close to thirds as "
                             "leaf sizes allow")
    calibration = d2.selectbox("Calibration", ["sigmoid", "isotonic"], key=k + "calibration",
                               help="fitted inside each training fold on out-of-fold tree scores")
    baselines = d3.checkbox("Baselines in the same folds", key=k + "baselines")
    allow = st.checkbox("Allow the other outcome columns as features (off = leakage guard: Hinselmann, Schiller, "
                        "Cytology and Biopsy are screening/diagnostic results, so using them is circular)",
                        key=k + "allow")
    st.form_submit_button("Run cross-validation")
params = (("top_n", int(top_n)), ("folds", int(folds)), ("repeats", int(repeats)), ("seed", int(seed)),
          ("cuts", (0.05, 0.15) if cuts.startswith("fixed") else "tertiles"), ("calibration", calibration),
          ("allow_outcome_features", bool(allow)), ("baselines", bool(baselines)))

try:
    with st.spinner(f"Cross-validating {outcome}: {int(repeats)}x{int(folds)} folds..."):
        res = _fit(data, name, outcome, params)
except Exception as e:
    show_error(e)
    st.stop()

from hcview.io_utils import safe_csv_text  # noqa: E402
from hcview.text import mean_ci_text  # noqa: E402
from hcview.viz.risk import cv_roc_figure, level_figure, scored_distribution_figure, stage1_auc_figure  # noqa: E402

cv = res.cv
st.subheader(f"{res.outcome}: cross-validated performance")
st.caption(f"{res.n_rows} rows, {res.positives} positive (prevalence {res.prevalence:.3f}). {cv.repeats} repeats x "
           f"{cv.folds} folds, stratified CV, folds stratified on {res.outcome}; each training fold refits imputation, "
           f"thresholds, top-N, tree tuning, calibration and cut points. Mean [95% CI] over "
           f"{cv.repeats * cv.folds} folds; "
           f"ran in {cv.seconds:.1f} s.")
cols = st.columns(5)
for col, (label, key) in zip(cols, [("AUROC", "auroc"), ("G-mean", "gmean"), ("Sensitivity", "sensitivity"),
                                    ("Specificity", "specificity"), ("High-level recall", "high_recall")]):
    s = res.cv_metrics[key]
    col.metric(label, "n/a" if s["mean"] is None else f"{s['mean']:.3f}", help=f"95% CI: {mean_ci_text(s)}")
st.markdown("**Two-stage model and baselines, same folds** (mean [95% CI])")
# one column per model, one row per metric: four models fit a 1280 px window, seven metrics side by side do not
cmp_t = res.comparison_frame().set_index("model").T.rename_axis("metric").reset_index()
st.dataframe(cmp_t, hide_index=True, width="stretch",
             column_config={"metric": st.column_config.TextColumn(width=130)})
st.plotly_chart(cv_roc_figure(res), width="stretch", key=k + "roc")
if cv.baselines:
    with st.expander("What the baselines are"):
        from hcview.risk.evaluation import BASELINE_DESCRIPTIONS, MODEL_LABELS

        for b in cv.baselines:
            st.markdown(f"- **{MODEL_LABELS[b]}**: {BASELINE_DESCRIPTIONS[b]}")

st.subheader("Risk levels")
lv = res.levels()
st.caption(f"Cut points ({lv['mode']}), chosen on training rows only: low if p <= {lv['c1']:.3f}, high if p >= "
           f"{lv['c2']:.3f}, medium otherwise (p = calibrated probability of the row's leaf). Counts: each row once, "
           "out of fold; rates: observed outcome rate per level over all test folds.")
for line in res.warnings():
    st.warning(line)
st.plotly_chart(level_figure(res), width="stretch", key=k + "levels")

st.subheader("The model in use")
t = res.model.tuning_
st.caption(f"The same method fitted on all {res.n_rows - res.n_dropped} rows (its in-sample figures are not "
           f"performance). Tree tuned by inner {t['inner_folds']}-fold CV ({t['rule']} rule): max depth "
           f"{t['max_depth']}, min samples per split {t['min_samples_split']}. Calibration: "
           f"{res.model.calibrator_.describe()}.")
NUM = st.column_config.NumberColumn
st.dataframe(res.selected_table(), hide_index=True, width="stretch",
             column_order=["rule", "auc", "f1", "sensitivity", "specificity", "selected_in_folds"],
             column_config={"rule": st.column_config.TextColumn("selected feature: rule", width=330),
                            "auc": NUM("AUROC", format="%.3f"), "f1": NUM("F1", format="%.3f"),
                            "sensitivity": NUM(format="%.3f"), "specificity": NUM(format="%.3f"),
                            "selected_in_folds": st.column_config.TextColumn(
                                "chosen in folds", help="in how many CV training folds stage 1 kept this feature")})
st.caption("Stage-1 thresholds of the selected features; the search details of every feature are under Stage 1 "
           "below.")
st.code(res.tree_rules, language="text")
st.dataframe(res.leaves, hide_index=True, width="stretch",
             column_order=["leaf", "rule", "n_train", "positives_train", "rate_train", "probability", "level"],
             column_config={"leaf": NUM(width=50), "rule": st.column_config.TextColumn("leaf rule", width=360),
                            "n_train": NUM("rows", width=60), "positives_train": NUM("positive", width=70),
                            "rate_train": NUM("rate", format="%.3f", width=65),
                            "probability": NUM("p (calibrated)", format="%.3f", width=100),
                            "level": st.column_config.TextColumn(width=70)})

st.subheader("Every row: level, probability and rule path (out of fold)")
rows = res.rows()
st.dataframe(rows, width="stretch", height=320, column_config={
    "_index": NUM("row", width=55), res.outcome: NUM(width=75), "fold": NUM(width=50),
    "risk_level": st.column_config.TextColumn("level", width=65),
    "risk_probability": NUM("p (calibrated)", format="%.4f", width=105),
    "predicted_positive": NUM("predicted", width=80), "rule_path": st.column_config.TextColumn("rule path", width=330)})
st.download_button("Download rows (CSV)", safe_csv_text(rows).encode(), f"risk_rows_{res.outcome}.csv", "text/csv",
                   key=k + "rows_dl")

with st.expander("Stage 1: univariate thresholds (rows of the model in use)"):
    import pandas as pd

    st.dataframe(pd.DataFrame(res.stage1), hide_index=True, width="stretch")
    st.plotly_chart(stage1_auc_figure(res), width="stretch", key=k + "stage1")
with st.expander("Leakage guard"):
    for line in res.guard_lines() or ["nothing excluded"]:
        st.markdown(f"- {line}")
if res.holdout:
    h = res.holdout
    st.caption(f"Secondary figure, single hold-out split: AUROC "
               f"{'n/a' if h['auroc'] is None else format(h['auroc'], '.3f')}; {h['note']}.")

st.subheader("Score patients")
sc = st.file_uploader("Records to score (CSV with the selected feature columns)", type=["csv"], key=k + "score")
if sc is not None:
    try:
        from hcview.risk import assign_risk

        scored = assign_risk(res, read_records(sc.getvalue(), name=sc.name))
    except Exception as e:
        show_error(e)
    else:
        st.plotly_chart(scored_distribution_figure(scored, res.outcome), width="stretch", key=k + "scored")
        st.dataframe(scored, width="stretch")
        st.download_button("Download scores (CSV)", safe_csv_text(scored).encode(), "risk_scores.csv", "text/csv",
                           key=k + "scores_dl")
