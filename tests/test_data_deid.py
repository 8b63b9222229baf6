"""De-identification: PS3.15 Basic Profile at every nesting depth (through dicognito), pixels unchanged,
UIDs consistent within a study, BurnedInAnnotation flagged, and ``data deid`` on nested-PHI files."""
from __future__ import annotations

import copy
import io

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset
from pydicom.uid import DeflatedExplicitVRLittleEndian

from hcview.cli import main
from hcview.data.deid import BASIC_PROFILE_REMOVE, EMPTIED, KEEP, RemovedList, burned_in_annotation, deidentify
from hcview.data.io import load_image
from hcview.paths import samples_dir

CT = get_testdata_file("CT_small.dcm")
MR = get_testdata_file("MR_small.dcm")
SIIM = samples_dir() / "dicom" / "siim_pneumothorax_sample.dcm"

# identifying values planted in the test files; none may survive anywhere in the output
PHI = ("Doe^Jane", "MRN-998877", "19610203", "SUBJ-4242", "St Elsewhere Hospital", "Tech^Tom", "CT-ROOM-7",
       "Dr^Smith", "Jane Doe", "ACC-5551212", "1 Main Street", "555-0100", "SN-77-99", "Nested^Person",
       "private-secret", "20200101", "OLD-STUDY-ID")


def _walk(ds):
    for elem in ds:
        yield elem
        if elem.VR == "SQ":
            for item in elem.value:
                yield from _walk(item)


def _plant_phi(ds: Dataset) -> Dataset:
    """Identifying attributes at the top level and 1-3 sequence levels deep, as the adversarial pass used."""
    ds.PatientName = "Doe^Jane"
    ds.PatientID = "MRN-998877"
    ds.PatientBirthDate = "19610203"
    ds.PatientAddress = "1 Main Street"
    ds.PatientTelephoneNumbers = "555-0100"
    ds.AccessionNumber = "ACC-5551212"
    ds.StudyID = "OLD-STUDY-ID"
    ds.ClinicalTrialSubjectID = "SUBJ-4242"
    ds.ImageComments = "Jane Doe, MRN-998877, referred by Dr^Smith"
    ds.PatientComments = "lives at 1 Main Street"
    ds.ReferringPhysicianName = "Dr^Smith"
    ds.InstitutionName = "St Elsewhere Hospital"
    ds.DeviceSerialNumber = "SN-77-99"
    ds.StudyDate = ds.SeriesDate = ds.ContentDate = "20200101"
    ds.PatientIdentityRemoved = "YES"  # a claim that must not stop de-identification
    adm = Dataset()
    adm.CodeValue, adm.CodingSchemeDesignator, adm.CodeMeaning = "J18", "I10", "pneumonia of Jane Doe"
    adm.PatientName, adm.PatientID, adm.PatientBirthDate = "Doe^Jane", "MRN-998877", "19610203"
    ds.AdmittingDiagnosesCodeSequence = [adm]
    eq = Dataset()
    eq.Manufacturer = "ACME"
    eq.InstitutionName = "St Elsewhere Hospital"
    eq.OperatorsName = "Tech^Tom"
    eq.StationName = "CT-ROOM-7"
    eq.DeviceSerialNumber = "SN-77-99"
    eq.ContributionDateTime = "20200101120000"
    ds.ContributingEquipmentSequence = [eq]
    # a sequence no rule names, holding PHI two levels further down, a private block and a reference
    deep = Dataset()
    deep.PersonName = "Nested^Person"
    deep.ReferencedSOPInstanceUID = ds.SOPInstanceUID
    deep.ReferencedSOPClassUID = ds.SOPClassUID
    deep.add_new(0x00990010, "LO", "ACME PRIVATE")
    deep.add_new(0x00991001, "LO", "private-secret")
    mid = Dataset()
    mid.SeriesInstanceUID = ds.SeriesInstanceUID
    mid.ReferencedInstanceSequence = [deep]
    mid.AcquisitionDate = "20200101"
    mid.OperatorsName = "Tech^Tom"
    ds.ReferencedSeriesSequence = [mid]
    region = Dataset()
    region.CodeValue, region.CodingSchemeDesignator, region.CodeMeaning = "51185008", "SCT", "Chest of Jane Doe"
    ds.AnatomicRegionSequence = [region]
    return ds


def _phi_file(path, base=CT, **kw) -> tuple[bytes, Dataset]:
    ds = _plant_phi(pydicom.dcmread(base))
    for k, v in kw.items():
        setattr(ds, k, v)
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    path.write_bytes(buf.getvalue())
    return buf.getvalue(), ds


