"""One case's report: what the model said, how sure it was, why (heat maps, with how far to trust them), which
model version said it, and what the reader thought.

:func:`build_report` collects everything into :class:`CaseReport`: ``data``, a JSON-safe dict (the JSON report,
and the only thing the HTML and PDF renderers read), and ``images``, PNG bytes by name. Only de-identified
material goes in: the image as decoded after de-identification, the curated attributes ``hcview.data.io`` keeps in
``LoadedImage.meta`` (modality, view, sex, age, geometry, window) and the *names* of the removed attributes.
Strings stay raw here; every renderer escapes them.
"""
from __future__ import annotations

import io
import json
import time
from dataclasses import dataclass, field

import numpy as np

DISCLAIMER = "Research software: not for clinical diagnosis."
SYNTHETIC_MODEL_TEXT = "Trained on synthetic phantoms only: not meaningful on real scans."
CALL_NOTE = ("p: one deterministic pass. Calls use the MC-dropout mean when MC dropout ran (else p), against each "
             "label's operating threshold (chosen on validation data); a softmax level's call is its predicted class.")
METHOD_NAMES = {"gradcam": "Grad-CAM", "gradcam++": "Grad-CAM++", "eigencam": "EigenCAM", "lrp": "LRP"}


@dataclass
class CaseReport:
    data: dict
    images: dict[str, bytes] = field(default_factory=dict)

    @property
    def slug(self) -> str:
        return self.data["case"]["slug"]

    def to_json(self) -> str:
        return json.dumps(self.data, indent=2, ensure_ascii=False, default=_json_default)


def _json_default(o):
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def png_bytes(rgb_or_grey: np.ndarray) -> bytes:
    """uint8 (H, W) or (H, W, 3), or float in [0, 1], as PNG bytes."""
    from PIL import Image

    a = np.asarray(rgb_or_grey)
    if a.dtype != np.uint8:
        a = (np.clip(a, 0, 1) * 255).round().astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, format="PNG", compress_level=4)
    return buf.getvalue()


def case_slug(name: str, frame: int = 0, frames: int = 1) -> str:
    """A file-name-safe case name: the file's stem (+ ``_frameN`` for a frame of a multi-frame DICOM)."""
    import re
    from pathlib import PurePath

    stem = PurePath(str(name or "case").replace("\\", "/")).stem or "case"
    s = re.sub(r"[^A-Za-z0-9._-]+", "_", stem).strip("._-")[:80] or "case"
    return f"{s}_frame{frame}" if frames > 1 else s


# ---------------------------------------------------------------------------------------------------------------
# plain-language flags and notes (the page and every report use these)
def flag_messages(summary: dict, modality_text: str | None = None) -> list[tuple[str, str, str]]:
    """``(severity, flag, text)`` for every raised flag, most serious first; severity 'error' or 'warning'."""
    f = summary.get("flags", {})
    out = []
    if f.get("ood"):
        out.append(("error", "ood", "Out of distribution: this image does not look like the data this model was "
                    f"trained on (score {summary.get('ood_score') or 0:.0f}, threshold "
                    f"{summary.get('ood_threshold') or 0:.0f}). Its outputs are not meaningful."))
    if f.get("untrained"):
        out.append(("error", "untrained", "UNTRAINED model: random weights, outputs are meaningless."))
    if f.get("synthetic_model"):
        out.append(("error", "synthetic_model", SYNTHETIC_MODEL_TEXT))
    if f.get("modality_mismatch"):
        out.append(("error", "modality_mismatch", modality_text or "The image's modality does not match what the "
                    "model was trained on: the output is out of distribution."))
    if f.get("synthetic_input"):
        out.append(("warning", "synthetic_input", "Synthetic input (phantom)."))
    if f.get("uncertain"):
        out.append(("warning", "uncertain", "Uncertain - review: an MC-dropout interval straddles its decision "
                    "threshold, or the predictive entropy is high."))
    if f.get("inconsistent"):
        edges = [e for e in summary.get("edges") or [] if e.get("inconsistent")]
        if edges:
            kids = list(dict.fromkeys(e["child"] for e in edges))
            out.append(("warning", "inconsistent", f"Hierarchy inconsistency: {len(kids)} finding"
                        f"{'s are' if len(kids) != 1 else ' is'} positive while a parent is negative "
                        f"({', '.join(kids)}); see the findings tree."))
        else:
            out.append(("warning", "inconsistent", "Hierarchy inconsistency: the predicted disease is not under the "
                        "predicted anatomy / category."))
    return out


