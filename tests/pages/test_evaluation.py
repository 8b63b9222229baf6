"""Evaluation page: AppTest of both tabs plus the helpers it composes (hcview.ui.evaluation, the stored
evaluation's readers in hcview.infer.evaluate, hcview.metrics, hcview.viz)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from hcview.errors import CsvError
from hcview.infer.evaluate import head_arrays, stored_signature
from hcview.metrics import cell_cases, compute_classification, compute_head_cis, compute_report, failure_frames
from hcview.models import get_spec
from hcview.ui.evaluation import external as X
from hcview.ui.evaluation import stored as S
from hcview.ui.evaluation.softmax_view import selected_cell
from hcview.viz.confusion import add_cell_picker, stored_confusion
from hcview.viz.tables import comparison_tables

ROOT = Path(__file__).resolve().parent.parent.parent
PAGE = str(ROOT / "views/4_Evaluation.py")


# ------------------------------------------------------------------------------------------- fixtures
def _external_csv(seed: int, labels=("Atelectasis", "Cardiomegaly", "Effusion", "Edema"), n: int = 80) -> bytes:
    rng = np.random.default_rng(seed)
    d = {}
    for lab in labels:
        y = rng.integers(0, 2, n)
        d[f"{lab}_GT"] = y
        d[f"{lab}_Pred"] = np.clip(0.35 * y + 0.65 * rng.random(n), 0, 1).round(4)
    return pd.DataFrame(d).to_csv(index=False).encode()


def write_stored_eval(var_dir: Path, model_id: str = "hcnet", variant: str = "demo", split: str = "test",
                      data_spec: str = "sample:brain-mri", n: int = 60, seed: int = 0) -> tuple[Path, dict]:
    """A stored evaluation written exactly as ``evaluate_model`` writes it (its own ``predictions_frame``
    and ``compute_report``), from synthetic scores over real brain-MRI sample cases (no model run)."""
    from hcview.infer.evaluate import default_out_dir, predictions_frame
    from hcview.io_utils import atomic_write_json
    from hcview.metrics._util import nan_to_none

    ls = get_spec(model_id).label_space(variant)
    rng = np.random.default_rng(seed)
    root = ROOT / "data/samples/brain-mri"
    t = pd.read_csv(root / "splits.csv")
    t = t[t["split"] == "test"].groupby("label").head(n // 4).reset_index(drop=True)
    n = len(t)
    truth, scores = {}, {}
    for h in ls.heads:
        if h.name == "disease":
            y = np.array([h.labels.index(lab) for lab in t["label"]])
        elif h.name == "category":
            y = np.array([ls.head("category").labels.index(ls.parent_of(lab)[1]) for lab in t["label"]])
        else:
            y = np.zeros(n, int)
        logits = rng.normal(size=(n, h.size))
        logits[np.arange(n), y] += 1.5
        p = np.exp(logits)
        truth[h.name], scores[h.name] = y, p / p.sum(1, keepdims=True)
    out = default_out_dir(model_id, variant, split)
    assert out.is_relative_to(var_dir)
    out.mkdir(parents=True, exist_ok=True)
    predictions_frame(ls, t["path"].tolist(), [str(root / p) for p in t["path"]], truth, scores).to_csv(
        out / "predictions.csv", index=False)
    report = compute_report(None, truth, scores, ls)
    report.update({"model": model_id, "variant": variant, "data": data_spec, "split": split, "untrained": True,
                   "checkpoint": None, "synthetic": False, "n_cases": n})
    report = nan_to_none(report)
    report["predictions_csv"] = str(out / "predictions.csv")
    atomic_write_json(out / "metrics.json", report)
    return out, report


# ------------------------------------------------------------------------------- external CSV helpers
def test_score_uploaded_two_files_side_by_side_with_friedman():
    scored = X.score_uploaded_predictions([("model a.csv", _external_csv(1)), ("b.csv", _external_csv(2))])
    assert scored["names"] == ["model a", "b"]
    per_label, summary = comparison_tables(scored["result"])
    assert per_label["label"].tolist() == ["Atelectasis", "Cardiomegaly", "Effusion", "Edema"]
    assert {"AUROC · model a", "AUROC · b", "AUPRC · model a", "AUPRC · b"} <= set(per_label.columns)
    assert per_label["AUROC · b"].between(0.5, 1.0).all()
    assert summary["file"].tolist() == ["model a", "b"]
    fr = scored["result"]["friedman"]
    assert fr["k"] == 2 and fr["n_blocks"] == 4 and 0.0 <= fr["p_value"] <= 1.0
    assert set(fr["mean_ranks"]) == {"model a", "b"}
    assert X.friedman_text(fr).startswith("Friedman test on per-label AUROC over 4 labels")
    # ROC curves for one file: one trace per label plus chance
    fig = X.external_roc_figure(scored, "b")
    assert len(fig.data) == 5


def test_score_uploaded_single_file_and_label_subset():
    scored = X.score_uploaded_predictions([("x.csv", _external_csv(3))], labels=["Effusion", "Edema"])
    per_label, summary = comparison_tables(scored["result"])
    assert per_label["label"].tolist() == ["Effusion", "Edema"]
    assert scored["result"]["friedman"] is None and X.friedman_text(None) is None
    assert summary.loc[0, "cases"] == 80


@pytest.mark.parametrize("files, needle", [
    ([("bad.csv", b"a,b\n1,2\n")], "no label with both"),
    ([("empty.csv", b"")], "empty"),
    ([("bin.csv", b"\x00\x01\x02")], "binary"),
    ([("odd.csv", b"A_GT,A_Pred\n2,0.3\n1,0.2\n")], "must hold 0 or 1"),
])
def test_score_uploaded_bad_files_one_line_errors(files, needle):
    with pytest.raises(CsvError) as ei:
        X.score_uploaded_predictions(files)
    msg = str(ei.value)
    assert needle in msg and "\n" not in msg


def test_custom_patterns():
    csv = b"case,gt_A,score_A,gt_B,score_B\n1,1,0.9,0,0.2\n2,0,0.1,1,0.7\n3,1,0.6,0,0.4\n"
    scored = X.score_uploaded_predictions([("p.csv", csv)], "gt_{label}", "score_{label}")
    per_label, _ = comparison_tables(scored["result"])
    assert per_label["label"].tolist() == ["A", "B"]
    assert per_label["AUROC · p"].tolist() == [1.0, 1.0]


# ------------------------------------------------------------------------------------- model helpers
def test_head_arrays_and_failures_from_stored(tmp_var_dir):
    d, report = write_stored_eval(tmp_var_dir)
    sig = stored_signature(d)
    stored = S.load_stored(str(d), sig)
    ls = get_spec("hcnet").label_space("demo")
    y, s = head_arrays(stored["predictions"], ls.head("disease"))
    assert s.shape == (len(y), 4) and np.allclose(s.sum(1), 1)
    assert compute_classification(y, s.argmax(1), list(ls.head("disease").labels))["accuracy"] == \
        pytest.approx(report["heads"]["disease"]["accuracy"])
    # the bootstrap's point estimates are the report's numbers
    cis = compute_head_cis("softmax", y, s, list(ls.head("disease").labels), n_boot=50)
    for k in ("accuracy", "balanced_accuracy", "f1_macro", "f1_weighted", "g_mean"):
        assert cis[k]["estimate"] == pytest.approx(report["heads"]["disease"][k])
        assert cis[k]["low"] <= cis[k]["estimate"] <= cis[k]["high"]
    err, unc = failure_frames("softmax", y, s, list(ls.head("disease").labels), k=5)
    assert (err["true"] != err["pred"]).all() and (unc["true"] == unc["pred"]).all()
    assert err["prob"].is_monotonic_decreasing
    # the cases behind every CM cell add up to the stored matrix
    cm, labels = stored_confusion(report["heads"]["disease"], "disease")
    for i, t in enumerate(labels):
        for j, p in enumerate(labels):
            assert len(cell_cases(y, s, list(ls.head("disease").labels), t, p, ls, "disease")) == cm[i, j]
    cmc, groups = stored_confusion(report["heads"]["disease"], "category")
    assert groups == ["Brain / normal", "Brain / tumour"]
    assert len(cell_cases(y, s, list(ls.head("disease").labels), groups[1], groups[0], ls, "category")) == cmc[1, 0]


def test_sigmoid_bootstrap_matches_report():
    rng = np.random.default_rng(0)
    y = (rng.random((120, 5)) < 0.3).astype(float)
    s = np.round(np.clip(0.4 * y + rng.random((120, 5)) * 0.6, 0, 1), 1)  # ties on purpose
    y[3, 2] = np.nan
    from hcview.metrics import compute_multilabel_auc

    ref = compute_multilabel_auc(y, s)
    cis = compute_head_cis("sigmoid", y, s, list("abcde"), n_boot=30)
    for k in ("mean_auroc", "weighted_auroc", "mean_auprc"):
        assert cis[k]["estimate"] == pytest.approx(ref[k])


# ------------------------------------------------------------------------------------------ AppTest
def _z(trace: dict) -> np.ndarray:
    """A heatmap's z from plotly JSON (plain lists or plotly's base64 typed-array encoding)."""
    z = trace["z"]
    if isinstance(z, dict) and "bdata" in z:
        import base64

        shape = tuple(int(v) for v in str(z["shape"]).split(","))
        return np.frombuffer(base64.b64decode(z["bdata"]), dtype=np.dtype(z["dtype"])).reshape(shape)
    return np.asarray(z, dtype=float)


def _page(tmp_var_dir) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def test_page_without_stored_evaluation_offers_run(tmp_var_dir, tmp_models_dir):
    at = _page(tmp_var_dir)
    assert at.title[0].value == "Evaluation"
    assert at.selectbox(key="ev_model").value == "hcnet"
    assert at.selectbox(key="ev_variant_hcnet").value == "demo"
    assert at.selectbox(key="ev_data_hcnet_demo").value == "sample:brain-mri"
    assert at.selectbox(key="ev_split").value == "test"
    assert any("No stored evaluation for hcnet/demo" in i.value for i in at.info)
    assert at.button(key="ev_run").label == "Run evaluation"
    assert any("UNTRAINED" in w.value for w in at.warning)
    assert not at.error


def test_page_shows_stored_evaluation(tmp_var_dir, tmp_models_dir):
    _, report = write_stored_eval(tmp_var_dir)
    at = _page(tmp_var_dir)
    assert not at.error, [e.value for e in at.error]
    assert at.button(key="ev_run").label == "Re-run evaluation"
    assert at.radio(key="ev_head").value == "disease"
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Accuracy"] == f"{report['heads']['disease']['accuracy']:.3f}"
    assert metrics["Hierarchy consistency"] == f"{report['consistency']['rate']:.3f}"
    assert metrics["Checkpoint"] == "untrained"
    assert any("UNTRAINED random model" in w.value for w in at.warning)
    # per-class table in taxonomy order
    ls = get_spec("hcnet").label_space("demo")
    per_class = next(df.value for df in at.dataframe if "class" in df.value.columns)
    assert per_class["class"].tolist() == ls.disease_order()
    assert per_class["category"].tolist() == ["normal", "tumour", "tumour", "tumour"]
    assert per_class["support"].sum() == report["n_cases"]
    # the confusion matrix heatmap is drawn with the stored counts
    charts = at.get("plotly_chart")
    figs = [json.loads(c.proto.spec) for c in charts]
    heat = [f for f in figs if f["data"] and f["data"][0].get("type") == "heatmap"]
    assert heat, "no confusion-matrix heatmap"
    assert heat[0]["data"][0]["x"] == ls.disease_order()
    assert _z(heat[0]["data"][0]).sum() == report["n_cases"]
    assert _z(heat[0]["data"][0]).shape == (4, 4)
    # ranked confusions read 'a -> b: n'
    conf = next(df.value for df in at.dataframe if "true -> predicted" in df.value.columns)
    assert conf["true -> predicted"].str.contains(" -> ").all()
    # category level collapses the matrix to 2 x 2
    at.radio(key="ev_level").set_value("category").run()
    assert not at.exception
    figs = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    heat = [f for f in figs if f["data"] and f["data"][0].get("type") == "heatmap"]
    assert heat[0]["data"][0]["x"] == ["Brain / normal", "Brain / tumour"]


def test_page_stored_evaluation_for_other_data_is_not_reused(tmp_var_dir, tmp_models_dir):
    write_stored_eval(tmp_var_dir, data_spec="sample:phantoms")
    at = _page(tmp_var_dir)
    assert any("was made on sample:phantoms" in i.value for i in at.info)
    assert at.button(key="ev_run").label == "Run evaluation"


def test_page_external_tab_scores_csv_paths(tmp_path, tmp_var_dir, tmp_models_dir, monkeypatch):
    monkeypatch.setenv("HCVIEW_DATA_ROOTS", str(tmp_path))  # an allowed dataset root
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    a.write_bytes(_external_csv(1))
    b.write_bytes(_external_csv(2))
    at = _page(tmp_var_dir)
    at.text_input(key="ext_paths").input(f"{a}, {b}").run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    per_label = next(df.value for df in at.dataframe if "AUROC · a" in df.value.columns)
    assert per_label["label"].tolist() == ["Atelectasis", "Cardiomegaly", "Effusion", "Edema"]
    assert "AUROC · b" in per_label.columns
    texts = [x.value for x in list(at.info) + list(at.success)]
    assert any(t.startswith("Friedman test on per-label AUROC over 4 labels") for t in texts)
    # a bad file: one line, no traceback
    bad = tmp_path / "bad.csv"
    bad.write_text("x,y\n1,2\n")
    at.text_input(key="ext_paths").input(str(bad)).run()
    assert not at.exception
    assert len(at.error) == 1 and "no label with both" in at.error[0].value


def test_cell_picker_and_selection_event():
    from hcview.viz.confusion import confusion_heatmap

    cm = np.array([[5, 1], [2, 7]])
    fig = add_cell_picker(confusion_heatmap(cm, ["a", "b"]), cm, ["a", "b"])
    cells = fig.data[-1]
    assert list(zip(cells.y, cells.x)) == [("a", "a"), ("a", "b"), ("b", "a"), ("b", "b")]
    assert [int(c[0]) for c in cells.customdata] == [5, 1, 2, 7]
    event = {"selection": {"points": [{"x": "a", "y": "b", "curve_number": 1}]}}
    assert selected_cell(event) == ("b", "a")
    assert selected_cell({"selection": {"points": []}}) is None
    assert selected_cell(None) is None


def test_page_run_button_evaluates_a_registered_model(tmp_var_dir, tmp_models_dir):
    """End to end: no stored evaluation -> 'Run evaluation' runs evaluate_model on a tiny registered
    (untrained-weights) hcnet demo checkpoint -> the page shows what it stored, in taxonomy order."""
    import torch

    from hcview.infer import predictor
    from hcview.models.checkpoint import default_checkpoint_path, save_checkpoint
    from hcview.models.registry import create_model

    torch.manual_seed(0)
    save_checkpoint(create_model("hcnet", "demo", pretrained=False), default_checkpoint_path("hcnet", "demo"),
                    {"id": "hcnet", "variant": "demo"})
    predictor._CACHE.clear()  # a predictor cached by another test would not see this checkpoint
    S.cached_head_arrays.clear()
    at = AppTest.from_file(PAGE, default_timeout=120)
    at.run()
    assert at.selectbox(key="ev_variant_hcnet").value == "demo"  # trained now: no "(untrained)" flag
    assert at.button(key="ev_run").label == "Run evaluation"
    at.button(key="ev_run").click().run()
    assert not at.exception, [e.message for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    out = tmp_var_dir / "eval" / "hcnet-demo-test"
    stored = json.loads((out / "metrics.json").read_text())
    assert stored["data"] == "sample:brain-mri" and stored["untrained"] is False
    assert at.button(key="ev_run").label == "Re-run evaluation"
    ls = get_spec("hcnet").label_space("demo")
    per_class = next(df.value for df in at.dataframe if "class" in df.value.columns)
    assert per_class["class"].tolist() == ls.disease_order()
    assert per_class["support"].sum() == stored["n_cases"] == len(pd.read_csv(out / "predictions.csv"))
    heat = [f for f in (json.loads(c.proto.spec) for c in at.get("plotly_chart"))
            if f["data"] and f["data"][0].get("type") == "heatmap"]
    assert _z(heat[0]["data"][0]).sum() == stored["n_cases"]
    assert {m.label: m.value for m in at.metric}["Checkpoint"] == "version 1"  # the active version it scored
    # a promotion makes the stored evaluation stale: it says on which version it was computed, and offers a recompute
    from hcview.models import versions

    torch.manual_seed(1)
    newer = tmp_var_dir / "run" / "m.pt"
    newer.parent.mkdir()
    save_checkpoint(create_model("hcnet", "demo", pretrained=False), newer, {"id": "hcnet", "variant": "demo"})
    versions.promote("hcnet", "demo", versions.add_version("hcnet", "demo", newer))
    at.run()
    assert any("Stale: computed on version 1" in w.value for w in at.warning)
    assert at.button(key="ev_run").label == "Recompute on the active version"


def test_page_run_on_incompatible_data_is_one_line_error(tmp_var_dir, tmp_models_dir):
    at = _page(tmp_var_dir)
    at.selectbox(key="ev_model").select("resmtnet").run()
    assert at.selectbox(key="ev_data_resmtnet_demo").value == "sample:nodules"
    at.selectbox(key="ev_data_resmtnet_demo").select("sample:brain-mri").run()
    at.button(key="ev_run").click().run()
    assert not at.exception, [e.message for e in at.exception]
    assert len(at.error) == 1 and "\n" not in at.error[0].value
    assert "brain-mri" in at.error[0].value
    assert not (tmp_var_dir / "eval" / "resmtnet-demo-test" / "metrics.json").exists()


def test_multilabel_cases_behind_a_label_cell():
    import numpy as np

    from hcview.metrics import label_cell_cases as label_cell_frame
    from hcview.metrics import label_cell_counts

    y = np.array([[1, 0], [0, 0], [1, 1], [0, 1], [0, np.nan]], float)
    s = np.array([[0.9, 0.2], [0.7, 0.1], [0.3, 0.8], [0.95, 0.4], [0.1, 0.9]], float)
    labels = ["A", "B"]
    fp = label_cell_frame(y, s, labels, "A", "false positives")
    assert list(fp["row"]) == [3, 1]  # most confident error first
    assert list(label_cell_frame(y, s, labels, "A", "false negatives")["row"]) == [2]
    assert list(label_cell_frame(y, s, labels, "A", "true positives")["row"]) == [0]
    assert label_cell_counts(y, s, labels, "B") == {"false positives": 0, "false negatives": 1,
                                                      "true positives": 1, "true negatives": 2}  # NaN truth skipped
    assert set(fp["true"]) == {"no"} and set(fp["pred"]) == {"yes"}


# ------------------------------------------------------------------------------- allowed data roots only
def _all_text(at: AppTest) -> str:
    parts = [e.value for kind in ("error", "info", "warning", "success", "markdown", "caption", "code")
             for e in at.get(kind)]
    parts += [str(df.value.to_dict()) for df in at.dataframe]
    return "\n".join(str(p) for p in parts)


def test_page_refuses_paths_outside_the_data_roots(tmp_path, tmp_var_dir, tmp_models_dir, monkeypatch):
    """Neither the CSV-path box nor the data-spec field opens a path outside the bundled samples and
    HCVIEW_DATA_ROOTS, and the refusal reads the same whether the path exists or not."""
    secret = tmp_path / "outside" / "secret.csv"
    secret.parent.mkdir()
    secret.write_text("Atelectasis_GT,Atelectasis_Pred\n1,0.9\n0,0.1\nTOPSECRET,0\n")
    allowed = tmp_path / "allowed"
    allowed.mkdir()
    monkeypatch.setenv("HCVIEW_DATA_ROOTS", str(allowed))
    at = _page(tmp_var_dir)
    messages = {}
    for path in ("/etc/passwd", str(secret), str(tmp_path / "outside" / "missing.csv")):
        at.text_input(key="ext_paths").input(path).run()
        assert not at.exception
        assert len(at.error) == 1 and "outside the data folders" in at.error[0].value
        text = _all_text(at)
        assert "root:" not in text and "TOPSECRET" not in text and "Atelectasis" not in text
        messages[path] = at.error[0].value.replace(path, "PATH")
    assert len(set(messages.values())) == 1  # existing or not: the same line
    # a link inside an allowed root that points outside it is refused too
    (allowed / "link.csv").symlink_to(secret)
    at.text_input(key="ext_paths").input(str(allowed / "link.csv")).run()
    assert len(at.error) == 1 and "outside the data folders" in at.error[0].value
    assert "TOPSECRET" not in _all_text(at)

    at.text_input(key="ext_paths").input("").run()
    spec_messages = set()
    for spec in ("csv:/etc/passwd", f"mri:{secret.parent}", "folder:/no/such/folder"):
        at.text_input(key="ev_custom").input(spec).run()
        assert not at.exception
        errors = [e.value for e in at.error]
        assert len(errors) == 1 and "outside the data folders" in errors[0], errors
        assert "not found" not in errors[0] and "root:" not in _all_text(at)
        spec_messages.add(errors[0].replace(spec.split(":", 1)[1], "PATH"))
        assert not [b for b in at.button if b.key == "ev_run"]  # nothing to run on a refused spec
    assert len(spec_messages) == 1


# ------------------------------------------------------------------------------ multi-label heads, sizes
def write_stored_multilabel_eval(var_dir: Path, model_id: str = "medfusionnet", n: int = 40, seed: int = 0) -> dict:
    """A stored evaluation of a multi-label model written with ``predictions_frame`` and ``compute_report``
    over real NIH sample images and synthetic scores."""
    from hcview.infer.evaluate import default_out_dir, predictions_frame
    from hcview.io_utils import atomic_write_json
    from hcview.metrics._util import nan_to_none

    spec = get_spec(model_id)
    ls = spec.label_space("demo")
    head = ls.heads[0]
    root = ROOT / "data/samples/nih-cxr-1000"
    t = pd.read_csv(root / "labels.csv").head(n)
    rng = np.random.default_rng(seed)
    y = (rng.random((n, head.size)) < 0.3).astype(float)
    s = np.clip(0.3 * y + 0.7 * rng.random((n, head.size)), 0, 1)
    out = default_out_dir(model_id, "demo", "test")
    out.mkdir(parents=True, exist_ok=True)
    predictions_frame(ls, t["image_index"].tolist(), [str(root / p) for p in t["path"]], {head.name: y},
                      {head.name: s}).to_csv(out / "predictions.csv", index=False)
    report = compute_report(None, {head.name: y}, {head.name: s}, ls)
    report.update({"model": model_id, "variant": "demo", "split": "test", "untrained": False, "checkpoint": None,
                   "synthetic": False, "n_cases": n,
                   "data": S.default_sample_spec(model_id, "demo", spec.variant("demo").data)})
    atomic_write_json(out / "metrics.json", nan_to_none(report))
    return {"y": y, "s": s, "labels": list(head.labels)}


def test_page_multilabel_opens_a_non_empty_cell(tmp_var_dir, tmp_models_dir):
    from hcview.metrics import label_cell_counts

    d = write_stored_multilabel_eval(tmp_var_dir)
    at = _page(tmp_var_dir)
    at.selectbox(key="ev_model").select("medfusionnet").run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    per_label = next(df.value for df in at.dataframe if "AUROC" in df.value.columns)
    assert per_label["label"].tolist() == d["labels"]
    lab = at.selectbox(key="ev_cell_label").value
    wrong = {x: sum(v for c, v in label_cell_counts(d["y"], d["s"], d["labels"], x).items() if c.startswith("false"))
             for x in d["labels"]}
    assert wrong[lab] == max(wrong.values())  # the label with the most wrong decisions first
    cell = at.radio(key=f"ev_cell_kind_{lab}").value
    assert cell.startswith("false") and label_cell_counts(d["y"], d["s"], d["labels"], lab)[cell] > 0
    assert not any(i.value == "No cases." for i in at.info)
    # moving a label's threshold updates its sensitivity / specificity / PPV / NPV on these cases
    from hcview.metrics.operating import compute_operating_point

    op_label = at.selectbox(key="ev_op_label").value
    j = d["labels"].index(op_label)
    at.slider(key=f"ev_op_thr_{op_label}").set_value(0.3).run()
    table = next(df.value for df in at.dataframe if "NPV" in df.value.columns)
    row = table[table[""] == "this threshold"].iloc[0]
    want = compute_operating_point(d["y"][:, j], d["s"][:, j], 0.3)
    assert row["threshold"] == 0.3 and row["sensitivity"] == want["sensitivity"] and row["TP"] == want["tp"]


def test_confusion_matrix_40x40_is_readable():
    """The paper's 40 diseases: counts in every non-empty cell, cells of at least 24 px, zoomable, and a
    click target per cell as large as the cell."""
    from hcview.models.labels import load_label_space
    from hcview.viz.confusion import cell_px, confusion_heatmap

    ls = load_label_space("hcnet_paper")
    order = ls.disease_order()
    cm = np.random.default_rng(0).integers(0, 200, (40, 40))
    fig = add_cell_picker(confusion_heatmap(cm, order, ls), cm, order)
    hm = fig.data[0]
    assert hm.texttemplate == "%{text}" and hm.text[0][0] == str(cm[0, 0]) and hm.textfont.size >= 9
    assert cell_px(40) >= 24 and fig.layout.height >= 40 * cell_px(40)
    assert fig.layout.dragmode == "zoom" and fig.layout.xaxis.tickfont.size >= 10
    assert fig.data[-1].marker.size >= 0.8 * cell_px(40)


def test_page_external_truth_file_joined_by_id(tmp_path, tmp_var_dir, tmp_models_dir, monkeypatch):
    from sklearn.metrics import roc_auc_score

    monkeypatch.setenv("HCVIEW_DATA_ROOTS", str(tmp_path))
    rng = np.random.default_rng(0)
    ids = [f"{i:08d}_000.png" for i in range(50)]
    y = rng.integers(0, 2, 50)
    s = np.round(np.clip(0.5 * y + 0.5 * rng.random(50), 0, 1), 4)
    pd.DataFrame({"Image Index": ids + ["extra"], "Edema_Pred": list(s) + [0.5]}).to_csv(tmp_path / "P.csv", index=False)
    pd.DataFrame({"Image Index": ids[::-1], "Edema_GT": y[::-1]}).to_csv(tmp_path / "T.csv", index=False)
    at = _page(tmp_var_dir)
    at.text_input(key="ext_paths").input(str(tmp_path / "P.csv"))
    at.text_input(key="ext_truth_path").input(str(tmp_path / "T.csv"))
    at.text_input(key="ext_id_column").input("Image Index").run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert any("50 rows matched; 1 prediction rows without truth and 0 truth rows" in w.value for w in at.warning)
    per_label = next(df.value for df in at.dataframe if "AUROC · P" in df.value.columns)
    assert per_label["AUROC · P"].iloc[0] == pytest.approx(roc_auc_score(y, s))
    # the ID column without a truth file, and a truth file outside the allowed roots: one line each
    at.text_input(key="ext_truth_path").input("").run()
    assert len(at.error) == 1 and "ID column" in at.error[0].value
    at.text_input(key="ext_truth_path").input("/etc/passwd").run()
    assert len(at.error) == 1 and "outside the data folders" in at.error[0].value


def test_page_bundled_peer_example_reproduces_published(tmp_var_dir, tmp_models_dir):
    """One click fills the tab with the peer CheXNet reproduction; the published AUROCs show next to the scored ones."""
    at = _page(tmp_var_dir)
    at.button(key="ext_example").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert at.text_input(key="ext_id_column").value == "Image Index"
    assert any("22433 rows matched; 0 prediction rows without truth and 0 truth rows" in i.value for i in at.info)
    table = next(df.value for df in at.dataframe if "published AUROC" in df.value.columns)
    assert len(table) == 14
    diffs = table.set_index("label")["difference"].abs()
    assert diffs.drop("Pneumonia").max() < 5e-4 and diffs["Pneumonia"] < 6e-3
    cap = next(c.value for c in at.caption if "14 labels compared" in c.value)
    assert "13 of 14 within 0.001" in cap and "Differs by more than 0.001: Pneumonia (-0.0048)" in cap
    assert any("Why Pneumonia differs" in i.value for i in at.info)  # the bundled example explains its one gap
