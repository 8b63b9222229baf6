import streamlit as st

from hcview.errors import InputError
from hcview.models import get_spec
from hcview.ui.common import SYNTHETIC_BANNER, show_error
from hcview.ui.evaluation import external as X
from hcview.ui.evaluation import stored as S
from hcview.ui.evaluation.model_view import render_evaluation

st.title("Evaluation")
st.caption("Where does a model fail? Metrics, confusions and failure cases from stored evaluations, "
           "and a side-by-side comparison of prediction files made elsewhere.")
tab_model, tab_ext = st.tabs(["Model", "Compare external predictions"])


# ------------------------------------------------------------------------------------------ model tab
def model_tab() -> None:
    rows = S.model_options()
    ids = list(dict.fromkeys(r["id"] for r in rows))
    info = {(r["id"], r["variant"]): r for r in rows}
    c1, c2, c3, c4 = st.columns([3, 2, 3, 2])
    model_id = c1.selectbox("Model", ids, key="ev_model",
                            format_func=lambda i: next(r["name"] for r in rows if r["id"] == i))
    variants = sorted((r["variant"] for r in rows if r["id"] == model_id), key=lambda v: v != "demo")
    variant = c2.selectbox("Variant", variants, key=f"ev_variant_{model_id}",
                           format_func=lambda v: v if info[(model_id, v)]["trained"] else f"{v} (untrained)")
    default = info[(model_id, variant)]["default_data"]
    specs = list(S.DATA_SPECS)
    if default and "PATH" not in default and default not in specs:
        specs.insert(0, default)
    pick = S.default_sample_spec(model_id, variant, default)
    data_spec = c3.selectbox("Data", specs, index=specs.index(pick) if pick in specs else 0,
                             key=f"ev_data_{model_id}_{variant}", help=f"the variant's own default: {default}")
    split = c4.selectbox("Split", S.SPLITS, index=0, key="ev_split")
    custom = st.text_input("Other data spec (ADAPTER:PATH, optional)", key="ev_custom",
                           placeholder=default if "PATH" in default else "e.g. mri:/data/brain",
                           help="PATH must lie in a dataset folder the administrator allows (HCVIEW_DATA_ROOTS)")
    if custom.strip():
        try:
            data_spec = S.check_data_spec(custom.strip())
        except Exception as e:
            show_error(e)
            return
    trained = info[(model_id, variant)]["trained"]

    out_dir = S.default_eval_dir(model_id, variant, split)
    sig = S.stored_signature(out_dir)
    stored = None
    if sig is not None:
        try:
            stored = S.load_stored(str(out_dir), sig)
        except Exception as e:
            show_error(e)
    if stored is not None and not S.matches_request(stored["metrics"], data_spec):
        st.info(f"The stored evaluation in {out_dir} was made on {S.stored_data_spec(stored['metrics'])}, "
                f"not {data_spec}: run the evaluation to replace it.")
        stored = None
    if stored is None and not trained:
        st.warning(f"{model_id}/{variant} has no trained checkpoint: an evaluation scores an UNTRAINED random "
                   "model (chance-level numbers).", icon="⚠️")
    elif stored is not None and stored["metrics"].get("untrained") and trained:
        st.info("A trained checkpoint exists now, but this stored evaluation scored the untrained model: "
                "re-run it to refresh.")
    stale = S.stale_version(stored["metrics"], model_id, variant) if stored is not None else None
    if stale:
        st.warning(f"Stale: computed on {stale}, not on the active version. Recompute it with the button below.",
                   icon="⏳")
    if info[(model_id, variant)].get("synthetic"):
        st.error(SYNTHETIC_BANNER, icon="🧪")
    label = ("Recompute on the active version" if stale else "Re-run evaluation") if stored is not None else "Run evaluation"
    b1, b2 = st.columns([1, 4])
    run = b1.button(label, key="ev_run", type="secondary" if stored is not None and not stale else "primary")
    if stored is None:
        b2.info(f"No stored evaluation for {model_id}/{variant} on {data_spec} ({split} split). "
                "Press **Run evaluation** to run the model once and store its predictions and metrics.")
    else:
        b2.caption(f"Stored evaluation: `{stored['metrics_path']}` — shown without rerunning the model; "
                   "re-run only to refresh it.")
    if run:
        ok = False
        try:
            S.run_evaluation(model_id, variant, data_spec, split, out_dir)  # shows a progress bar
            ok = True
        except Exception as e:
            show_error(e)
        if ok:
            st.rerun()  # show what was just stored
    if stored is None:
        return
    try:
        render_evaluation(stored, str(out_dir), sig, model_id, variant, data_spec, split,
                          get_spec(model_id).label_space(variant))
    except Exception as e:
        show_error(e)


