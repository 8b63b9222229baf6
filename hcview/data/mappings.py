"""Mappings from source label sets to the papers' label spaces, written as data.

Every dataset reports the mapping it applied in ``dataset.info['mapping']`` (text) so a model card can
record it.
"""
from __future__ import annotations

from typing import Iterable

import numpy as np

from hcview.models.labels import LabelSpace, load_label_space

NIH14 = ("Atelectasis", "Cardiomegaly", "Consolidation", "Edema", "Effusion", "Emphysema", "Fibrosis", "Hernia",
         "Infiltration", "Mass", "Nodule", "Pleural_Thickening", "Pneumonia", "Pneumothorax")

# NIH label -> CheXpert leaf of the CIHMLC space (clinical equivalents)
NIH_TO_CHEXPERT_LEAF: dict[str, str] = {
    "Atelectasis": "Atelectasis",
    "Cardiomegaly": "Cardiomegaly",
    "Consolidation": "Consolidation",
    "Edema": "Edema",
    "Effusion": "Pleural Effusion",
    "Pneumonia": "Pneumonia",
    "Pneumothorax": "Pneumothorax",
    "Mass": "Lung Lesion",
    "Nodule": "Lung Lesion",
    "Infiltration": "Lung Opacity",
    "Pleural_Thickening": "Pleural Other",
    "No Finding": "No Finding",
}

# NIH labels without a CheXpert leaf. The CIHMLC output space is fixed at 21 labels, so these cannot get
# an output of their own; they stay leaves of the *source* hierarchy and enter the CIHMLC tree through the
# parent they belong under: they set that parent (and its ancestors along the penalty edges, up to
# Abnormal) while no CheXpert leaf is set.
NIH_EXTRA_PARENT: dict[str, str] = {
    "Emphysema": "Missing Lung Tissue",  # destruction of alveolar tissue; sibling of Pneumothorax/Atelectasis
    "Fibrosis": "Opacity",               # reticular interstitial opacity, not fluid, not tissue loss
    "Hernia": "Other",                   # hiatal hernia: a non-pulmonary finding
}

CIHMLC_MAPPING_TEXT = (
    "NIH ChestX-ray14 -> CIHMLC 21: " +
    ", ".join(f"{k}->{v}" for k, v in NIH_TO_CHEXPERT_LEAF.items() if k != v) +
    ", Atelectasis/Cardiomegaly/Consolidation/Edema/Pneumonia/Pneumothorax/No Finding unchanged; "
    "no CheXpert equivalent (kept as leaves of the source hierarchy, entering the fixed 21-label tree through "
    "their parent): " + ", ".join(f"{k}->parent {v}" for k, v in NIH_EXTRA_PARENT.items()) +
    "; never set from NIH: Enlarged Cardiomediastinum, Fracture, Support Devices. Parents OR-derived from "
    "children (cihmlc.json derive_or), extra-leaf parents propagated up the penalty edges to Abnormal; "
    "Uncertain = no positive label; Abnormal = not (No Finding or Uncertain); 'No Finding' is dropped when "
    "any finding is present."
)


def _parse_labels(nih_labels) -> set[str]:
    if nih_labels is None:
        return set()
    if isinstance(nih_labels, str):
        items = nih_labels.split("|")
    elif isinstance(nih_labels, dict):
        items = [k for k, v in nih_labels.items() if v and v == v and float(v) > 0]
    else:
        items = list(nih_labels)
        if items and all(isinstance(v, (int, float, np.integer, np.floating, bool)) for v in items):
            if len(items) != len(NIH14):
                raise ValueError(f"a 0/1 vector must have {len(NIH14)} entries (NIH14 order)")
            items = [NIH14[i] for i, v in enumerate(items) if v and float(v) > 0]
    out = set()
    for s in items:
        s = str(s).strip()
        if not s:
            continue
        s = {"Pleural Thickening": "Pleural_Thickening", "No finding": "No Finding"}.get(s, s)
        if s not in NIH_TO_CHEXPERT_LEAF and s not in NIH_EXTRA_PARENT:
            raise ValueError(f"unknown NIH label {s!r}")
        out.add(s)
    return out


