"""Label mappings to the papers' label spaces, checked on hand-made examples."""
from __future__ import annotations

import numpy as np
import pytest

from hcview.data import adapters
from hcview.data import mappings as M
from hcview.papers import cihmlc, medfusionnet
from hcview.models.labels import load_label_space

LS = load_label_space("cihmlc")
LABELS = list(LS.heads[0].labels)


def on(vec) -> set[str]:
    return {LABELS[i] for i in np.flatnonzero(vec > 0)}


def test_effusion():
    v = cihmlc.derive_cihmlc_targets("Effusion")
    assert v.shape == (21,) and v.dtype == np.float32
    assert on(v) == {"Pleural Effusion", "Fluid Accumulation", "Opacity", "Abnormal"}


def test_no_finding_only():
    assert on(cihmlc.derive_cihmlc_targets("No Finding")) == {"No Finding"}


def test_empty_is_uncertain():
    assert on(cihmlc.derive_cihmlc_targets([])) == {"Uncertain"}


def test_cardiomegaly_and_mass():
    assert on(cihmlc.derive_cihmlc_targets("Cardiomegaly|Mass")) == {"Cardiomegaly", "Cardiac", "Lung Lesion", "Opacity",
                                                               "Abnormal"}


def test_nodule_and_mass_share_lung_lesion():
    assert on(cihmlc.derive_cihmlc_targets(["Nodule"])) == on(cihmlc.derive_cihmlc_targets(["Mass"]))


def test_pneumothorax_and_pleural_thickening():
    assert on(cihmlc.derive_cihmlc_targets("Pneumothorax|Pleural_Thickening")) == {
        "Pneumothorax", "Pleural Other", "Missing Lung Tissue", "Opacity", "Abnormal"}


def test_infiltration_is_lung_opacity():
    assert on(cihmlc.derive_cihmlc_targets("Infiltration")) == {"Lung Opacity", "Opacity", "Abnormal"}


def test_labels_without_chexpert_equivalent_enter_through_parent():
    assert on(cihmlc.derive_cihmlc_targets("Emphysema")) == {"Missing Lung Tissue", "Opacity", "Abnormal"}
    assert on(cihmlc.derive_cihmlc_targets("Fibrosis")) == {"Opacity", "Abnormal"}
    assert on(cihmlc.derive_cihmlc_targets("Hernia")) == {"Other", "Abnormal"}


def test_no_finding_dropped_when_a_finding_is_present():
    assert "No Finding" not in on(cihmlc.derive_cihmlc_targets(["No Finding", "Edema"]))


def test_vector_and_dict_inputs_agree():
    vec = [0] * 14
    vec[M.NIH14.index("Edema")] = 1
    a = cihmlc.derive_cihmlc_targets(vec)
    b = cihmlc.derive_cihmlc_targets({"Edema": 1, "Mass": 0})
    np.testing.assert_array_equal(a, b)
    assert on(a) == {"Edema", "Fluid Accumulation", "Opacity", "Abnormal"}


def test_unknown_label_rejected():
    with pytest.raises(ValueError, match="unknown NIH label 'Covid'"):
        cihmlc.derive_cihmlc_targets("Covid")


def test_derived_parents_never_violate_or_rules_on_real_sample():
    import pandas as pd

    from hcview.paths import samples_dir

    df = pd.read_csv(samples_dir() / "nih-cxr-1000" / "labels.csv")
    idx = {n: i for i, n in enumerate(LABELS)}
    for s in df["finding_labels"]:
        v = cihmlc.derive_cihmlc_targets(s)
        for p, c in LS.edges:
            if p in LS.derive_or or p == "Abnormal":
                assert v[idx[p]] >= v[idx[c]], (s, p, c)
        assert v[idx["No Finding"]] + v[idx["Abnormal"]] == 1


def test_mapping_text_names_every_choice():
    for k in ("Effusion->Pleural Effusion", "Emphysema->parent Missing Lung Tissue", "Hernia->parent Other",
              "Fibrosis->parent Opacity"):
        assert k in cihmlc.CIHMLC_MAPPING_TEXT


def test_chexpert_uncertainty_policies():
    row = {"Edema": -1, "Cardiomegaly": 1, "Fracture": "", "No Finding": 0}
    z = cihmlc.chexpert_row_targets(row, LS, "zeros")
    o = cihmlc.chexpert_row_targets(row, LS, "ones")
    assert "Edema" not in on(z) and "Edema" in on(o)
    assert {"Cardiomegaly", "Cardiac", "Abnormal"} <= on(z)


def test_brain_taxonomy_targets():
    ls = load_label_space("hcnet_brain_mri")
    assert M.taxonomy3_targets("notumor", ls) == {"anatomy": 0, "category": ls.head("category").labels.index("normal"),
                                                 "disease": ls.head("disease").labels.index("notumor")}
    assert ls.head("category").labels[M.taxonomy3_targets("glioma", ls)["category"]] == "tumour"


def test_nih_meta_features():
    v, m = medfusionnet.nih_meta(58, "M", "PA")
    np.testing.assert_allclose(v, [0.58, 1.0, 1.0])
    assert m.all()
    v, m = medfusionnet.nih_meta("?", "F", "AP")
    assert list(m) == [False, True, True] and v[1] == 0 and v[2] == 0


def test_jsrt_text_helpers():
    assert adapters.jsrt_position("l.upper lobe") == "left upper lobe"
    assert adapters.jsrt_position("r.middle lobe") == "right middle lobe"
    assert adapters.jsrt_position("") == "none"
    assert adapters.jsrt_diagnosis("adenocarcinoma", "malignant") == "lung cancer"
    assert adapters.jsrt_diagnosis("metastasis from colon", "malignant") == "metastasis"
    assert adapters.jsrt_diagnosis("tuberculoma", "benign") == "granuloma"
    assert adapters.jsrt_diagnosis("", "non-nodule") == "non-nodule"
