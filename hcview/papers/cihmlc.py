"""CIHMLC (hierarchical multi-label chest X-ray, HBCE loss), as the authors' reference code builds it:
DenseNet-121 features -> Conv2D(512, 3x3, activation='relu') -> BatchNorm -> GAP -> Dense(128, ReLU)
-> Dropout(0.5) -> Dense(21) (sigmoid applied by the loss / predictor).
Grad-CAM target: the added conv's activation (``head_act``, after its ReLU, as the reference takes it).
Head version 2 is this order (Conv -> ReLU -> BN); version 1 (Conv -> BN -> ReLU) checkpoints are refused.

Everything paper-specific lives in this module: the architecture, its variants, the HBCE loss, the
predictor's parent -> child tree, the NIH/CheXpert data mappings and the Case-review panel
(``hcview/ui/panels/cihmlc.py``).
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from hcview.data.mappings import CHEXPERT14, NIH14, DataMapping, Mapped, chexpert_value, derive_parents
from hcview.errors import InputError
from hcview.infer import results as R
from hcview.infer.predictor import Predictor
from hcview.models import backbones
from hcview.models.base import HCModel
from hcview.models.labels import LabelSpace
from hcview.models.registry import ModelSpec, Variant, register
from hcview.train.losses import masked_bce

HBCE_EPS = 1e-6


class CIHMLC(HCModel):
    def __init__(self, label_space: LabelSpace, backbone: str = "densenet121", conv_channels: int = 512,
                 hidden: int = 128, dropout: float = 0.5, pretrained: bool = False):
        super().__init__(label_space)
        self.backbone, self.weights, width = backbones.densenet(backbone, pretrained)
        self.backbone_act = nn.ReLU()
        self.head_conv = nn.Conv2d(width, conv_channels, 3, padding=1)
        self.head_bn = nn.BatchNorm2d(conv_channels)
        self.head_act = nn.ReLU()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(conv_channels, hidden)
        self.fc_act = nn.ReLU()
        self.dropout = nn.Dropout(dropout)
        self.heads = self._heads_from_space(hidden)

    def _to_conv(self, image):
        return self.head_act(self.head_conv(self.backbone_act(self.backbone(image))))  # = output of "head_act"

    def _after_conv(self, a):
        return self.fc_act(self.fc(torch.flatten(self.pool(self.head_bn(a)), 1)))

    def forward_features(self, image, meta=None, meta_mask=None, text=None):
        return self._after_conv(self._to_conv(image))

    def forward_head(self, feats):
        return self._apply_heads(self.dropout(feats))

    def cam_split(self, image, meta=None, meta_mask=None, text=None):
        act = self._to_conv(image)
        return act, lambda a: self.forward_head(self._after_conv(a))


class CIHMLCPredictor(Predictor):
    """Sigmoid outputs as the parent -> child tree, every inconsistent edge flagged."""

    def structure(self, res):
        parents = {c: p for p, c in self.label_space.edges}
        res.outputs = R.rows_from(self.label_space, res.probs, res.uncertainty, parents, res.thresholds)
        res.detail = R.tree_detail(self.label_space, res.decision_probs(), res.thresholds.get(self.label_space.heads[0].name))


# ---- loss: HBCE --------------------------------------------------------------------------------
def hbce_edge_weights(targets, edges: list[tuple[int, int]], mode: str = "data", beta: float = 1.0,
                      eps: float = HBCE_EPS) -> torch.Tensor:
    """One weight per (parent, child) edge. ``fixed``: beta. ``data`` (authors' code):
    ``1 - (n(parent=0, child=1) + eps) / (n(parent=0) + 2 eps)`` over the training targets."""
    if mode == "fixed":
        return torch.full((len(edges),), float(beta))
    if mode != "data":
        raise InputError(f"unknown HBCE mode {mode!r}; use fixed or data")
    y = np.asarray(targets, dtype=float)
    w = []
    for p, c in edges:
        known = np.isfinite(y[:, p]) & np.isfinite(y[:, c]) & (y[:, p] >= 0) & (y[:, c] >= 0)
        p0 = known & (y[:, p] == 0)
        p0c1 = p0 & (y[:, c] == 1)
        w.append(1.0 - (p0c1.sum() + eps) / (p0.sum() + 2 * eps))
    return torch.tensor(w, dtype=torch.float32)


def hbce_penalty(prob: torch.Tensor, edges: list[tuple[int, int]], weights: torch.Tensor,
                 indicator: str = "faithful") -> torch.Tensor:
    """Mean over the batch of ``sum_edges w * penalty``. ``faithful``: 1[p_parent < .5 and p_child > .5]
    as a constant (no gradient). ``surrogate``: ``relu(p_child - p_parent)``."""
    if not edges:
        return prob.sum() * 0.0
    pi = torch.tensor([p for p, _ in edges], device=prob.device)
    ci = torch.tensor([c for _, c in edges], device=prob.device)
    pp, pc = prob[:, pi], prob[:, ci]
    w = weights.to(prob.device, prob.dtype)
    if indicator == "faithful":
        ind = ((pp.detach() < 0.5) & (pc.detach() > 0.5)).to(prob.dtype)
        return (ind * w).sum(1).mean()
    if indicator == "surrogate":
        return (torch.relu(pc - pp) * w).sum(1).mean()
    raise InputError(f"unknown HBCE indicator {indicator!r}; use faithful or surrogate")


def hbce_loss(logits: torch.Tensor, y: torch.Tensor, edges, weights, lam: float = 0.5,
              indicator: str = "faithful") -> tuple[torch.Tensor, dict]:
    """Mean BCE + lambda * mean over the batch of the weighted edge penalties."""
    bce = masked_bce(logits, y)
    pen = hbce_penalty(torch.sigmoid(logits.float()), edges, weights, indicator)
    return bce + lam * pen, {"bce": bce.detach(), "penalty": pen.detach()}


def build_loss(cfg: dict, train_dataset, ls: LabelSpace):
    """HBCE in the configured mode (fixed beta / data-driven weights from the training split) and indicator."""
    head = ls.heads[0]
    edges = ls.edge_index()
    mode, ind, lam = cfg.get("hbce_mode", "data"), cfg.get("hbce_indicator", "faithful"), float(cfg.get("hbce_lambda", 0.5))
    beta = float(cfg.get("hbce_beta", 1.0))
    ew = hbce_edge_weights(train_dataset.targets_array(head.name), edges, mode, beta)
    info = {"loss": "hbce", "hbce_mode": mode, "hbce_indicator": ind, "hbce_lambda": lam,
            "hbce_beta": beta if mode == "fixed" else None,
            "hbce_edge_weights": {f"{head.labels[p]}->{head.labels[c]}": round(float(x), 6) for (p, c), x in zip(edges, ew)}}

    def criterion(outputs, batch):
        return hbce_loss(outputs[head.name], batch["targets"][head.name], edges, ew, lam, ind)
    return criterion, info


# ---- data: NIH ChestX-ray14 and CheXpert -> the 21 labels ----------------------------------------
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


def derive_cihmlc_targets(nih_labels, label_space: LabelSpace | None = None) -> np.ndarray:
    """NIH findings (pipe string 'Effusion|Mass', a list of names, a {name: 0/1} dict or a 14-vector in
    NIH14 order) -> float32 vector over the 21 CIHMLC labels."""
    ls = label_space or SPEC.label_space("demo")
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


def chexpert_mapping_text(policy: str) -> str:
    return (f"CheXpert 14 labels -> CIHMLC 21 (identity on the 14 leaves); uncertain (-1) -> "
            f"{'1 (U-ones)' if policy == 'ones' else '0 (U-zeros)'}; blank -> 0; parents OR-derived "
            "(cihmlc.json derive_or); Uncertain = no positive label; Abnormal = not (No Finding or Uncertain).")


def chexpert_row_targets(row: dict, label_space: LabelSpace, policy: str = "zeros") -> np.ndarray:
    labels = list(label_space.heads[0].labels)
    vec = np.zeros(len(labels), dtype=np.float32)
    for i, n in enumerate(labels):
        if n in CHEXPERT14 and n in row:
            vec[i] = chexpert_value(row[n], policy)
    return derive_parents(vec, label_space)


def nih_targets(table, ls: LabelSpace) -> Mapped:
    """NIH table (``finding_labels`` pipe strings) -> the 21 CIHMLC targets."""
    n = len(table)
    tg = np.stack([derive_cihmlc_targets(s or "No Finding", ls) for s in table["finding_labels"]]) if n else \
        np.zeros((0, ls.heads[0].size), np.float32)
    return Mapped({"labels": tg}, CIHMLC_MAPPING_TEXT)


def chexpert_targets(rows: list[dict], ls: LabelSpace, policy: str = "zeros") -> Mapped:
    """CheXpert rows (14 label columns: 1, 0, -1, blank) -> the 21 CIHMLC targets, parents OR-derived."""
    tg = np.stack([chexpert_row_targets(r, ls, policy) for r in rows]) if rows else \
        np.zeros((0, ls.heads[0].size), np.float32)
    return Mapped({"labels": tg}, chexpert_mapping_text(policy))


def card_extras(card: dict) -> dict:
    loss = card.get("loss") or card.get("hbce") or {}
    if not loss.get("hbce_mode"):
        return {}
    mode = {"data": "data-driven edge weights (authors' code: 1 - (n(p=0,c=1)+eps)/(n(p=0)+2eps))",
            "fixed": f"fixed edge weight beta = {loss.get('hbce_beta')}"}.get(loss["hbce_mode"], loss["hbce_mode"])
    ind = {"faithful": "faithful indicator (constant, no gradient: trains like BCE, as the authors' code)",
           "surrogate": "differentiable surrogate w * relu(p_child - p_parent)"}.get(loss.get("hbce_indicator"),
                                                                                       loss.get("hbce_indicator"))
    out = {"HBCE": f"{mode}; {ind}; lambda = {loss.get('hbce_lambda')}"}
    if loss.get("hbce_edge_weights"):
        out["HBCE edge weights"] = loss["hbce_edge_weights"]
    return out


SPEC = register(ModelSpec(
    id="cihmlc", name="CIHMLC (HBCE)", modality="Chest X-ray", task="multilabel_tree", order=1,
    paper="Hierarchical multi-label chest X-ray classification with a hierarchical binary cross-entropy (HBCE) loss",
    doi="no DOI in the paper text: 'Clinically-Inspired Hierarchical Multi-Label Classification of Chest X-rays with a "
        "Penalty-Based Loss Function', M. Asadi, K. Sodoké, I. J. Gerard, M. Kersten-Oertel, "
        "preprint submitted to the IEEE; its code link is empty in the text",
    builder=CIHMLC,
    variants={
        "paper": Variant("paper", 320, "cihmlc", {"backbone": "densenet121", "conv_channels": 512, "hidden": 128},
                         pretrained=False, data="chexpert:PATH",
                         description="DenseNet-121 from scratch, 320x320, 21 outputs."),
        "demo": Variant("demo", 64, "cihmlc", {"backbone": "densenet-small", "conv_channels": 128, "hidden": 128},
                        data="sample:nih", train={"epochs": 15, "batch_size": 32, "lr": 1e-3},
                        description="DenseNet-small (growth 16, blocks 2-4-8-6), 64x64, 21 outputs from NIH labels."),
    },
    dicom_modalities=("CR", "DX"),
    cam_layer="head_act", dropout="dropout (after Dense(128), p=0.5)", arch_version=2,
    lrp=("conserving chain rules (hcview.explain.lrp_chain): DenseNet canonized by its structure (BN->ReLU as "
         "threshold ReLU, concatenations and transitions handled), flat first conv, z+ convs, epsilon dense layers; "
         "each map reports its conservation, marked approximate outside [0.8, 1.2]"),
    train_defaults={"optimizer": "adam", "lr": 1e-4, "scheduler": "plateau", "plateau_factor": 0.9, "batch_size": 16,
                    "epochs": 30, "early_stopping": 3, "loss": "hbce", "hbce_mode": "data", "hbce_lambda": 0.5,
                    "hbce_indicator": "faithful", "augment": ["hflip", "vflip", "brightness0.1", "contrast0.1"],
                    "select": "val_mean_auroc"},
    notes="Faithful to the authors' Keras code (NOTES.md): 21 labels, OR-derived parents, 20 penalty edges.",
    ood_probes=("brain-mri/**/*.jpg",),
    loss=build_loss, predictor=CIHMLCPredictor,
    data=DataMapping(nih=nih_targets, chexpert=chexpert_targets),
    panel="hcview.ui.panels.cihmlc:render", card_extras=card_extras,
))
