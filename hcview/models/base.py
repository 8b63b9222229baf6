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


def to_probs(out: dict[str, torch.Tensor], label_space: LabelSpace) -> dict[str, torch.Tensor]:
    """Head logits -> probabilities (softmax / sigmoid); regression heads are already in [0, 1]."""
    res = {}
    for h in label_space.heads:
        y = out[h.name].float()
        res[h.name] = y.softmax(-1) if h.kind == "softmax" else torch.sigmoid(y) if h.kind == "sigmoid" else y
    return res


class OODStats(nn.Module):
    """The out-of-distribution statistics of a checkpoint (see :mod:`hcview.metrics.ood`), kept as buffers so they
    travel inside the sha256-checked weights file (``ood.*`` entries of the state dict)."""

    def __init__(self, means: torch.Tensor, precision: torch.Tensor, threshold: float):
        super().__init__()
        self.register_buffer("means", torch.as_tensor(means, dtype=torch.float32))
        self.register_buffer("precision", torch.as_tensor(precision, dtype=torch.float32))
        self.register_buffer("threshold", torch.tensor(float(threshold), dtype=torch.float64))

    @classmethod
    def from_state(cls, state: dict) -> "OODStats":
        return cls(state["ood.means"], state["ood.precision"], float(state["ood.threshold"]))
