"""Per-model result structures (each in the model's own shape) + one flat JSON form for the CLI.

- :class:`HierarchyResult` (HC-Net): anatomy -> category -> disease, top-k, heads-agree check.
- :class:`TreeResult` (CIHMLC): parent/child tree of sigmoid outputs, every inconsistent edge
  (child > 0.5 while parent < 0.5) flagged.
- :class:`MultilabelResult` (MedFusionNet): sigmoid labels, which modalities were used.
- :class:`MultitaskResult` (Res-MTNet): softmax heads + x, y, size in input-image pixels and mm.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from hcview.text import decimals_apart

from .mc_dropout import HeadUncertainty


@dataclass
class OutputRow:
    label: str
    head: str
    index: int
    prob: float
    mc_mean: float | None = None
    mc_std: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    parent: str | None = None
    uncertain: bool = False
    threshold: float | None = None  # sigmoid: the label's operating point
    positive: bool | None = None    # sigmoid: (MC mean, else p) >= threshold

    def to_json(self) -> dict:
        d = {"label": self.label, "level": self.head, "index": self.index, "prob": self.prob, "mc_mean": self.mc_mean,
             "mc_std": self.mc_std, "ci_low": self.ci_low, "ci_high": self.ci_high, "uncertain": self.uncertain,
             "threshold": self.threshold, "positive": self.positive}
        if self.parent is not None:
            d["parent"] = self.parent
        return d


@dataclass
class CaseResult:
    model: str
    variant: str
    task: str
    outputs: list[OutputRow]
    probs: dict[str, np.ndarray]               # head -> (C,) deterministic (dropout off) probabilities
    uncertainty: dict[str, HeadUncertainty] | None
    untrained: bool
    synthetic_input: bool = False
    image_shape: tuple = ()
    notices: list[str] = field(default_factory=list)
    modality_mismatch: str | None = None  # e.g. a CR image given to a model trained on MR
    detail: dict = field(default_factory=dict)  # task-specific structure (see subclasses' builders)
    synthetic_model: bool = False  # the model was trained on synthetic phantoms only
    thresholds: dict = field(default_factory=dict)  # sigmoid head -> per-label operating points
    version: int | None = None
    sha256: str | None = None
    ood: bool | None = None  # None: the checkpoint has no OOD statistics
    ood_score: float | None = None
    ood_threshold: float | None = None

    @property
    def uncertain(self) -> bool:
        return bool(self.uncertainty) and any(bool(np.any(u.uncertain)) for u in self.uncertainty.values())

    @property
    def inconsistent(self) -> bool:
        return bool(self.detail.get("inconsistent", False))

    def mean_of(self, head: str, index: int) -> float:
        """The MC-dropout mean when MC ran, else the deterministic probability: what titles and decisions show."""
        if self.uncertainty and head in self.uncertainty:
            return float(self.uncertainty[head].mean[index])
        return float(self.probs[head][index])

    def decision_probs(self) -> dict[str, np.ndarray]:
        """Per head, the values decisions are made on: the MC-dropout mean when MC ran, else p."""
        if not self.uncertainty:
            return self.probs
        return {h: (self.uncertainty[h].mean if h in self.uncertainty else p) for h, p in self.probs.items()}

    def sd_of(self, head: str, index: int) -> float | None:
        if not self.uncertainty or head not in self.uncertainty:
            return None
        return float(self.uncertainty[head].std[index])

    def flags(self) -> dict:
        return {"ood": bool(self.ood), "uncertain": self.uncertain, "inconsistent": self.inconsistent,
                "synthetic_input": bool(self.synthetic_input), "synthetic_model": bool(self.synthetic_model),
                "untrained": bool(self.untrained), "modality_mismatch": bool(self.modality_mismatch)}

    def to_json(self) -> dict:
        d = {"model": self.model, "variant": self.variant, "task": self.task, "version": self.version,
             "sha256": self.sha256, "ood": self.ood, "ood_score": self.ood_score, "ood_threshold": self.ood_threshold,
             "outputs": [o.to_json() for o in self.outputs], "flags": self.flags(), "notices": list(self.notices)}
        d.update({k: v for k, v in self.detail.items() if k != "inconsistent"})
        return d


def rows_from(label_space, probs: dict[str, np.ndarray], unc: dict[str, HeadUncertainty] | None,
              parents: dict[str, str] | None = None, thresholds: dict | None = None) -> list[OutputRow]:
    rows = []
    for h in label_space.heads:
        if h.kind == "regression":
            continue
        u = unc.get(h.name) if unc else None
        thr = (thresholds or {}).get(h.name)
        for i, lab in enumerate(h.labels):
            r = OutputRow(lab, h.name, i, float(probs[h.name][i]), parent=(parents or {}).get(lab))
            if u is not None:
                r.mc_mean, r.mc_std = float(u.mean[i]), float(u.std[i])
                r.ci_low, r.ci_high = float(u.ci_low[i]), float(u.ci_high[i])
                r.uncertain = bool(u.uncertain[i] if h.kind == "sigmoid" else u.uncertain[0])
            if h.kind == "sigmoid":
                r.threshold = float(thr[i]) if thr is not None else 0.5
                r.positive = (r.mc_mean if r.mc_mean is not None else r.prob) >= r.threshold
            rows.append(r)
    return rows


def hierarchy_detail(ls, probs, top_k: int = 3) -> dict:
    """HC-Net: predicted path, top-k per head, and whether the heads agree with the taxonomy."""
    pred = {h: ls.head(h).labels[int(np.argmax(probs[h]))] for h in ("anatomy", "category", "disease")}
    try:
        a, c = ls.parent_of(pred["disease"])
        agree = a == pred["anatomy"] and c == pred["category"]
    except KeyError:
        a = c = None
        agree = False
    topk = {h: [{"label": ls.head(h).labels[i], "prob": float(probs[h][i])}
                for i in np.argsort(-probs[h])[:top_k]] for h in ("anatomy", "category", "disease")}
    tree: dict = {}
    for d, an, ca in ls.tree:
        tree.setdefault(an, {}).setdefault(ca, []).append(d)
    return {"prediction": pred, "disease_parents": {"anatomy": a, "category": c}, "heads_agree": agree,
            "top_k": topk, "tree": tree, "inconsistent": not agree}


def tree_detail(ls, probs, thresholds: np.ndarray | None = None) -> dict:
    """CIHMLC: parent/child edges with probabilities; every violation (child positive at its own operating point
    while its parent is negative at its own) flagged."""
    labels = ls.heads[0].labels
    p = probs[ls.heads[0].name]
    t = np.full(len(labels), 0.5) if thresholds is None else np.asarray(thresholds, dtype=float)
    edges, bad = [], []
    for parent, child in ls.edges:
        ip, ic = labels.index(parent), labels.index(child)
        pp, pc = float(p[ip]), float(p[ic])
        viol = pc >= t[ic] and pp < t[ip]
        edges.append({"parent": parent, "child": child, "p_parent": pp, "p_child": pc, "t_parent": float(t[ip]),
                      "t_child": float(t[ic]), "inconsistent": viol})
        if viol:
            dc, dp = decimals_apart(pc, t[ic]), decimals_apart(pp, t[ip])
            bad.append(f"{child} ({pc:.{dc}f}, positive at {t[ic]:.{dc}f}) while its parent {parent} ({pp:.{dp}f}) is "
                       f"negative at {t[ip]:.{dp}f}")
    children = {c for _, c in ls.edges}
    roots = [lab for lab in labels if lab not in children and any(pa == lab for pa, _ in ls.edges)]
    return {"edges": edges, "roots": roots, "inconsistencies": bad, "inconsistent": bool(bad)}


def regression_detail(ls, values: np.ndarray, image_shape, pixel_spacing_mm=None, sd: np.ndarray | None = None) -> dict:
    """Res-MTNet: de-normalise x, y (over the label space's grid) to the input image's pixels, and size
    (normalised over ``regression_scale['size']`` mm) to mm and input pixels. Pixel spacing: the DICOM's
    when given, else the label space's spacing on its grid scaled to the input image."""
    extra = ls.extra or {}
    scale = extra.get("regression_scale", {"x": 2048, "y": 2048, "size": 60.0})
    labels = ls.head("regression").labels
    v = {lab: float(values[i]) for i, lab in enumerate(labels)}
    h, w = image_shape
    gx, gy = float(scale.get("x", 2048)), float(scale.get("y", 2048))
    sp = pixel_spacing_mm if isinstance(pixel_spacing_mm, (list, tuple)) else [pixel_spacing_mm] * 2
    try:  # a spacing that is not two finite positive numbers (0, negative, text) is ignored
        sp = [float(sp[0]), float(sp[1])] if pixel_spacing_mm else None
    except (TypeError, ValueError, IndexError):
        sp = None
    if sp and all(math.isfinite(mm) and mm > 0 for mm in sp):
        row_mm, col_mm = sp
        src = "image"
    else:
        base = float(extra.get("pixel_spacing_mm", 0.175))
        col_mm, row_mm = base * gx / w, base * gy / h
        src = f"label space ({base} mm on the {int(gx)} grid, scaled to {w}x{h})"
    x_px, y_px = v.get("x", 0) * w, v.get("y", 0) * h
    size_mm = v.get("size", 0) * float(scale.get("size", 60.0))
    size_px = size_mm / ((row_mm + col_mm) / 2)
    out = {"x_px": x_px, "y_px": y_px, "size_px": size_px, "x_mm": x_px * col_mm, "y_mm": y_px * row_mm,
           "size_mm": size_mm, "pixel_spacing_mm": [row_mm, col_mm], "spacing_source": src, "normalised": v}
    if sd is not None:
        out["sd_normalised"] = {lab: float(sd[i]) for i, lab in enumerate(labels)}
    return out


def multitask_detail(ls, probs) -> dict:
    return {"prediction": {h.name: h.labels[int(np.argmax(probs[h.name]))] for h in ls.heads if h.kind == "softmax"}}
