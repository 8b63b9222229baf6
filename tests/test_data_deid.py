"""De-identification: PS3.15 basic-profile attributes and private tags go, pixels and display fields stay."""
from __future__ import annotations

import numpy as np
import pydicom
from pydicom.data import get_testdata_file

from hcview.data.deid import BASIC_PROFILE_REMOVE, KEEP, deidentify
from hcview.data.io import load_image
from hcview.paths import samples_dir


def test_deid_removes_identity_and_private_tags_keeps_pixels():
    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    n_private = sum(1 for e in ds if e.tag.is_private)
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
        assert kw not in out
        assert kw in kws
    assert not any(e.tag.is_private for e in out)
    assert sum(1 for r in removed if r["action"] == "removed (private)") == n_private
    assert out.SOPInstanceUID != old_uid and str(out.SOPInstanceUID).startswith("2.25.")
    assert {"keyword": "SOPInstanceUID", "tag": "(0008,0018)", "action": "uid replaced"} in removed
    np.testing.assert_array_equal(out.pixel_array, pixels)
    for kw in ("Modality", "PhotometricInterpretation", "RescaleSlope", "RescaleIntercept", "PixelSpacing",
               "BitsStored", "Rows", "Columns"):
        assert kw in out
    assert out.PatientIdentityRemoved == "YES"


def test_deid_uid_replacement_is_deterministic():
    a, _ = deidentify(pydicom.dcmread(get_testdata_file("MR_small.dcm")))
    b, _ = deidentify(pydicom.dcmread(get_testdata_file("MR_small.dcm")))
    assert a.StudyInstanceUID == b.StudyInstanceUID


def test_profile_lists_are_valid_keywords_and_disjoint():
    from pydicom.datadict import tag_for_keyword

    for kw in BASIC_PROFILE_REMOVE + KEEP:
        assert tag_for_keyword(kw) is not None, kw
    assert not set(BASIC_PROFILE_REMOVE) & set(KEEP)


def test_load_image_reports_removed_for_siim():
    im = load_image(samples_dir() / "dicom" / "siim_pneumothorax_sample.dcm")
    tags = {r["keyword"]: r["tag"] for r in im.deid_removed}
    assert tags["PatientName"] == "(0010,0010)" and tags["PatientID"] == "(0010,0020)"
