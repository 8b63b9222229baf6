"""The one interface every paper model is adapted to (torchxrayvision style).

``model(image, meta=None, meta_mask=None, text=None) -> dict[head_name, Tensor]``: logits for
softmax/sigmoid heads, values in [0, 1] for the regression head.

The forward pass is split in two so that MC dropout and "all labels" Grad-CAM can reuse work:

- ``forward_features`` computes everything below the first dropout module (the backbone);
- ``forward_head`` computes the rest (dropout, heads). MC dropout runs it N times on cached features.
- ``cam_split`` returns the activation of the Grad-CAM layer (named in the spec) and a function
  that maps that activation to the outputs, so gradients for every output flow only through the
  part above the CAM layer.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from .backbones import WeightsResult
from .labels import LabelSpace


class HCModel(nn.Module):
    label_space: LabelSpace
    weights: WeightsResult

    def __init__(self, label_space: LabelSpace):
        super().__init__()
        self.label_space = label_space
        self.weights = WeightsResult(False)

    # -- to be implemented by each paper model ------------------------------------------
    def forward_features(self, image, meta=None, meta_mask=None, text=None) -> torch.Tensor:
        raise NotImplementedError

    def forward_head(self, feats: torch.Tensor) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def cam_split(self, image, meta=None, meta_mask=None, text=None) -> tuple[torch.Tensor, Callable]:
        raise NotImplementedError

    # -- shared ----------------------------------------------------------------------------
    def forward(self, image, meta=None, meta_mask=None, text=None) -> dict[str, torch.Tensor]:
        return self.forward_head(self.forward_features(image, meta, meta_mask, text))

    def _heads_from_space(self, in_features: int) -> nn.ModuleDict:
        """One Linear per head, sized from the label space."""
        return nn.ModuleDict({h.name: nn.Linear(in_features, h.size) for h in self.label_space.heads})

    def _apply_heads(self, z: torch.Tensor) -> dict[str, torch.Tensor]:
        out = {}
        for h in self.label_space.heads:
            y = self.heads[h.name](z)
            out[h.name] = torch.sigmoid(y) if h.kind == "regression" else y
        return out


def dropout_modules(model: nn.Module) -> list[nn.Module]:
    return [m for m in model.modules() if isinstance(m, nn.modules.dropout._DropoutNd) and m.p > 0]