def validity_figures() -> dict:
    from hcview import paths

    try:
        return json.loads((paths.models_dir() / "explanation_validity.json").read_text())
    except (OSError, ValueError):
        return {}


def _validity_parts(v: dict) -> str:
    parts = []
    for meth, mv in (v.get("methods") or {}).items():
        full = mv.get("randomisation_full")
        parts.append(f"{METHOD_NAMES.get(meth, meth)} hit the lesion in {mv.get('pointing_hits', '?')}/"
                     f"{v.get('n_cases', '?')} cases (pointing game {mv.get('pointing_game', 0):.2f}); rank correlation "
                     f"with the map after the weights are randomised {('%.2f' % full) if full is not None else 'n/a'}")
    return "; ".join(parts)


def validity_note(model_id: str, variant: str, sha256: str | None = None, figures: dict | None = None) -> str:
    """How far the heat maps can be trusted, in words, from the measured explanation-validity figures."""
    figs = validity_figures() if figures is None else figures
    v = figs.get(f"{model_id}-{variant}")
    if v:
        tag = " (measured with an UNTRAINED model: a baseline only)" if v.get("untrained") else ""
        if v.get("checkpoint_sha256") and sha256 and sha256 != v["checkpoint_sha256"]:
            tag += " (measured on an earlier version of this model)"
        return (f"Heat-map validity, measured on {v.get('data', 'held-out cases')}{tag}: {_validity_parts(v)}. "
                "A map highlights what drove the score, not necessarily the lesion: read it as a hypothesis.")
    other = next(((k, x) for k, x in sorted(figs.items()) if isinstance(x, dict) and x.get("methods")), None)
    text = ("Heat-map validity has not been measured for this model: read the maps as hypotheses, not as "
            "localisation.")
    if other:
        text += f" Where it was measured ({other[0]}, {other[1].get('data', '')}): {_validity_parts(other[1])}."
    return text


def card_summary(pred) -> dict:
    """The model card in a few lines: what it is, what it was trained on, how well it did on held-out data."""
    card, spec = pred.card or {}, pred.spec
    v = spec.variant(pred.variant)
    info = (card.get("data") or {}).get("info") or {}
    test = ((card.get("metrics") or {}).get("test") or {})
    metrics = {k: round(float(x), 3) for k, x in test.items() if isinstance(x, (int, float)) and not isinstance(x, bool)
               and k != "n_cases" and not k.startswith("test_")}
    ood = card.get("ood") or {}
    sep = ood.get("separation") or {}
    out = {"paper": spec.paper, "task": spec.task, "modality": spec.modality, "variant": v.description,
           "trained": not pred.untrained, "trained_on": info.get("source") or (card.get("data") or {}).get("spec"),
           "synthetic_training": bool(pred.synthetic_training), "pretrained": bool(card.get("pretrained")),
           "test_cases": test.get("n_cases"), "test_metrics": metrics, "saved_at": card.get("saved_at"),
           "operating_points": card.get("operating_rule"), "notes": spec.notes}
    if ood:
        out["ood_gate"] = (f"{ood.get('method', 'Mahalanobis')}; threshold set on {ood.get('threshold_set_on', '?')} "
                           f"at a {100 * float(ood.get('false_alarm_rate', 0.05)):.0f}% false-alarm rate"
                           + (f"; AUROC {sep['auroc']:.2f} against {sep.get('out', 'other images')}" if sep.get("auroc")
                              is not None else ""))
    return out


