"""Loaders for the pages. One predictor per (model, variant) is shared by every session: the library's own
process-wide cache (``hcview.infer.predictor.get_predictor``), so a model is never in memory twice; its per-model
lock and the per-call LRP deepcopy keep sessions apart."""
from __future__ import annotations

import json

import streamlit as st


def predictor(model_id: str, variant: str = "demo"):
    from hcview.infer.predictor import get_predictor

    return get_predictor(model_id, variant)


@st.cache_data(ttl=30, show_spinner=False)
def validity_figures() -> dict:
    from hcview import paths

    try:
        return json.loads((paths.models_dir() / "explanation_validity.json").read_text())
    except (OSError, ValueError):
        return {}


@st.cache_data(show_spinner=False)
def bundled_samples() -> dict[str, str]:
    """label -> path of a few bundled sample images (DICOM, PNG, JPEG)."""
    from hcview import paths

    root = paths.samples_dir()
    out = {}
    for pattern, n in (("dicom/*.dcm", 2), ("nih-cxr-512/*.png", 4), ("brain-mri/*/*.jpg", 4)):
        for p in sorted(root.glob(pattern))[:n]:
            out[f"{p.parent.name}/{p.name}"] = str(p)
    return out


def validity_note(model_id: str, variant: str) -> str:
    v = validity_figures().get(f"{model_id}-{variant}")
    if not v:
        known = ", ".join(validity_figures()) or "none yet"
        return (f"No explanation-validity figures measured for {model_id}/{variant} (measured: {known}; run "
                "`python -m hcview bench --validity`). Treat heat maps as hypotheses, not localisation.")
    parts = []
    for meth, mv in v["methods"].items():
        full = mv.get("randomisation_full")
        parts.append(f"{meth}: pointing game {mv['pointing_game']:.2f} ({mv['pointing_hits']}/{v['n_cases']}), "
                     f"Spearman vs randomised weights {('%.2f' % full) if full is not None else 'n/a'}")
    tag = " — UNTRAINED model, baseline only" if v.get("untrained") else ""
    current = predictor(model_id, variant).card.get("sha256")
    if v.get("checkpoint_sha256") and current != v["checkpoint_sha256"]:
        tag += " — measured on an EARLIER checkpoint (rerun `python -m hcview bench --validity`)"
    return f"Measured on {v['data']}{tag}: " + "; ".join(parts) + "."
