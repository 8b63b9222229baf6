"""HC-Net (hierarchical context-aware network, MRI): ResNet-18 + three heads (anatomy, category, disease).

Head sizes come from the taxonomy. ResNet-18 has no dropout, so (as NOTES.md says) a Dropout
sits before the heads for MC dropout; the heads are independent linear layers on the 512-d GAP.
"""
from __future__ import annotations

import torch
from torch import nn

from . import backbones
from .base import HCModel
from .labels import LabelSpace


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
