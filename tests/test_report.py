"""Case reports (HTML, PDF, JSON) from a DICOM built here with identifying attributes at several depths and HTML
in the tag values that survive de-identification: no identifying value in any output, every hostile string shown
as text; the ``report`` command; the reader-feedback store."""
from __future__ import annotations

import io
import json
import warnings

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from hcview.cli import main

# identifying values planted in the test file: none may appear in any report
PHI = ("Doe^Jane", "MRN-998877", "19610203", "St Elsewhere Hospital", "Dr^Smith", "Nested^Person", "ACC-5551212",
       "Tech^Tom", "CT-ROOM-7", "1 Main Street", "private-secret", "Jane Doe", "20200101")
HOSTILE = "<img src=x onerror=alert(1)>"


def hostile_dicom(frames: int = 1) -> tuple[bytes, list[str]]:
    """A small CR DICOM with PHI at the top level, one and three sequence levels down, in a private block, and
    HTML in the kept attributes (Manufacturer, BodyPartExamined, ViewPosition, PatientSex). Returns the bytes and
    the file's UIDs (which must not appear either)."""
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.1"
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.1"
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.Modality = "CR"
    ds.PatientName, ds.PatientID, ds.PatientBirthDate = "Doe^Jane", "MRN-998877", "19610203"
    ds.InstitutionName = "St Elsewhere Hospital"
    ds.ReferringPhysicianName = "Dr^Smith"
    ds.AccessionNumber = "ACC-5551212"
    ds.PatientAddress = "1 Main Street"
    ds.StudyDate = ds.ContentDate = "20200101"
    ds.ImageComments = "Jane Doe <script>alert('x')</script>"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds.PatientSex = "<b>M</b>"
        ds.PatientAge = "062Y"
        ds.ViewPosition = HOSTILE
        ds.BodyPartExamined = "<svg onload=alert(2)>"
        ds.Manufacturer = "ACME <iframe src=//evil>"
    eq = Dataset()
    eq.InstitutionName, eq.OperatorsName, eq.StationName = "St Elsewhere Hospital", "Tech^Tom", "CT-ROOM-7"
    ds.ContributingEquipmentSequence = [eq]
    deep, mid = Dataset(), Dataset()
    deep.PersonName = "Nested^Person"
    deep.add_new(0x00990010, "LO", "ACME PRIVATE")
    deep.add_new(0x00991001, "LO", "private-secret")
    mid.ReferencedInstanceSequence = [deep]
    mid.OperatorsName = "Tech^Tom"
    ds.ReferencedSeriesSequence = [mid]
    rng = np.random.default_rng(0)
    px = (rng.random((frames, 96, 96)) * 3000).astype(np.uint16)
    ds.Rows, ds.Columns = 96, 96
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    if frames > 1:
        ds.NumberOfFrames = frames
    ds.PixelData = px[0].tobytes() if frames == 1 else px.tobytes()
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the HTML values are invalid for their VRs: that is the point
        ds.save_as(buf, enforce_file_format=True)
    uids = [ds.SOPInstanceUID, ds.StudyInstanceUID, ds.SeriesInstanceUID]
    return buf.getvalue(), uids


def pdf_text(data: bytes) -> str:
    pypdf = pytest.importorskip("pypdf")
    r = pypdf.PdfReader(io.BytesIO(data))
    return "\n".join(p.extract_text() for p in r.pages) + json.dumps({str(k): str(v) for k, v in (r.metadata or {}).items()})


def assert_clean(outputs: dict[str, bytes], uids: list[str]) -> None:
    texts = {"html": outputs["html"].decode(), "json": outputs["json"].decode(), "pdf": pdf_text(outputs["pdf"]),
             "pdf-bytes": outputs["pdf"].decode("latin-1")}
    for fmt, text in texts.items():
        for token in PHI + tuple(uids):
            assert token not in text, (fmt, token)
    html = texts["html"]
    for raw in (HOSTILE, "<svg", "<iframe", "<b>M</b>", "<script"):
        assert raw not in html, raw
    # the hostile values that de-identification keeps are shown, as text
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "&lt;b&gt;M&lt;/b&gt;" in html
    assert "<img src=x onerror" in texts["pdf"].replace("\n", " ")  # placed as literal text in the PDF
    assert 'http-equiv="Content-Security-Policy"' in html and "<script" not in html.lower()
    assert json.loads(texts["json"])["case"]["dicom"]["view"] == HOSTILE[:64]


@pytest.fixture
def iso(tmp_models_dir, tmp_var_dir):
    return tmp_var_dir


