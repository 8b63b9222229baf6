"""Grad-CAM / Grad-CAM++ / EigenCAM for any output of any paper model, via pytorch-grad-cam.

pytorch-grad-cam expects a model returning one tensor; :class:`ConcatOutputs` wraps an HCModel
(whose forward returns ``{head: logits}``) and returns the concatenated outputs, and
:class:`OutputTarget` selects one column (head + index). The target layer is the one the registry
names (``spec.cam_layer``, resolved with ``get_submodule``). The call runs under the model's lock and
pytorch-grad-cam's hooks are released before it returns, so the shared model is left untouched.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from hcview.errors import InputError

from .guard import model_lock

METHODS = ("gradcam", "gradcam++", "eigencam")


class ConcatOutputs(nn.Module):
    """``HCModel`` -> a single (B, K) tensor: every head's outputs side by side (heads in label-space order)."""

    def __init__(self, model: nn.Module, meta=None, meta_mask=None, text=None):
        super().__init__()
        self.model = model
        self.meta, self.meta_mask, self.text = meta, meta_mask, text

    def forward(self, image):
        out = self.model(image, self.meta, self.meta_mask, self.text)
        return torch.cat([out[h.name] for h in self.model.label_space.heads], 1)


def output_columns(label_space) -> dict[tuple[str, int], int]:
    """(head, index) -> column of :class:`ConcatOutputs`."""
    cols, k = {}, 0
    for h in label_space.heads:
        for i in range(h.size):
            cols[(h.name, i)] = k
            k += 1
    return cols


class OutputTarget:
    """pytorch-grad-cam target: column ``col`` of the concatenated output."""

    def __init__(self, col: int):
        self.col = col

    def __call__(self, model_output):
        return model_output[..., self.col]


def cam_layer(model: nn.Module) -> nn.Module:
    return model.get_submodule(model.spec.cam_layer)


def _cam_class(method: str):
    from pytorch_grad_cam import EigenCAM, GradCAM, GradCAMPlusPlus

    m = method.lower().replace("_", "").replace("-", "")
    table = {"gradcam": GradCAM, "gradcam++": GradCAMPlusPlus, "gradcampp": GradCAMPlusPlus,
             "gradcamplusplus": GradCAMPlusPlus, "eigencam": EigenCAM}
    if m not in table:
        raise InputError(f"unknown CAM method {method!r}; choose from {', '.join(METHODS)}")
    return table[m]


def gradcam(model: nn.Module, image: torch.Tensor, targets, method: str = "gradcam", meta=None, meta_mask=None,
            text=None) -> np.ndarray:
    """CAMs for one case (``image`` (1,3,H,W)) and each target -> float32 array (T, H, W) in [0, 1]
    (pytorch-grad-cam's ReLU + min-max normalisation, resized to the input)."""
    cls = _cam_class(method)
    ls = model.label_space
    cols = output_columns(ls)
    resolved = [ls.resolve(t) for t in targets]
    maps = []
    with model_lock(model):
        was_training = model.training
        model.eval()
        wrapper = ConcatOutputs(model, meta, meta_mask, text).eval()
        try:
            with cls(model=wrapper, target_layers=[cam_layer(model)]) as cam:
                for head, idx, _ in resolved:
                    maps.append(cam(input_tensor=image, targets=[OutputTarget(cols[(head, idx)])])[0])
        finally:
            model.zero_grad(set_to_none=True)
            model.train(was_training)
    return np.stack(maps).astype(np.float32)
