"""HC-Net (hierarchical context-aware network, MRI): ResNet-18 + three heads (anatomy, category, disease).

Head sizes come from the taxonomy. ResNet-18 has no dropout, so (as NOTES.md says) a Dropout
sits before the heads for MC dropout; the heads are independent linear layers on the 512-d GAP.

``flat=True`` is the paper's ablation baseline: the same backbone with one head (disease) only. It still
answers every head of the label space: a parent's probability is the sum of its diseases' probabilities
(returned as log-probabilities, i.e. logits of a softmax), so it is evaluated exactly like HC-Net.
"""
from __future__ import annotations

import torch
from torch import nn

from . import backbones
from .base import HCModel
from .labels import LabelSpace


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
        parent = lambda mask: torch.logsumexp(logp[:, None, :] + mask, dim=2)  # noqa: E731
        return {"anatomy": parent(self._anatomy_mask), "category": parent(self._category_mask), "disease": d}

    def cam_split(self, image, meta=None, meta_mask=None, text=None):
        act = self._trunk(image)  # = output of "layer4"
        return act, lambda a: self.forward_head(torch.flatten(self.pool(a), 1))