# ---------------------------------------------------------------------------------------------------------------
def build_report(pred, loaded, res, *, case_hash: str, maps: list[dict] | None = None, feedback: list[dict] | None = None,
                 threshold: float = 0.5, alpha: float = 0.5, cmap: str = "viridis", truth: str | None = None,
                 max_side: int = 768, generated_at: float | None = None) -> CaseReport:
    """Collect one case (``loaded``, ``res = pred.predict(loaded)``, ``maps = pred.explain(res, ...)``, reader
    ``feedback`` rows from :mod:`hcview.report.feedback`) into a :class:`CaseReport`."""
    import hcview
    from hcview.data.deid import DEID_PROFILE
    from hcview.viz import case as vc

    j = res.to_json()
    meta = dict(loaded.meta or {})
    frames = int(meta.get("frames") or 1)
    frame = int(meta.get("frame") or 0)
    removed = list(loaded.deid_removed or [])
    images = {"image": png_bytes(vc.overlay(loaded.array, None, max_side=max_side))}
    case = {"name": loaded.name, "slug": case_slug(loaded.name, frame, frames), "sha256": case_hash,
            "kind": loaded.kind, "size": [int(loaded.array.shape[1]), int(loaded.array.shape[0])], "frame": frame,
            "frames": frames, "truth": truth}
    if loaded.kind == "dicom":
        case["dicom"] = {"modality": meta.get("modality") or "", "view": meta.get("view") or "",
                         "sex": meta.get("sex") or "", "age": meta.get("age") or "",
                         "photometric": meta.get("photometric") or "", "bits_stored": meta.get("bits_stored"),
                         "pixel_spacing_mm": meta.get("pixel_spacing_mm"), "window": meta.get("window") or "",
                         "model_window": meta.get("model_window") or "", "transfer_syntax": meta.get("transfer_syntax")}
        total = int(loaded.deid_removed.total) if hasattr(loaded.deid_removed, "total") else len(removed)
        case["deidentification"] = {"profile": DEID_PROFILE, "removed_count": total,
                                    "removed": [str(r) for r in removed]}
        case["burned_in_warning"] = meta.get("warning")
        case["notes"] = [str(n) for n in meta.get("notes") or []]
    mc_passes = None
    if res.uncertainty:
        mc_passes = int(next(iter(res.uncertainty.values())).n)
    heatmaps = []
    for k, m in enumerate(maps or []):
        name = f"heatmap_{k}"
        images[name] = png_bytes(vc.overlay(loaded.array, m["map"], threshold, alpha, cmap, max_side=max_side))
        h = {"image": name, "method": m["method"], "method_name": METHOD_NAMES.get(m["method"], m["method"]),
             "label": m["label"], "level": m["head"], "p": res.mean_of(m["head"], m["index"]),
             "sd": res.sd_of(m["head"], m["index"]), "approximate": bool(m.get("approximate"))}
        if m["method"] == "lrp":
            h["conservation"] = float(m.get("conservation", float("nan")))
            h["rules"] = m.get("rules")
        heatmaps.append(h)
    images["colorbar"] = png_bytes(vc.colorbar_strip(cmap, threshold, 320, 14))
    rows = vc.findings_rows(j)
    data = {
        "title": "hcview case report",
        "disclaimer": DISCLAIMER,
        "software": {"name": "hcview", "version": hcview.__version__},
        "generated_at": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(generated_at or time.time())),
        "case": case,
        "model": {"id": res.model, "name": pred.spec.name, "variant": res.variant, "version": res.version,
                  "sha256": res.sha256, "card": card_summary(pred)},
        "flags": j["flags"], "ood_score": j.get("ood_score"), "ood_threshold": j.get("ood_threshold"),
        "flag_messages": [{"severity": s, "flag": f, "text": t} for s, f, t in flag_messages(j, res.modality_mismatch)],
        "prediction": j.get("prediction"),
        "findings": rows,
        "inconsistencies": j.get("inconsistencies", []),
        "regression": j.get("regression"),
        "inputs_used": j.get("modalities"),
        "mc_dropout": {"passes": mc_passes, "outputs": [o for o in j["outputs"] if o.get("mc_mean") is not None]},
        "heatmaps": {"threshold": threshold, "alpha": alpha, "colour_map": cmap,
                     "validity_note": validity_note(res.model, res.variant, res.sha256), "maps": heatmaps},
        "feedback": [{k: r.get(k) for k in ("level", "label", "model_call", "verdict", "note", "reader", "created")}
                     for r in (feedback or [])],
        "notices": list(j.get("notices", [])),
    }
    return CaseReport(data, images)
