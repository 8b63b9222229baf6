"""HC-Net (hierarchical context-aware network, MRI), everything paper-specific in one place: the
architecture (ResNet-18 + three heads: anatomy, category, disease), its variants, the loss, the
predictor's result structure, the data mapping and the Case-review panel (``hcview/ui/panels/hcnet.py``).

Head sizes come from the taxonomy. ResNet-18 has no dropout, so (as NOTES.md says) a Dropout
sits before the heads for MC dropout; the heads are independent linear layers on the 512-d GAP.
"""
from __future__ import annotations

import torch
from torch import nn

from hcview.data.mappings import DataMapping
from hcview.infer import results as R
from hcview.infer.predictor import Predictor
from hcview.models import backbones
from hcview.models.base import HCModel
from hcview.models.labels import LabelSpace
from hcview.models.registry import ModelSpec, Variant, register
from hcview.train.losses import class_weights, weighted_ce


class HCNet(HCModel):
    def __init__(self, label_space: LabelSpace, backbone: str = "resnet18", dropout: float = 0.3,
                 pretrained: bool = False):
        super().__init__(label_space)
        net, self.weights, width = backbones.resnet(backbone, pretrained)
        self.stem = nn.Sequential(net.conv1, net.bn1, net.relu, net.maxpool)
        self.layer1, self.layer2, self.layer3, self.layer4 = net.layer1, net.layer2, net.layer3, net.layer4
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout)
        self.heads = self._heads_from_space(width)

    def _trunk(self, image):
        return self.layer4(self.layer3(self.layer2(self.layer1(self.stem(image)))))

    def forward_features(self, image, meta=None, meta_mask=None, text=None):
        return torch.flatten(self.pool(self._trunk(image)), 1)

    def forward_head(self, feats):
        return self._apply_heads(self.dropout(feats))

    def cam_split(self, image, meta=None, meta_mask=None, text=None):
        act = self._trunk(image)  # = output of "layer4"
        return act, lambda a: self.forward_head(torch.flatten(self.pool(a), 1))


class HCNetPredictor(Predictor):
    """The tree anatomy -> category -> disease, top-k per head, and whether the heads agree with the taxonomy."""

    def structure(self, res):
        res.outputs = R.rows_from(self.label_space, res.probs, res.uncertainty, thresholds=res.thresholds)
        res.detail = R.hierarchy_detail(self.label_space, res.probs)


def build_loss(cfg: dict, train_dataset, ls: LabelSpace):
    """CE(anatomy) + CE(category) + class-weighted CE(disease), weights w_i = N / (C n_i) from the training split."""
    dis = ls.head("disease")
    w = class_weights(train_dataset.targets_array("disease"), dis.size)
    info = {"loss": "hcnet", "disease_class_weights": dict(zip(dis.labels, [round(float(x), 4) for x in w]))}

    def criterion(outputs, batch):
        return hcnet_loss(outputs, batch["targets"], w)
    return criterion, info


def hcnet_loss(outputs: dict, targets: dict, disease_weight: torch.Tensor | None = None) -> tuple[torch.Tensor, dict]:
    la = weighted_ce(outputs["anatomy"], targets["anatomy"])
    lc = weighted_ce(outputs["category"], targets["category"])
    ld = weighted_ce(outputs["disease"], targets["disease"], disease_weight)
    return la + lc + ld, {"anatomy": la.detach(), "category": lc.detach(), "disease": ld.detach()}


BRAIN_MRI_MAPPING_TEXT = ("Brain-MRI folders -> hcnet_brain_mri: every image anatomy Brain; notumor -> category "
                          "normal; glioma, meningioma, pituitary -> category tumour; disease = folder name.")


def card_extras(card: dict) -> dict:
    w = (card.get("loss") or {}).get("disease_class_weights")
    return {"Disease class weights (N / (C n_i), training split)": w} if w else {}


SPEC = register(ModelSpec(
    id="hcnet", name="HC-Net", modality="MRI", task="hierarchical", order=0,
    paper="Hierarchical Context-Aware Network (HC-Net): A Multi-Task Learning Approach for Robust MRI Disease Diagnosis",
    doi="no DOI in the paper text, which names no authors or venue",
    builder=HCNet,
    variants={
        "paper": Variant("paper", 224, "hcnet_paper", {"backbone": "resnet18"}, pretrained=True, data="mri:PATH",
                         description="ResNet-18 (ImageNet), 224x224, 4x2x40 taxonomy."),
        "demo": Variant("demo", 112, "hcnet_brain_mri", {"backbone": "resnet10"}, data="sample:brain-mri",
                        train={"epochs": 6, "batch_size": 32, "lr": 1e-3},
                        description="ResNet-10 (BasicBlock [1,1,1,1]), 112x112, brain-MRI sample taxonomy (1x2x4)."),
    },
    dicom_modalities=("MR",),
    cam_layer="layer4", dropout="dropout (before the three heads; p=0.3, not in the paper, added for MC dropout)",
    lrp="resnet-canonizer",
    train_defaults={"optimizer": "adam", "lr": 1e-4, "betas": (0.9, 0.999), "eps": 1e-8, "scheduler": "constant",
                    "batch_size": 64, "epochs": 15, "loss": "hcnet", "augment": ["hflip", "rotate15", "translate0.1"],
                    "select": "val_disease_acc"},
    notes="Head sizes come from the taxonomy (the paper's text says 3 categories in one place, 2 in another).",
    ood_probes=("nih-cxr-1000/**/*.png", "nih-cxr-512/*.png", "dicom/*.dcm"),
    loss=build_loss, predictor=HCNetPredictor,
    data=DataMapping(texts={"sample:brain-mri": BRAIN_MRI_MAPPING_TEXT}),
    panel="hcview.ui.panels.hcnet:render", card_extras=card_extras,
    validity_data=("sample:phantoms", "disease"),
))