# ------------------------------------------------------------------------------------ external tab
def external_tab() -> None:
    X.init_state()
    st.caption("Upload one or more predictions CSVs (one row per case, a truth and a score column per label; "
               ".csv.gz too). Several files are compared label by label with a Friedman test on AUROC.")
    st.button("Load the bundled example: a peer's CheXNet reproduction (22,433 NIH test images)",
              on_click=X.load_peer_example, key="ext_example",
              help="predictions and published per-label AUROCs of a public CheXNet reproduction, with the NIH "
                   "labels in a separate truth file joined on 'Image Index'. 13 of 14 labels reproduce within "
                   "0.0003; Pneumonia differs by 0.005 because the peer scored against NIH's revised labels "
                   "(data/samples/peer-chexnet/README.md).")
    files = st.file_uploader("Predictions CSV(s)", type=X.UPLOAD_TYPES, accept_multiple_files=True,
                             key="ext_files")
    paths_text = st.text_input("…or CSV path(s) on this machine (comma separated)", key="ext_paths",
                               help="only files in the bundled samples or in a dataset folder the administrator "
                                    "allows (HCVIEW_DATA_ROOTS)")
    with st.expander("Truths in a separate file, joined by ID",
                     expanded=bool(st.session_state.get("ext_truth_path") or st.session_state.get("ext_id_column"))):
        t1, t2 = st.columns([3, 2])
        truth_file = t1.file_uploader("Truth CSV", type=X.UPLOAD_TYPES, key="ext_truth_file")
        truth_text = t1.text_input("…or truth CSV path on this machine", key="ext_truth_path",
                                   help="only in the bundled samples or an allowed dataset folder (HCVIEW_DATA_ROOTS)")
        id_column = t2.text_input("ID column (in both files)", key="ext_id_column",
                                  placeholder="e.g. Image Index").strip() or None
        published_text = t2.text_input("Published per-label AUROCs (CSV path, optional)", key="ext_published",
                                       help="a peer's figures (columns label, auc), shown next to the reproduced ones")
    c1, c2, c3 = st.columns([2, 2, 3])
    truth = c1.text_input("Truth column pattern", key="ext_truth")
    score = c2.text_input("Score column pattern", key="ext_score")
    labels_text = c3.text_input("Labels (optional, comma separated)", key="ext_labels",
                                help="default: every label with both a truth and a score column")
    n_boot = st.slider("Bootstrap resamples for a 95% CI of the mean AUROC (0 = none)", 0, 1000, 0, 100,
                       key="ext_boot")
    if not files and not paths_text.strip():
        st.info("Upload a predictions CSV (or give a path) to score it.")
        return
    try:
        labels = X.parse_label_list(labels_text)
        labs = tuple(labels) if labels else None
        truth_paths = X.parse_path_list(truth_text, "truth file")
        if len(truth_paths) + bool(truth_file) > 1:
            raise InputError("give one truth file (an upload or a path)")
        if files or truth_file:  # uploads; typed prediction paths are read like uploads next to an uploaded truth
            uploads = [(f.name, f.getvalue()) for f in files] or [(p.name, p.read_bytes())
                                                                  for p in X.parse_path_list(paths_text)]
            truth_upload = ((truth_file.name, truth_file.getvalue()) if truth_file else
                            (truth_paths[0].name, truth_paths[0].read_bytes()) if truth_paths else None)
            scored = X.cached_score_uploaded(tuple(uploads), truth, score, labs, n_boot, truth_upload, id_column)
        else:
            paths = X.parse_path_list(paths_text)
            scored = X.cached_score_paths(tuple(str(p) for p in paths),
                                          tuple(p.stat().st_mtime for p in paths + truth_paths), truth, score, labs,
                                          n_boot, str(truth_paths[0]) if truth_paths else None, id_column)
    except Exception as e:
        show_error(e)
        return
    X.render_external(scored)
    try:
        X.render_published(scored, published_text)
    except Exception as e:
        show_error(e)


from hcview.ui.evaluation.agreement import render_reader_agreement  # noqa: E402

with tab_model:
    model_tab()
    render_reader_agreement()  # readers' feedback on the models' findings (Case review), not on external files
with tab_ext:
    external_tab()
