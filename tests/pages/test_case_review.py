"""AppTest of the Case review page: a bundled sample through (untrained, flagged) models, each paper's panel,
Grad-CAM / LRP with the LRP details, an unreadable file as one line, feedback saved, and the reader-agreement table
of the Evaluation page."""
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]
IDS = {"CIHMLC": "cihmlc", "HC-Net": "hcnet", "Res-MTNet": "resmtnet", "MedFusionNet": "medfusionnet"}


def _page():
    return AppTest.from_file(str(ROOT / "pages/2_Case_review.py"), default_timeout=240)


def _open(at, sample: str, model: str, mc: int = 2):
    at.run()
    assert not at.exception, at.exception
    at.selectbox(key="case_sample").select(next(o for o in at.selectbox(key="case_sample").options if sample in o))
    at.run()
    at.selectbox(key="case_model").set_value(IDS[model])
    at.number_input(key="case_mc").set_value(mc)
    at.run()
    assert not at.exception, at.exception
    return at


@pytest.mark.parametrize("model,sample", [("CIHMLC", "00000001_000.png"), ("HC-Net", "brain-mri/"),
                                          ("Res-MTNet", "00027426_000.png"), ("MedFusionNet", "nih-cxr-1000/")])
def test_sample_through_each_papers_panel(tmp_models_dir, tmp_var_dir, model, sample):
    at = _open(_page(), sample, model)
    assert at.session_state["case_tab"] == "Findings"
    assert any("UNTRAINED" in e.value for e in at.error)  # every model is untrained here, and says so
    assert len(at.get("imgs")) >= 1 or len(at.get("image")) >= 1
    assert len(at.dataframe) >= 1  # the findings tree
    text = " ".join(m.value for m in at.markdown)
    assert "says" in text
    if model == "HC-Net":
        assert len(at.get("plotly_chart")) >= 1  # the sunburst
    if model == "MedFusionNet":  # a bundled NIH sample brings its own age / sex / view
        assert "record" in text and any("bundled sample's own table" in c.value for c in at.caption)
    if sample == "00000001_000.png":
        assert "Cardiomegaly" in text  # the ground truth beside the prediction


def test_explanations_show_gradcam_lrp_and_details(tmp_models_dir, tmp_var_dir):
    at = _open(_page(), "00000001_000.png", "CIHMLC")
    at.session_state["case_tab"] = "Explanations"
    at.run()
    assert not at.exception, at.exception
    md = " ".join(m.value for m in at.markdown)
    assert "Relevance conservation" in md  # the figure is shown; "approximate" only where the rules are (not CIHMLC now)
    assert at.slider(key="case_alpha").value == 0.5
    at.slider(key="case_alpha").set_value(0.8)
    at.run()
    assert not at.exception
    assert any("validity" in i.value for i in at.info)


def test_unreadable_file_is_one_line_and_worklist_lists_it(tmp_models_dir, tmp_var_dir):
    at = _page()
    at.session_state["case_worklist"] = [{"id": "x" * 64, "name": "broken<b>.png", "file_name": "broken<b>.png",
                                          "src": b"not an image", "frame": 0, "frames": 1, "kind": "?", "truth": None,
                                          "record": None, "sample": False,
                                          "error": "broken<b>.png: not a PNG, JPEG or DICOM image"}]
    at.session_state["case_tab"] = "Findings"
    at.run()
    assert not at.exception, at.exception
    err = [e.value for e in at.error if "cannot be read" in e.value]
    assert len(err) == 1 and "\\<b\\>" in err[0]  # escaped
    at.session_state["case_tab"] = "Worklist"
    at.run()
    assert not at.exception
    df = at.dataframe[0].value
    assert list(df["status"]) == ["unreadable"]


def test_feedback_saved_and_agreement_table(tmp_models_dir, tmp_var_dir):
    at = _open(_page(), "brain-mri/", "HC-Net")
    at.session_state["case_tab"] = "Feedback & report"
    at.run()
    assert not at.exception, at.exception
    at.text_input(key="case_reader").set_value("Dr <b>A</b>")
    at.run()
    seg = [s for s in at.get("button_group")]
    assert seg, "one agree / disagree / unsure control per finding"
    seg[0].set_value("disagree")
    at.button[[b.label for b in at.button].index("Save feedback")].click()
    at.run()
    assert not at.exception, at.exception
    assert any("Saved 1 verdict" in s.value for s in at.success)
    from hcview.report import feedback

    rows = feedback.all_rows()
    assert len(rows) == 1 and rows[0]["verdict"] == "disagree" and rows[0]["reader"] == "Dr <b>A</b>"

    def agreement_page():
        from hcview.ui.evaluation.agreement import render_reader_agreement

        render_reader_agreement()

    ev = AppTest.from_function(agreement_page, default_timeout=60)
    ev.run()
    assert not ev.exception, ev.exception
    df = ev.dataframe[0].value
    assert int(df["disagree"].sum()) == 1 and df["agreement"].iloc[0] == 0.0