def _uids(ds) -> set[str]:
    out = set()
    for e in _walk(ds):
        if e.VR == "UI" and e.value and not (e.keyword or "").endswith("ClassUID"):
            out |= {str(v) for v in (e.value if isinstance(e.value, list) else [e.value])}
    if getattr(ds, "file_meta", None) is not None and "MediaStorageSOPInstanceUID" in ds.file_meta:
        out.add(str(ds.file_meta.MediaStorageSOPInstanceUID))
    return out


def _assert_no_phi(out: Dataset, raw_out: bytes | None, source: Dataset) -> None:
    values = [str(e.value) for e in _walk(out)] + [str(e.value) for e in out.file_meta]
    for token in PHI:
        assert not any(token in v for v in values), token
        if raw_out is not None:
            assert token.encode() not in raw_out, token
    for uid in _uids(source):
        assert not any(uid == v for v in values), uid
        if raw_out is not None:
            assert uid.encode() not in raw_out, uid
    assert not any(e.tag.is_private for e in _walk(out))


# ---- the function ------------------------------------------------------------------------------------------
def test_deid_removes_identity_and_private_tags_keeps_pixels():
    ds = pydicom.dcmread(CT)
    n_private = sum(1 for e in _walk(ds) if e.tag.is_private)
    assert n_private > 0 and "PatientName" in ds and "PatientID" in ds
    pixels = ds.pixel_array.copy()
    old_uid = ds.SOPInstanceUID
    ds.InstitutionName = "General Hospital"
    ds.ReferringPhysicianName = "Dr^Who"
    ds.OtherPatientIDs = "X123"
    out, removed = deidentify(ds)
    kws = {r["keyword"] for r in removed}
    for kw in ("PatientName", "PatientID", "InstitutionName", "ReferringPhysicianName", "OtherPatientIDs",
               "StudyDate"):
        assert not out.get(kw), kw  # removed, or emptied (type 2 attributes at the top level)
        assert kw in kws
    assert not any(e.tag.is_private for e in _walk(out))
    assert sum(r["count"] for r in removed if r["action"] == "removed (private)") == n_private
    assert out.SOPInstanceUID != old_uid
    assert {"keyword": "SOPInstanceUID", "tag": "(0008,0018)", "action": "uid replaced", "count": 1} in removed
    np.testing.assert_array_equal(out.pixel_array, pixels)
    for kw in ("Modality", "PhotometricInterpretation", "RescaleSlope", "RescaleIntercept", "PixelSpacing",
               "BitsStored", "Rows", "Columns", "PatientSex", "PatientAge"):
        assert kw in out or kw not in pydicom.dcmread(CT), kw
    assert out.PatientIdentityRemoved == "YES"
    assert [c.CodeValue for c in out.DeidentificationMethodCodeSequence] == ["113100", "113108"]


def test_removed_list_is_readable_with_counts():
    ds = _plant_phi(pydicom.dcmread(CT))
    _, removed = deidentify(ds)
    assert isinstance(removed, RemovedList)
    text = str(removed)
    assert text.startswith(f"{removed.total} attributes removed or replaced: ")
    assert "PatientName" in text and "AcquisitionDate x2" in text  # top level and two sequences down
    assert "{" not in text and "'" not in text
    assert removed.total == sum(e["count"] for e in removed) > 20


def test_nested_phi_removed_at_every_depth():
    src = _plant_phi(pydicom.dcmread(CT))
    source = copy.deepcopy(src)
    out, removed = deidentify(src)
    buf = io.BytesIO()
    out.save_as(buf, enforce_file_format=True)
    _assert_no_phi(out, buf.getvalue(), source)
    # the reference inside the nested sequence still points at this instance (same mapping)
    ref = out.ReferencedSeriesSequence[0].ReferencedInstanceSequence[0].ReferencedSOPInstanceUID
    assert ref == out.SOPInstanceUID == out.file_meta.MediaStorageSOPInstanceUID
    assert out.ReferencedSeriesSequence[0].SeriesInstanceUID == out.SeriesInstanceUID
    assert "AdmittingDiagnosesCodeSequence" not in out and "ContributingEquipmentSequence" not in out
    assert out.PatientSex == source.PatientSex  # Retain Patient Characteristics


def test_uids_consistent_within_a_study_and_deterministic():
    a_src, b_src = pydicom.dcmread(MR), pydicom.dcmread(MR)
    b_src.SOPInstanceUID = b_src.SOPInstanceUID + ".2"
    a, _ = deidentify(a_src)
    b, _ = deidentify(b_src)
    assert a.StudyInstanceUID == b.StudyInstanceUID != pydicom.dcmread(MR).StudyInstanceUID
    assert a.SeriesInstanceUID == b.SeriesInstanceUID
    assert a.SOPInstanceUID != b.SOPInstanceUID
    c, _ = deidentify(pydicom.dcmread(MR), seed="another key")
    assert c.StudyInstanceUID != a.StudyInstanceUID  # keyed: not a public hash of the original


