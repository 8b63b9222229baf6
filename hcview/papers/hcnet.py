"""HC-Net (hierarchical context-aware network, MRI), everything paper-specific in one place: the
architecture (ResNet-18 + three heads: anatomy, category, disease), its variants, the loss, the
predictor's result structure, the data mapping and the Case-review panel (``hcview/ui/panels/hcnet.py``).

Head sizes come from the taxonomy. ResNet-18 has no dropout, so (as NOTES.md says) a Dropout
sits before the heads for MC dropout; the heads are independent linear layers on the 512-d GAP.

``flat=True`` is the paper's ablation baseline: the same backbone with one head (disease) only. It still
answers every head of the label space: a parent's probability is the sum of its diseases' probabilities
(returned as log-probabilities, i.e. logits of a softmax), so it is evaluated exactly like HC-Net.
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
                 pretrained: bool = False, flat: bool = False):
        super().__init__(label_space)
        self.flat = bool(flat)
        net, self.weights, width = backbones.resnet(backbone, pretrained)
        self.stem = nn.Sequential(net.conv1, net.bn1, net.relu, net.maxpool)
        self.layer1, self.layer2, self.layer3, self.layer4 = net.layer1, net.layer2, net.layer3, net.layer4
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout)
        if self.flat:
            dis = label_space.head("disease")
            self.heads = nn.ModuleDict({"disease": nn.Linear(width, dis.size)})
            for level, name in ((0, "anatomy"), (1, "category")):
                h = label_space.head(name)
                member = torch.tensor([[label_space.parent_of(d)[level] == p for d in dis.labels] for p in h.labels])
                self.register_buffer(f"_{name}_mask", torch.where(member, 0.0, float("-inf")), persistent=False)
        else:
            self.heads = self._heads_from_space(width)

    def _trunk(self, image):
        return self.layer4(self.layer3(self.layer2(self.layer1(self.stem(image)))))

    def forward_features(self, image, meta=None, meta_mask=None, text=None):
        return torch.flatten(self.pool(self._trunk(image)), 1)

    def forward_head(self, feats):
        if not self.flat:
            return self._apply_heads(self.dropout(feats))
        d = self.heads["disease"](self.dropout(feats))
        logp = torch.log_softmax(d.float(), 1)
        return {"anatomy": self._parent(logp, self._anatomy_mask), "category": self._parent(logp, self._category_mask),
                "disease": d}

    @staticmethod
    def _parent(logp: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """log of the summed probabilities of each parent's diseases (mask: 0 for members, -inf otherwise)."""
        return torch.logsumexp(logp[:, None, :] + mask, dim=2)

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
    flat = cfg.get("loss") == "hcnet_flat" or bool((cfg.get("model_kwargs") or {}).get("flat"))
    info = {"loss": "hcnet_flat" if flat else "hcnet",
            "disease_class_weights": dict(zip(dis.labels, [round(float(x), 4) for x in w]))}

    def criterion(outputs, batch):
        if flat:  # the ablation baseline: class-weighted CE on its one (disease) head
            ld = weighted_ce(outputs["disease"], batch["targets"]["disease"], w)
            return ld, {"disease": ld.detach()}
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
    from hcview.models.catalog import ablation_text

    out = {}
    w = (card.get("loss") or {}).get("disease_class_weights")
    if w:
        out["Disease class weights (N / (C n_i), training split)"] = w
    if card.get("ablation"):
        out["The paper's ablation, computed"] = ablation_text("HC-Net", card["ablation"]).split("): ", 1)[-1]
    if card.get("notes"):
        out["Deviations from the paper"] = card["notes"]
    return out


SPEC = register(ModelSpec(
    id="hcnet", name="HC-Net", modality="MRI", task="hierarchical", order=0,
    paper="Hierarchical Context-Aware Network (HC-Net): A Multi-Task Learning Approach for Robust MRI Disease Diagnosis",
    doi="no DOI in the paper text, which names no authors or venue",
    builder=HCNet,
    variants={
        "paper": Variant("paper", 224, "hcnet_paper", {"backbone": "resnet18"}, pretrained=True, data="mri:PATH",
                         description="ResNet-18 (ImageNet), 224x224, 4x2x40 taxonomy."),
        "demo": Variant("demo", 128, "hcnet_brain_mri", {"backbone": "resnet10"}, data="sample:brain-mri",
                        train={"epochs": 4, "batch_size": 32, "lr": 1e-3, "scheduler": "cosine"},
                        description="ResNet-10 (BasicBlock [1,1,1,1]) from scratch, 128x128, brain-MRI sample taxonomy "
                                    "(1x2x4); Adam 1e-3 with cosine decay, batch 32, 4 epochs."),
    },
    dicom_modalities=("MR",),
    cam_layer="layer4", dropout="dropout (before the three heads; p=0.3, not in the paper, added for MC dropout)",
    lrp="resnet-canonizer",
    train_defaults={"optimizer": "adam", "lr": 1e-4, "betas": (0.9, 0.999), "eps": 1e-8, "scheduler": "constant",
                    "batch_size": 64, "epochs": 15, "loss": "hcnet", "augment": ["hflip", "rotate15", "translate0.1"],
                    "select": "val_disease_acc"},
    notes="Head sizes come from the taxonomy (the paper's text says 3 categories in one place, 2 in another).",
    ood_probes=("nih-cxr-1000/**/*.png", "nih-cxr-512/*.png", "dicom/*.dcm"),
    # the demo's validation part comes from the training split, whose images are near-copies of each other: a 5%
    # false-alarm rate there flagged 21% of the independent test split, 1% flags 7% (and every chest X-ray)
    ood_false_alarm=0.01,
    ood_note="threshold at 1% false alarms on validation: the validation part is drawn from the training split "
             "(near-copies of training images), where 5% flagged 21% of the independent test split",
    loss=build_loss, predictor=HCNetPredictor,
    data=DataMapping(texts={"sample:brain-mri": BRAIN_MRI_MAPPING_TEXT}),
    panel="hcview.ui.panels.hcnet:render", card_extras=card_extras,
    validity_data=("sample:phantoms", "disease"),
))