def derive_parents(vec: np.ndarray, label_space: LabelSpace, seeds: Iterable[str] = ()) -> np.ndarray:
    """Apply ``derive_or`` and the two special rules of a multilabel_tree space in place on ``vec``.

    ``seeds`` are parent labels to set directly (e.g. from a source leaf without a CheXpert equivalent);
    they are propagated up the penalty edges whose child and parent are both derived (parent) labels.
    """
    labels = list(label_space.heads[0].labels)
    idx = {n: i for i, n in enumerate(labels)}
    rules = label_space.derive_or
    for parent, children in rules.items():
        if any(vec[idx[c]] > 0 for c in children):
            vec[idx[parent]] = 1
    for s in seeds:
        vec[idx[s]] = 1
    derived = set(rules) | {"Abnormal"}
    changed = True
    while changed:  # parent <- child along edges between derived labels (e.g. Missing Lung Tissue -> Opacity)
        changed = False
        for p, c in label_space.edges:
            if p in rules and c in derived and vec[idx[c]] > 0 and vec[idx[p]] == 0:
                vec[idx[p]] = 1
                changed = True
    special = label_space.extra.get("derive_special", {})
    if "Uncertain" in idx and "Uncertain" in special:
        others = [i for n, i in idx.items() if n not in ("Uncertain", "Abnormal")]
        vec[idx["Uncertain"]] = 0 if any(vec[i] > 0 for i in others) else 1
    if "Abnormal" in idx and "Abnormal" in special:
        nf = vec[idx["No Finding"]] > 0 if "No Finding" in idx else False
        vec[idx["Abnormal"]] = 0 if (nf or vec[idx["Uncertain"]] > 0) else 1
    return vec


def derive_cihmlc_targets(nih_labels, label_space: LabelSpace | None = None) -> np.ndarray:
    """NIH findings (pipe string 'Effusion|Mass', a list of names, a {name: 0/1} dict or a 14-vector in
    NIH14 order) -> float32 vector over the 21 CIHMLC labels."""
    ls = label_space or load_label_space("cihmlc")
    labels = list(ls.heads[0].labels)
    idx = {n: i for i, n in enumerate(labels)}
    found = _parse_labels(nih_labels)
    if len(found) > 1:
        found.discard("No Finding")
    vec = np.zeros(len(labels), dtype=np.float32)
    for s in found:
        if s in NIH_TO_CHEXPERT_LEAF:
            vec[idx[NIH_TO_CHEXPERT_LEAF[s]]] = 1
    seeds = [NIH_EXTRA_PARENT[s] for s in found if s in NIH_EXTRA_PARENT]
    return derive_parents(vec, ls, seeds)


# ---- CheXpert -> CIHMLC ---------------------------------------------------------------------------------
CHEXPERT14 = ("Atelectasis", "Cardiomegaly", "Consolidation", "Edema", "Enlarged Cardiomediastinum", "Fracture",
              "Lung Lesion", "Lung Opacity", "No Finding", "Pleural Effusion", "Pleural Other", "Pneumonia",
              "Pneumothorax", "Support Devices")


def chexpert_value(v, policy: str = "zeros") -> float:
    """CheXpert cell (1, 0, -1, blank) -> 0/1. Uncertain -1 -> 0 (U-zeros) or 1 (U-ones); blank -> 0."""
    try:
        f = float(v)
    except (TypeError, ValueError):
        return 0.0
    if f != f:
        return 0.0
    if f == -1:
        return 1.0 if policy == "ones" else 0.0
    return 1.0 if f > 0 else 0.0


def chexpert_mapping_text(policy: str) -> str:
    return (f"CheXpert 14 labels -> CIHMLC 21 (identity on the 14 leaves); uncertain (-1) -> "
            f"{'1 (U-ones)' if policy == 'ones' else '0 (U-zeros)'}; blank -> 0; parents OR-derived "
            "(cihmlc.json derive_or); Uncertain = no positive label; Abnormal = not (No Finding or Uncertain).")


