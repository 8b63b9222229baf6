"""Res-MTNet (residual multi-task nodule network): two backbones (paper: DenseNet-161 and
EfficientNet-B7), pooled features concatenated -> shared FC + ReLU + Dropout -> residual block
y = F(x) + x -> heads: subtlety, state, position (Z), diagnosis (softmax) and x, y, size (regression
in [0, 1], sigmoid). Grad-CAM target: the DenseNet branch's last feature map (``backbone_a``).

Everything paper-specific lives in this module: the architecture, its variants, the multi-task loss, the
predictor's x/y/size in pixels and mm, the JSRT/phantom data mapping and the Case-review panel
(``hcview/ui/panels/resmtnet.py``).
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from hcview.data.mappings import DataMapping, Mapped
from hcview.data.phantoms import nodule_targets
from hcview.infer import results as R
from hcview.infer.predictor import Predictor
from hcview.models import backbones
from hcview.models.base import HCModel
from hcview.models.labels import LabelSpace
from hcview.models.registry import ModelSpec, Variant, register
from hcview.train.losses import masked_mse, weighted_ce


class ResidualBlock(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.f = nn.Sequential(nn.Linear(dim, dim), nn.ReLU(), nn.Linear(dim, dim))
        self.act = nn.ReLU()

    def forward(self, x):
        return self.act(self.f(x) + x)


class ResMTNet(HCModel):
    def __init__(self, label_space: LabelSpace, backbone_a: str = "densenet161", backbone_b: str = "efficientnet_b7",
                 hidden: int = 512, dropout: float = 0.3, pretrained: bool = False):
        super().__init__(label_space)
        feat_a, wa, width_a = backbones.densenet(backbone_a, pretrained)
        feat_b, wb, width_b = backbones.efficientnet(backbone_b, pretrained)
        self.weights = backbones.combine(wa, wb)
        self.backbone_a = nn.Sequential(feat_a, nn.ReLU())
        self.backbone_b = feat_b
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.shared = nn.Sequential(nn.Linear(width_a + width_b, hidden), nn.ReLU())
        self.dropout = nn.Dropout(dropout)
        self.residual = ResidualBlock(hidden)
        self.heads = self._heads_from_space(hidden)

    def _fuse(self, a, b):
        return self.shared(torch.cat([torch.flatten(self.pool(a), 1), torch.flatten(self.pool(b), 1)], 1))

    def forward_features(self, image, meta=None, meta_mask=None, text=None):
        return self._fuse(self.backbone_a(image), self.backbone_b(image))

    def forward_head(self, feats):
        return self._apply_heads(self.residual(self.dropout(feats)))

    def cam_split(self, image, meta=None, meta_mask=None, text=None):
        act = self.backbone_a(image)
        with torch.no_grad():
            b = self.backbone_b(image)
        return act, lambda a: self.forward_head(self._fuse(a, b))


class ResMTNetPredictor(Predictor):
    """Softmax heads plus x, y, size de-normalised to the input image's pixels and mm."""

    def structure(self, res):
        ls = self.label_space
        res.outputs = R.rows_from(ls, res.probs, res.uncertainty, thresholds=res.thresholds)
        detail = R.multitask_detail(ls, res.probs)
        sd = res.uncertainty["regression"].std if res.uncertainty else None
        spacing = res.loaded.meta.get("pixel_spacing_mm") if res.loaded.kind == "dicom" else None
        detail["regression"] = R.regression_detail(ls, res.probs["regression"], res.image_shape, spacing, sd)
        detail["regression"]["nodule_predicted"] = detail["prediction"].get("state") != "non-nodule"
        res.detail = detail


SMOOTHED_HEADS = ("subtlety", "state", "diagnosis")  # the paper smooths these; position (Z) is plain CE


def resmtnet_loss(outputs: dict, targets: dict, reg_mask: torch.Tensor, weights: dict, softmax_heads: list[str],
                  reg_labels: list[str], label_smoothing: float = 0.1,
                  smoothed: tuple[str, ...] = SMOOTHED_HEADS) -> tuple[torch.Tensor, dict]:
    """Weighted sum of CE on the softmax heads (label-smoothed on ``smoothed``) and masked MSE on x, y, size."""
    parts = {}
    total = 0.0
    for h in softmax_heads:
        loss = weighted_ce(outputs[h], targets[h], label_smoothing=label_smoothing if h in smoothed else 0.0)
        parts[h] = loss
        total = total + float(weights.get(h, 1.0)) * loss
    if "regression" in outputs:
        pred, tgt = outputs["regression"].float(), targets["regression"].float()
        for i, name in enumerate(reg_labels):
            loss = masked_mse(pred[:, i], tgt[:, i], reg_mask[:, i])
            parts[name] = loss
            total = total + float(weights.get(name, 1.0)) * loss
    return total, {k: v.detach() for k, v in parts.items()}


