"""The bundled samples the Case review page offers, each with its ground truth where the sample pack has one:
the NIH label file (``nih-cxr-1000/labels.csv``), the two 512 px NIH images' known labels, the brain-MRI class
(its folder). Chest and brain samples come from the held-out test splits, so no demo model trained on them."""
from __future__ import annotations

import os

import streamlit as st

NIH_512_TRUTH = {"00000001_000.png": "Cardiomegaly", "00027426_000.png": "No Finding"}
NIH_FINDINGS = ("No Finding", "Cardiomegaly", "Effusion", "Pneumothorax", "Mass", "Atelectasis")


@st.cache_data(show_spinner=False)
def bundled_samples() -> dict[str, dict]:
    """key (``folder/file``) -> ``{"path", "truth", "record"}``; ``record`` is the NIH row's age / sex / view."""
    import pandas as pd

    from hcview import paths

    root = paths.samples_dir()
    out: dict[str, dict] = {}
    for p in sorted((root / "dicom").glob("*.dcm"))[:2]:
        out[f"dicom/{p.name}"] = {"path": str(p), "truth": None, "record": None}
    for p in sorted((root / "nih-cxr-512").glob("*.png")):
        out[f"nih-cxr-512/{p.name}"] = {"path": str(p), "truth": NIH_512_TRUTH.get(p.name), "record": None}
    try:
        labels = pd.read_csv(root / "nih-cxr-1000" / "labels.csv")
        split = pd.read_csv(root / "nih-cxr-1000" / "splits.csv")[["path", "split"]].rename(columns={"split": "s"})
        test = labels.merge(split, on="path")
        test = test[test["s"] == "test"].sort_values("path")
        for finding in NIH_FINDINGS:
            hit = test[test["finding_labels"] == finding].head(1)
            for _, r in hit.iterrows():
                out[f"nih-cxr-1000/{r['image_index']}"] = {
                    "path": str(root / "nih-cxr-1000" / r["path"]), "truth": r["finding_labels"].replace("|", ", "),
                    "record": {"age": _plain(r.get("age")), "sex": _plain(r.get("sex")), "view": _plain(r.get("view"))}}
    except (OSError, ValueError, KeyError):
        pass
    try:
        mri = pd.read_csv(root / "brain-mri" / "splits.csv")
        mri = mri[mri["split"] == "test"].sort_values("path")
        for label, g in mri.groupby("label", sort=True):
            p = root / "brain-mri" / g.iloc[0]["path"]
            out[f"brain-mri/{p.name}"] = {"path": str(p), "truth": str(label), "record": None}
    except (OSError, ValueError, KeyError):
        pass
    return {k: v for k, v in out.items() if os.path.exists(v["path"])}


def _plain(v):
    """numpy scalars / NaN -> plain Python (None for missing)."""
    if hasattr(v, "item"):
        v = v.item()
    return None if isinstance(v, float) and v != v else v


def sample_label(key: str) -> str:
    s = bundled_samples().get(key) or {}
    return f"{key}  ·  truth: {s['truth']}" if s.get("truth") else key