def chexpert_targets(row: dict, label_space: LabelSpace, policy: str = "zeros") -> np.ndarray:
    labels = list(label_space.heads[0].labels)
    vec = np.zeros(len(labels), dtype=np.float32)
    for i, n in enumerate(labels):
        if n in CHEXPERT14 and n in row:
            vec[i] = chexpert_value(row[n], policy)
    return derive_parents(vec, label_space)


# ---- brain MRI folders -> taxonomy3 ---------------------------------------------------------------------
BRAIN_MRI_MAPPING_TEXT = ("Brain-MRI folders -> hcnet_brain_mri: every image anatomy Brain; notumor -> category "
                          "normal; glioma, meningioma, pituitary -> category tumour; disease = folder name.")


def taxonomy3_targets(disease: str, label_space: LabelSpace) -> dict[str, int]:
    """Disease name -> {anatomy, category, disease} class indices from the label space's tree."""
    a, c = label_space.parent_of(disease)
    return {"anatomy": label_space.head("anatomy").labels.index(a),
            "category": label_space.head("category").labels.index(c),
            "disease": label_space.head("disease").labels.index(disease)}


# ---- NIH metadata for MedFusionNet -------------------------------------------------------------------
NIH_META_FEATURES = ("age/100", "sex (M=1, F=0)", "view (PA=1, AP=0)")
NIH14_MAPPING_TEXT = ("NIH ChestX-ray14 14 findings -> nih14 (identity); metadata features [age/100, sex M=1/F=0, "
                      "view PA=1/AP=0], missing values masked; no report text in NIH (text = '').")


def nih_meta(age, sex, view) -> tuple[np.ndarray, np.ndarray]:
    vals = np.zeros(3, dtype=np.float32)
    mask = np.zeros(3, dtype=bool)
    try:
        a = float(age)
        if a == a and 0 <= a < 130:
            vals[0], mask[0] = a / 100.0, True
    except (TypeError, ValueError):
        pass
    s = str(sex).strip().upper()[:1]
    if s in ("M", "F"):
        vals[1], mask[1] = float(s == "M"), True
    v = str(view).strip().upper()
    if v in ("PA", "AP"):
        vals[2], mask[2] = float(v == "PA"), True
    return vals, mask


# ---- JSRT -> Res-MTNet heads ---------------------------------------------------------------------------
def jsrt_position(text) -> str:
    """JSRT position strings ('l.upper lobe', 'r.lower lobe', 'r.middle', 'left upper lobe') -> head label."""
    t = str(text or "").strip().lower().replace(".", " ").replace("_", " ")
    if not t or t in ("nan", "none", "-", "?"):
        return "none"
    side = "left" if t.startswith("l") else "right" if t.startswith("r") else None
    part = "upper" if "upper" in t or "up" in t.split() else "middle" if "mid" in t else "lower" if "low" in t else None
    if side is None or part is None:
        return "none"
    if side == "left" and part == "middle":  # no left middle lobe (lingula is part of the upper lobe)
        part = "upper"
    return f"{side} {part} lobe"


def jsrt_diagnosis(text, state: str) -> str:
    t = str(text or "").strip().lower()
    if state == "non-nodule" or t in ("", "nan", "non-nodule", "nonnodule"):
        return "non-nodule"
    for key, lab in (("metasta", "metastasis"), ("cancer", "lung cancer"), ("carcinoma", "lung cancer"),
                     ("adeno", "lung cancer"), ("granuloma", "granuloma"), ("tubercul", "granuloma"),
                     ("hamartoma", "hamartoma"), ("inflammat", "inflammatory mass"), ("pneumonia", "inflammatory mass")):
        if key in t:
            return lab
    return "lung cancer" if state == "malignant" else "other benign"


JSRT_MAPPING_TEXT = ("JSRT metadata -> resmtnet_jsrt: subtlety 1-5 -> classes 0-4; state malignant/benign/"
                     "non-nodule; position text (e.g. 'l.upper lobe') -> lobe, none for non-nodule; diagnosis free "
                     "text grouped by keyword (cancer/carcinoma/adeno -> lung cancer, metastasis, granuloma/"
                     "tuberculoma -> granuloma, hamartoma, inflammatory -> inflammatory mass, other benign); x/2048, "
                     "y/2048, size/60 mm as regression targets, masked for non-nodule rows.")
