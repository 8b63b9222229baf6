"""Grad-CAM for EVERY output of a case with ONE pass through the backbone.

``model.cam_split`` returns the activation ``A`` of the Grad-CAM layer and ``top_fn``, the part of
the network above it. The backbone runs once without a graph; ``A`` is detached and marked as a
leaf, ``top_fn(A)`` builds a small graph, and ``torch.autograd.grad`` of each output w.r.t. ``A``
walks only that small graph (``retain_graph``), instead of a full backward through the backbone per
label as the reference CIHMLC code does (21 passes). Channel weights are the spatial mean of the gradient
(Grad-CAM). Post-processing, ``scale``:

- ``"max"`` (default; the CIHMLC authors' procedure): ReLU, divide by the map's maximum, resize to the input.
  No min-max: a min-max before the 0.5 clip moves which pixels survive it.
- ``"minmax"``: pytorch-grad-cam's own (ReLU, min-max, resize, min-max), so the maps equal
  ``gradcam(..., 'gradcam')`` per label (tested with allclose).
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .guard import model_lock


def all_label_cams(model: nn.Module, image: torch.Tensor, targets=None, meta=None, meta_mask=None, text=None,
                   return_outputs: bool = False, scale: str = "max"):
    """CAMs (T, H, W) in [0, 1] for ``targets`` (default: every classification output,
    ``label_space.all_outputs()``). With ``return_outputs`` also returns the model's output dict (one forward,
    no dropout)."""
    ls = model.label_space
    resolved = ls.all_outputs() if targets is None else [ls.resolve(t) for t in targets]
    with model_lock(model):
        was_training = model.training
        model.eval()
        try:
            with torch.no_grad():
                act, top_fn = model.cam_split(image, meta, meta_mask, text)
            cams, out = cams_from_activation(act, top_fn, resolved, image.shape[-2:], scale)
        finally:
            model.train(was_training)
    if return_outputs:
        return cams, out
    return cams


def cams_from_activation(act: torch.Tensor, top_fn, resolved, size, scale: str = "max"):
    """Grad-CAMs from the CAM layer's activation ``act`` and ``top_fn`` (activation -> ``{head: logits}``): one small
    graph above the CAM layer, one gradient per target through it. Returns (T, H, W) maps and the output dict.
    Call under the model's lock with the model in eval mode."""
    from pytorch_grad_cam.utils.image import scale_cam_image

    h, w = size
    act = act.detach().requires_grad_(True)
    with torch.enable_grad():
        out = top_fn(act)
        ys = [out[head][0, idx] for head, idx, _ in resolved]
        grads = [torch.autograd.grad(y, act, retain_graph=i < len(ys) - 1)[0] for i, y in enumerate(ys)]
    out = {k: v.detach() for k, v in out.items()}
    if not ys:
        return np.zeros((0, h, w), np.float32), out
    a = act.detach()[0]  # (C, h, w)
    g = torch.stack([gr[0] for gr in grads])  # (T, C, h, w)
    weights = g.mean(dim=(2, 3))  # (T, C)
    cams = torch.einsum("tc,chw->thw", weights, a).cpu().numpy()
    cams = np.maximum(cams, 0)
    if scale == "minmax":
        # exactly pytorch-grad-cam's per-layer (min-max + resize) then multi-layer aggregation (min-max again)
        cams = scale_cam_image(np.maximum(scale_cam_image(cams, (w, h)), 0)).astype(np.float32)
    else:
        cams = np.stack([max_resize(c, (h, w)) for c in cams])
    return cams, out


def max_resize(cam: np.ndarray, shape) -> np.ndarray:
    """ReLU, divide by the maximum (an all-zero map stays zero), resize bilinearly to ``shape`` (H, W)."""
    import cv2

    c = np.maximum(np.asarray(cam, dtype=np.float32), 0)
    m = float(c.max())
    if m > 0:
        c = c / m
    return cv2.resize(c, (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR).clip(0, 1).astype(np.float32)


def per_label_cams_reference(model: nn.Module, image: torch.Tensor, targets=None, **kw) -> np.ndarray:
    """The reference approach: one full pytorch-grad-cam backward per label (for benchmarks/tests)."""
    from .gradcam import gradcam

    ls = model.label_space
    targets = [(hd, i) for hd, i, _ in ls.all_outputs()] if targets is None else targets
    return gradcam(model, image, targets, "gradcam", **kw)
