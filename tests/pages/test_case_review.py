"""AppTest of the Case review page: a bundled sample through (untrained, flagged) models, each paper's panel,
Grad-CAM / LRP with the LRP details, an unreadable file as one line, feedback saved, and the reader-agreement table
of the Evaluation page."""
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]
IDS = {"CIHMLC": "cihmlc", "HC-Net": "hcnet", "Res-MTNet": "resmtnet", "MedFusionNet": "medfusionnet"}


def _page():
    return AppTest.from_file(str(ROOT / "views/2_Case_review.py"), default_timeout=240)


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
    assert "Conserving rules for this architecture" in md and "no exact LRP rule" not in md  # CIHMLC: chain rules
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


def _multiframe_dicom(path, frames: int = 3) -> None:
    import numpy as np
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.Modality, ds.PatientName = "CT", "Doe^Jane"
    ds.Rows = ds.Columns = 32
    ds.NumberOfFrames, ds.SamplesPerPixel, ds.PhotometricInterpretation = frames, 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.PixelData = (np.arange(frames * 32 * 32) % 4000).astype(np.uint16).tobytes()
    ds.save_as(str(path), enforce_file_format=True)


def test_multiframe_dicom_lists_each_frame_and_batch_runs_the_worklist(tmp_models_dir, tmp_var_dir, tmp_path):
    dcm = tmp_path / "series.dcm"
    _multiframe_dicom(dcm)

    def add(path):
        from hcview.ui.case import state as S

        S.add_file(open(path, "rb").read(), "series.dcm")
        S.add_file(b"garbage", "bad.png")

    at = _page()
    seed = AppTest.from_function(add, args=(str(dcm),), default_timeout=60)
    seed.run()
    assert not seed.exception, seed.exception
    items = seed.session_state["case_worklist"]
    assert [it["name"] for it in items] == ["series.dcm · frame 1/3", "series.dcm · frame 2/3", "series.dcm · frame 3/3",
                                            "bad.png"]
    assert items[1]["id"].endswith("#1") and items[3]["error"]
    at.session_state["case_worklist"] = items
    at.session_state["case_tab"] = "Worklist"
    at.run()
    at.selectbox(key="case_model").set_value("hcnet")
    at.number_input(key="case_mc").set_value(2)
    at.run()
    run = next(b for b in at.button if b.label.startswith("Run all 4"))
    run.click()
    at.run()
    assert not at.exception, at.exception
    df = at.session_state["case_batch"]["csv"]
    assert list(df["path"]) == [it["name"] for it in items]
    assert (df["error"] != "").tolist() == [False, False, False, True]
    assert {"ood", "ood_score", "uncertain", "p:disease:glioma", "sd:disease:glioma"} <= set(df.columns)
    status = list(at.dataframe[0].value["status"])
    assert status[3] == "unreadable" and all(s != "not run" for s in status)


def test_records_are_matched_by_file_name_or_id_column():
    import pandas as pd

    from hcview.ui.case.records import check_columns, match_record

    df = pd.DataFrame({"Image Index": ["dir/00000001_000.png", "x.png"], "Patient Age": [58, 3],
                       "Patient Gender": ["M", None], "report": ["large heart", None], "mrn": ["a", "b"]})
    row, col = match_record(df, "00000001_000.png")
    assert col == "Image Index" and row["Patient Age"] == 58 and row["report"] == "large heart"
    assert match_record(df, "00000001_000")[0] is not None  # stem only
    assert match_record(df, "nothing.png") == (None, None)
    assert match_record(df, "b", id_column="mrn")[0]["Patient Age"] == 3
    assert check_columns(df.columns) == (["age", "sex"], ["view"], True)
    assert check_columns(["foo", "bar"]) == ([], ["age", "sex", "view"], False)


@pytest.mark.parametrize("model", ["MedFusionNet", "Res-MTNet"])
def test_lrp_that_does_not_conserve_is_called_out(tmp_models_dir, tmp_var_dir, model):
    """Outside [0.5, 2] the LRP map is not a decomposition of the score, and the page says so beside the maps;
    approximate maps carry their conservation in the caption."""
    import re

    at = _open(_page(), "nih-cxr-1000/", model)
    at.session_state["case_tab"] = "Explanations"
    at.run()
    assert not at.exception, at.exception
    figure = next(m.value for m in at.markdown if m.value.startswith("Relevance conservation"))
    cons = float(re.search(r"\*\*([-+0-9.e]+)\*\*", figure).group(1))
    warned = any("does not conserve relevance" in w.value for w in at.warning)
    assert warned == (not 0.5 <= cons <= 2.0), (cons, warned)
    captions = [i.caption.replace("\\", "") for el in at.get("image") for i in el.proto.imgs]
    lrp_caption = next(c for c in captions if c.startswith("LRP"))
    assert f"approximate (conservation {figure.split('**')[1]})" in lrp_caption, lrp_caption