def test_profile_lists_are_valid_keywords_and_disjoint():
    from pydicom.datadict import tag_for_keyword

    for kw in BASIC_PROFILE_REMOVE + KEEP + EMPTIED:
        assert tag_for_keyword(kw) is not None, kw
    assert not set(BASIC_PROFILE_REMOVE) & set(KEEP)
    assert set(EMPTIED) <= set(BASIC_PROFILE_REMOVE)


def test_burned_in_annotation_flagged_even_if_identity_removed(tmp_path):
    _, ds = _phi_file(tmp_path / "b.dcm", BurnedInAnnotation="YES")
    assert burned_in_annotation(ds)
    im = load_image(tmp_path / "b.dcm")
    assert im.meta["burned_in_annotation"] is True
    assert "pixels may contain identifying text" in im.meta["warning"]


def test_load_image_reports_removed_for_siim():
    im = load_image(SIIM)
    tags = {r["keyword"]: r["tag"] for r in im.deid_removed}
    assert tags["PatientName"] == "(0010,0010)" and tags["PatientID"] == "(0010,0020)"
    assert "PatientName" in str(im.deid_removed)


# ---- the command -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("base,deflate", [(CT, False), (MR, False), (SIIM, False), (CT, True)])
def test_data_deid_command_nested_phi(tmp_path, capsys, base, deflate):
    src = tmp_path / "in.dcm"
    ds = _plant_phi(pydicom.dcmread(base))
    if deflate:
        ds.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    ds.save_as(src, enforce_file_format=True)
    source = pydicom.dcmread(src)
    out = tmp_path / "out" / "deid.dcm"
    rc = main(["data", "deid", str(src), str(out)])
    cap = capsys.readouterr()
    assert rc == 0, cap.err
    raw = out.read_bytes()
    res = pydicom.dcmread(out)
    if not deflate:  # deflated output is compressed: check the parsed values only
        _assert_no_phi(res, raw, source)
    else:
        _assert_no_phi(res, None, source)
    assert res.file_meta.TransferSyntaxUID == source.file_meta.TransferSyntaxUID
    assert res.PixelData == source.PixelData  # pixels unchanged, byte for byte
    assert res.PatientIdentityRemoved == "YES"
    assert "removed or replaced" in cap.out


def test_data_deid_warns_on_burned_in_annotation(tmp_path, capsys):
    src = tmp_path / "in.dcm"
    _phi_file(src, BurnedInAnnotation="YES")
    rc = main(["data", "deid", str(src), str(tmp_path / "o.dcm")])
    err = capsys.readouterr().err
    assert rc == 0
    assert "warning:" in err and "pixels may contain identifying text" in err


def test_data_deid_folder_keeps_study_consistent(tmp_path, capsys):
    d = tmp_path / "study"
    d.mkdir()
    for i in range(3):
        ds = _plant_phi(pydicom.dcmread(CT))
        ds.SOPInstanceUID = f"{ds.SOPInstanceUID}.{i}"
        ds.save_as(d / f"{i}.dcm", enforce_file_format=True)
    (d / "notes.txt").write_text("not a dicom")  # ignored: not DICOM
    (d / "bad.dcm").write_bytes(b"\0" * 128 + b"DICM" + b"\x02\x00\x10\x00UI\xff\x00")  # DICOM, but broken
    rc = main(["data", "deid", str(d), str(tmp_path / "out")])
    cap = capsys.readouterr()
    assert rc == 2  # one file could not be de-identified: said, and the exit status is non-zero
    assert "bad.dcm" in cap.err and "notes.txt" not in cap.err and "1 other file(s) ignored" in cap.out
    assert cap.err.strip().splitlines()[-1].startswith("error: 1 of 4 DICOM file(s)")
    outs = [pydicom.dcmread(p) for p in sorted((tmp_path / "out").glob("*.dcm"))]
    assert len(outs) == 3
    assert len({o.StudyInstanceUID for o in outs}) == 1 and len({o.SOPInstanceUID for o in outs}) == 3


def test_data_deid_refuses_overwriting_input(tmp_path, capsys):
    src = tmp_path / "in.dcm"
    _phi_file(src)
    rc = main(["data", "deid", str(src), str(src)])
    assert rc == 2 and "error:" in capsys.readouterr().err