def build_loss(cfg: dict, train_dataset, ls: LabelSpace):
    sm = [h.name for h in ls.heads if h.kind == "softmax"]
    reg = next((h for h in ls.heads if h.kind == "regression"), None)
    reg_labels = list(reg.labels) if reg else []
    tw = dict(cfg.get("task_weights") or {})
    eps = float(cfg.get("label_smoothing", 0.1))
    info = {"loss": "resmtnet", "task_weights": tw, "label_smoothing": eps,
            "label_smoothing_heads": [h for h in sm if h in SMOOTHED_HEADS]}

    def criterion(outputs, batch):
        mask = batch.get("reg_mask")
        if mask is None:
            mask = torch.ones_like(outputs["regression"]) if "regression" in outputs else None
        return resmtnet_loss(outputs, batch["targets"], mask, tw, sm, reg_labels, eps)
    return criterion, info


# ---- data: JSRT rows and nodule phantoms -> the heads ------------------------------------------------
JSRT_MAPPING_TEXT = ("JSRT metadata -> resmtnet_jsrt: subtlety 1-5 -> classes 0-4; state malignant/benign/"
                     "non-nodule; position text (e.g. 'l.upper lobe') -> lobe, none for non-nodule; diagnosis free "
                     "text grouped by keyword (cancer/carcinoma/adeno -> lung cancer, metastasis, granuloma/"
                     "tuberculoma -> granuloma, hamartoma, inflammatory -> inflammatory mass, other benign); x/2048, "
                     "y/2048, size/60 mm as regression targets, masked for non-nodule rows.")


def nodule_mapping(records: list[dict], ls: LabelSpace) -> Mapped:
    """Nodule records (canonical state/position/diagnosis names; x, y on the 2048 grid, size in mm) -> targets."""
    tt = [nodule_targets(r, ls) for r in records]
    targets = {}
    for h in ls.heads:
        if h.kind == "regression":
            targets[h.name] = np.stack([t[0][h.name] for t in tt]) if tt else np.zeros((0, h.size), np.float32)
        else:
            targets[h.name] = np.array([t[0][h.name] for t in tt], np.int64)
    reg_mask = np.stack([t[1] for t in tt]) if tt else np.zeros((0, 3), np.float32)
    return Mapped(targets, JSRT_MAPPING_TEXT, reg_mask=reg_mask)


def card_extras(card: dict) -> dict:
    loss = card.get("loss") or {}
    out = {}
    if loss.get("task_weights") is not None:
        out["Task weights"] = loss["task_weights"] or "all 1"
        out["Label smoothing"] = f"{loss.get('label_smoothing')} on " + ", ".join(
            loss.get("label_smoothing_heads") or ["every softmax head (trained before the paper's subset was used)"])
    return out


SPEC = register(ModelSpec(
    id="resmtnet", name="Res-MTNet", modality="Chest X-ray (nodules)", task="multitask", order=3,
    paper="A Residual Multi-task Network for Joint Classification and Regression in Medical Imaging",
    doi="no DOI in the paper text: J. Lin, Y. Zhang, Y. Pan, Y. Chen, C. Pan, H. Qi (University of Chinese Academy "
        "of Sciences); no venue given",
    builder=ResMTNet,
    variants={
        "paper": Variant("paper", 224, "resmtnet_jsrt", {"backbone_a": "densenet161", "backbone_b": "efficientnet_b7", "hidden": 512},
                         pretrained=True, data="jsrt:PATH", description="DenseNet-161 + EfficientNet-B7 (ImageNet), 224x224."),
        # demo: B0 scaled to width/depth 0.5 (B0 was ~84% of each CPU step), 96x96, lr 2e-3 with warmup + cosine
        # to 0 (the constant 3e-4 run stayed at chance after 7 epochs: BatchNorm running stats lag the weights)
        "demo": Variant("demo", 96, "resmtnet_jsrt", {"backbone_a": "densenet-small", "backbone_b": "efficientnet-small", "hidden": 256},
                        data="sample:nodules",
                        train={"epochs": 4, "batch_size": 32, "lr": 2e-3, "scheduler": "cosine", "warmup": 0.1},
                        description="DenseNet-small + EfficientNet-small (B0 at width/depth 0.5), 96x96, synthetic nodule phantoms."),
    },
    dicom_modalities=("CR", "DX"),
    cam_layer="backbone_a", dropout="dropout (after the shared FC + ReLU, before the residual block, p=0.3)",
    lrp="approximate: DenseNet + EfficientNet (SiLU, squeeze-excitation); epsilon rule, z+ on convs",
    train_defaults={"optimizer": "adam", "lr": 1e-4, "scheduler": "constant", "batch_size": 16, "epochs": 30,
                    "loss": "resmtnet", "label_smoothing": 0.1,
                    "task_weights": {"subtlety": 1.0, "state": 1.0, "position": 1.0, "diagnosis": 1.0, "x": 1.0, "y": 1.0, "size": 1.0},
                    "augment": [], "select": "val_mean_acc"},
    notes="Regression targets normalised to [0, 1]; non-nodule cases mask the x, y and size losses; label smoothing "
          "on subtlety, state and diagnosis only (the paper). Deviations: no JSRT images here, so the demo trains on "
          "synthetic nodule phantoms (flagged everywhere); demo backbones are the small members of both families.",
    ood_probes=("nih-cxr-1000/**/*.png", "nih-cxr-512/*.png", "dicom/*.dcm"),
    loss=build_loss, predictor=ResMTNetPredictor, data=DataMapping(nodules=nodule_mapping),
    panel="hcview.ui.panels.resmtnet:render", card_extras=card_extras,
    validity_data=("sample:nodules", "state"),
))
