"""Res-MTNet (residual multi-task nodule network): two backbones (paper: DenseNet-161 and
EfficientNet-B7), pooled features concatenated -> shared FC + ReLU + Dropout -> residual block
y = F(x) + x -> heads: subtlety, state, position (Z), diagnosis (softmax) and x, y, size (regression
in [0, 1], sigmoid). Grad-CAM target: the DenseNet branch's last feature map (``backbone_a``).
"""
from __future__ import annotations

import torch
from torch import nn

from . import backbones
from .base import HCModel
from .labels import LabelSpace


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
