"""CIHMLC (hierarchical multi-label chest X-ray, HBCE loss), as the authors' reference code builds it:
DenseNet-121 features -> Conv2d(512, 3x3) -> BatchNorm -> ReLU -> GAP -> Dense(128) -> ReLU
-> Dropout(0.5) -> Dense(21) (sigmoid applied by the loss / predictor).
Grad-CAM target: the added 512-channel conv (``head_conv``).
"""
from __future__ import annotations

import torch
from torch import nn

from . import backbones
from .base import HCModel
from .labels import LabelSpace


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
        return self.head_conv(self.backbone_act(self.backbone(image)))

    def _after_conv(self, a):
        return self.fc_act(self.fc(torch.flatten(self.pool(self.head_act(self.head_bn(a))), 1)))

    def forward_features(self, image, meta=None, meta_mask=None, text=None):
        return self._after_conv(self._to_conv(image))

    def forward_head(self, feats):
        return self._apply_heads(self.dropout(feats))

    def cam_split(self, image, meta=None, meta_mask=None, text=None):
        act = self._to_conv(image)
        return act, lambda a: self.forward_head(self._after_conv(a))