def test_report_from_hostile_dicom_is_escaped_and_deidentified(iso, tmp_path):
    from hcview.infer.predictor import get_predictor
    from hcview.report import feedback, make_case_report, render

    data, uids = hostile_dicom()
    name = "<b>case</b>.dcm"
    pred = get_predictor("cihmlc", "demo")
    rep = make_case_report(pred, data, name=name, mc=3, methods=("gradcam", "lrp"))
    # reader feedback with hostile text goes in too, escaped
    feedback.record(rep.data["case"]["sha256"], "cihmlc", rep.data["model"]["sha256"],
                    [{"level": "labels", "label": "Cardiomegaly", "verdict": "disagree", "note": "<i>no</i> =cmd"}],
                    reader="<u>R</u>")
    rep = make_case_report(pred, data, name=name, mc=3, methods=("gradcam", "lrp"))
    outs = {fmt: render(rep, fmt) for fmt in ("html", "pdf", "json")}
    assert_clean(outs, uids)
    html = outs["html"].decode()
    assert "&lt;b&gt;case&lt;/b&gt;.dcm" in html and "&lt;i&gt;no&lt;/i&gt;" in html and "&lt;u&gt;R&lt;/u&gt;" in html
    d = json.loads(outs["json"])
    assert d["software"]["version"] and d["model"]["id"] == "cihmlc" and d["flags"]["untrained"] is True
    assert [m["method"] for m in d["heatmaps"]["maps"]] == ["gradcam", "lrp"]
    assert d["heatmaps"]["validity_note"] and d["mc_dropout"]["passes"] == 3
    deid = d["case"]["deidentification"]
    assert deid["removed_count"] >= 8 and "PatientName" in " ".join(deid["removed"])
    assert d["feedback"][0]["verdict"] == "disagree"
    assert any(r["depth"] > 0 for r in d["findings"])  # the parent -> child tree
    assert outs["pdf"].startswith(b"%PDF") and html.count("data:image/png;base64,") >= 3


def test_report_command_writes_three_files_and_one_error_line(iso, tmp_path, capsys):
    data, uids = hostile_dicom(frames=2)
    src = tmp_path / "scan.dcm"
    src.write_bytes(data)
    out = tmp_path / "out"
    rc = main(["report", "--model", "hcnet", "--input", str(src), "--frame", "1", "--mc", "2", "--explain", "gradcam",
               "--out", str(out), "--json"])
    assert rc == 0, capsys.readouterr().err
    info = json.loads(capsys.readouterr().out)
    assert info["case"] == "scan_frame1" and sorted(info["files"]) == ["html", "json", "pdf"]
    outs = {fmt: (out / f"scan_frame1.{fmt}").read_bytes() for fmt in ("html", "pdf", "json")}
    assert_clean(outs, uids)
    assert "modality_mismatch" in info["flags"]  # CR given to a brain-MRI model, said loudly
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image")
    for argv in (["report", "--model", "hcnet", "--input", str(bad)],
                 ["report", "--model", "hcnet", "--input", str(tmp_path / "missing.dcm")],
                 ["report", "--model", "hcnet", "--input", str(src), "--explain", "magic"],
                 ["report", "--model", "hcnet", "--input", str(tmp_path)],
                 ["report", "--model", "hcnet", "--input", str(src), "--alpha", "2"],
                 ["report", "--model", "hcnet", "--input", str(src), "--mc", "-1"],
                 ["report", "--model", "hcnet", "--input", str(src), "--format", "docx"],
                 ["report", "--model", "hcnet", "--input", str(src), "--cmap", "jet"],
                 ["report", "--model", "hcnet", "--input", str(src), "--frame", "9"],
                 ["report", "--model", "nosuchmodel", "--input", str(src)]):
        assert main(argv) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("error:"), err


def test_feedback_store_upserts_exports_safely_and_sums_agreement(iso):
    from hcview.report import feedback as fb

    e = [{"level": "labels", "label": "Edema", "verdict": "agree", "model_call": "positive 0.71", "prob": 0.71},
         {"level": "labels", "label": "Mass", "verdict": "disagree", "note": "=HYPERLINK(\"x\")"},
         {"level": "labels", "label": "Nodule", "verdict": ""}]  # no verdict: not stored
    assert fb.record("h1", "cihmlc", "sha-a", e, reader="Dr A", case_name="a.png") == 2
    assert fb.record("h1", "cihmlc", "sha-a", [{"level": "labels", "label": "Mass", "verdict": "unsure"}],
                     reader="Dr A") == 1  # the reader changed their mind: replaces
    fb.record("h2", "cihmlc", "sha-a", [{"level": "labels", "label": "Edema", "verdict": "disagree"}], reader="Dr B")
    fb.record("h1", "cihmlc", "sha-b", [{"level": "labels", "label": "Edema", "verdict": "agree"}], reader="Dr A")
    rows = fb.for_case("h1", "sha-a")
    assert {(r["label"], r["verdict"]) for r in rows} == {("Edema", "agree"), ("Mass", "unsure")}
    with pytest.raises(Exception):
        fb.record("h1", "cihmlc", "sha-a", [{"level": "labels", "label": "Edema", "verdict": "maybe"}])
    ag = fb.agreement(fb.all_rows("cihmlc")).set_index("label")
    assert ag.loc["Edema", "agree"] == 2 and ag.loc["Edema", "disagree"] == 1
    assert abs(ag.loc["Edema", "agreement"] - 2 / 3) < 1e-9 and ag.loc["Edema", "readers"] == 2
    assert ag.loc["Mass", "unsure"] == 1 and np.isnan(ag.loc["Mass", "agreement"])  # unsure only: no rate
    csv = fb.to_csv_text(fb.all_rows())
    assert "'=HYPERLINK" not in csv  # the edited note replaced it ...
    fb.record("h3", "cihmlc", "sha-a", [{"level": "labels", "label": "Mass", "verdict": "agree",
                                         "note": "=HYPERLINK(\"x\")"}], reader="@evil")
    csv = fb.to_csv_text(fb.all_rows())
    assert "'=HYPERLINK" in csv and "'@evil" in csv and "\n=HYPERLINK" not in csv
